"""Names as HFS+ stores them (hfs_names.py): Kiln's decomposition is the one xorriso writes, as 7-Zip reads it."""

from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path

import pytest
from kit.testing import find_tool

from kiln.installers.dmg.hfs_names import hfs_plus_name, use_hfs_plus_names
from kiln.installers.dmg.hfs_volume import make_dmg

NAMES = ["plain.txt", unicodedata.normalize("NFC", "é café.py"), unicodedata.normalize("NFD", "è.txt"),
         "Ω-ohm \u2126 \uf900 \u212b.dat", "Ångström 名前 한국어.json"]


@pytest.mark.parametrize(
    "name, expected",
    [("plain", "plain"), ("\u00e9", "e\u0301"), ("\u2126", "\u2126"), ("\uf900", "\uf900"), ("\u212b", "\u212b"),
     ("\uac00", "\u1100\u1161"), ("e\u0301", "e\u0301")],
    ids=["ascii", "e-acute", "ohm-kept", "cjk-compatibility-kept", "angstrom-kept", "hangul", "already"],
)
def test_hfs_plus_decomposition(name: str, expected: str) -> None:
    assert hfs_plus_name(name) == expected


def test_the_names_kiln_seals_are_the_names_xorriso_writes(tmp_path: Path) -> None:
    volume = tmp_path / "volume" / "App"
    volume.mkdir(parents=True)
    for name in NAMES:
        (volume / name).write_text(name)
    (volume / "caf\u00e9").mkdir()
    (volume / "caf\u00e9" / "\u00fc.txt").write_text("u")
    dmg = tmp_path / "names.dmg"
    make_dmg(tmp_path / "volume", "Names", dmg, epoch=946684800)
    listing = subprocess.run([find_tool("7z", "7zz"), "l", "-slt", "-sccUTF-8", str(dmg)], capture_output=True,
                             text=True, check=True).stdout
    written = {line[len("Path = "):] for line in listing.split("----------", 1)[1].splitlines()
               if line.startswith("Path = ")}
    assert use_hfs_plus_names(volume) == 4  # the names with composed characters outside the kept ranges
    ours = {f"Names/App/{p.relative_to(volume).as_posix()}" for p in volume.rglob("*")}
    assert ours <= written
