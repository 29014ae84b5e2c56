"""The glibc an AppImage payload needs, read at build time, checked against binutils' readelf."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from kit.testing import require_tools

from kiln.installers.appimage import glibc_need, sections, update
from kiln.installers.appimage.format import runtime_path
from kiln.support.errors import KilnError


def readelf_glibc_minor(path: Path) -> int:
    """The independent answer: the highest GLIBC_2.N in `readelf -V`'s version needs section."""
    out = subprocess.run(["readelf", "-V", "-W", str(path)], capture_output=True, text=True, check=True).stdout
    needs = out.split("Version needs section", 1)
    found = [int(m) for m in re.findall(r"Name: GLIBC_2\.(\d+)", needs[1])] if len(needs) == 2 else []
    return max(found, default=0)


def system_binaries() -> list[Path]:
    libdir = Path(sysconfig.get_config_var("LIBDIR") or "/usr/lib")
    candidates = [Path(sys.executable).resolve(), Path("/bin/ls"), Path("/usr/bin/readelf"),
                  *sorted(libdir.glob("libpython3*.so*"))[:1],
                  *sorted(Path(sysconfig.get_config_var("DESTSHARED") or "/nonexistent").glob("*.so"))[:12]]
    return [p for p in candidates if p.is_file()]


def test_needs_match_readelf() -> None:
    require_tools("readelf")
    binaries = system_binaries()
    assert len(binaries) >= 5
    for path in binaries:
        assert glibc_need.elf_glibc_minor(path) == readelf_glibc_minor(path), path


def test_payload_takes_the_newest_and_skips_symlinks_and_other_files(tmp_path: Path) -> None:
    binaries = system_binaries()
    newest = max(binaries, key=glibc_need.elf_glibc_minor)
    (tmp_path / "lib").mkdir()
    for index, path in enumerate(binaries):
        (tmp_path / "lib" / f"{index}.so").write_bytes(path.read_bytes())
    (tmp_path / "notes.txt").write_text("\x7fELF but text\n")
    (tmp_path / "short").write_bytes(b"\x7fELF\x02\x01")
    (tmp_path / "link").symlink_to("/nonexistent")
    assert glibc_need.payload_glibc(tmp_path) == f"2.{readelf_glibc_minor(newest)}"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "script.py").write_text("print('hi')\n")
    assert glibc_need.payload_glibc(empty) is None


def test_damaged_elf_files_read_as_needing_nothing(tmp_path: Path) -> None:
    data = bytearray(Path("/bin/ls").read_bytes())
    damaged = tmp_path / "damaged"
    damaged.write_bytes(bytes(data[:4096]))  # section table cut off
    assert glibc_need.elf_glibc_minor(damaged) == 0
    data[0x28:0x30] = (2**63).to_bytes(8, "little")  # section table far past the end
    damaged.write_bytes(bytes(data))
    assert glibc_need.elf_glibc_minor(damaged) == 0


def test_embed_read_and_blank_round_trip() -> None:
    shipped = runtime_path().read_bytes()
    assert glibc_need.read(shipped) == ""
    filled = glibc_need.embed(update.embed(shipped, "zsync|https://example.org/a.zsync"), "2.36")
    assert len(filled) == len(shipped)
    assert glibc_need.read(filled) == "2.36" and update.read(filled) == "zsync|https://example.org/a.zsync"
    assert sections.blank(filled, update.SECTION, glibc_need.SECTION) == shipped
    assert glibc_need.embed(shipped, None) == shipped
    # readelf (binutils) sees the section Kiln filled, with the text in it
    offset, size = sections.section_range(filled, glibc_need.SECTION) or (0, 0)
    assert size == 16 and filled[offset:offset + 5] == b"2.36\0"


def test_runtime_without_the_section_is_refused_with_a_hint() -> None:
    with pytest.raises(KilnError) as error:
        glibc_need.embed(Path("/bin/ls").read_bytes(), "2.36")
    assert ".kiln_glibc" in error.value.message and "KILN_APPIMAGE_RUNTIME" in (error.value.hint or "")
