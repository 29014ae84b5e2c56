"""Trimming the ICU data of Qt's Linux wheel: the real libicudata of the installed PySide6, read back item by item,
and Qt's own ICU calls (collation, converters, time-zone names, case mapping) giving the same answers after."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiln.engine.qt_icu import (
    DROPPED_FILES,
    DROPPED_TREES,
    list_items,
    other_icu_imports,
    trim_bundle_icu,
    trim_library,
)

# What QtCore asks ICU for, printed as JSON: sort orders (ucol_*), converters (ucnv_*), time-zone names (ucal_*),
# locale-aware upper case (u_strToUpper).
PROBE = r"""
import functools, json
from PySide6.QtCore import QCollator, QLocale, QStringConverter, QStringDecoder, QTimeZone
words = ["Zebra", "Öl", "apfel", "Äpfel", "Ober", "zucker", "Ångström"]
out = {f"sorted {loc}": sorted(words, key=functools.cmp_to_key(QCollator(QLocale(loc)).compare))
       for loc in ("de_DE", "sv_SE", "tr_TR")}
out["converters"] = {n: [QStringDecoder(n).isValid(), QStringDecoder(n).name()]
                     for n in ("Shift_JIS", "KOI8-R", "GB18030", "windows-1251", "EUC-KR", "no-such-codec")}
out["codecs"] = sorted(QStringConverter.availableCodecs())
tz = QTimeZone(b"Europe/Berlin")
out["tz"] = [tz.displayName(QTimeZone.TimeType.StandardTime, QTimeZone.NameType.LongName, QLocale(name))
             for name in ("de_DE", "ja_JP", "en_US")]
out["upper"] = [QLocale("tr_TR").toUpper("istanbul"), QLocale("en_US").toUpper("istanbul")]
print(json.dumps(out, ensure_ascii=False))
"""


def _site() -> Path:
    pyside6 = pytest.importorskip("PySide6")
    assert pyside6.__file__
    return Path(pyside6.__file__).parent.parent


def _icu_data(site: Path) -> Path:
    found = sorted((site / "PySide6" / "Qt" / "lib").glob("libicudata.so.*"))
    if not found:
        pytest.skip("this PySide6 ships no ICU data library")
    return found[0]


def test_trimming_removes_the_unused_trees_and_keeps_every_other_item_byte_for_byte(tmp_path: Path) -> None:
    original = _icu_data(_site())
    library = tmp_path / original.name
    shutil.copyfile(original, library)
    (tmp_path / "cache-link").hardlink_to(library)  # as Kiln's cache of installed dependencies links it
    before = list_items(library)

    removed, zeroed = trim_library(library)

    after = list_items(library)
    dropped = {name for name in before if name.split("/")[1] in DROPPED_TREES
               or (name.count("/") == 1 and DROPPED_FILES.match(name.split("/")[1]))}
    assert any(n.endswith("/unames.icu") for n in dropped) and any(n.endswith("/brkitr/word.brk") for n in dropped)
    assert removed == len(dropped) > 1000 and zeroed > 10_000_000
    assert set(after) == set(before) - dropped
    # An item's extent runs to the next listed item, so one followed by removed items now ends in their zeros.
    assert all(after[name].startswith(before[name]) and not after[name][len(before[name]):].strip(b"\0")
               for name in after)
    assert any(name.split("/")[1] == "coll" for name in after) and any(name.endswith(".cnv") for name in after)
    old, new = original.read_bytes(), library.read_bytes()
    assert len(new) == len(old), "the library keeps its size and layout"
    # Outside the table of contents (it starts with the item count, the first byte that changes), every byte is
    # either unchanged or zeroed: masking the old bytes with "the new byte is not zero" gives the new bytes.
    page = next(i for i in range(0, len(old), 4096) if old[i:i + 4096] != new[i:i + 4096])
    toc = next(i for i in range(page, page + 4096) if old[i] != new[i])
    toc_end = toc + 4 + 8 * len(before)
    rest_old, rest_new = old[:toc] + old[toc_end:], new[:toc] + new[toc_end:]
    nonzero = rest_new.translate(bytes([0] + [255] * 255))
    assert int.from_bytes(rest_old, "little") & int.from_bytes(nonzero, "little") == int.from_bytes(rest_new, "little")
    assert (tmp_path / "cache-link").read_bytes() == old, "a hard link keeps the original"


def test_a_package_calling_other_icu_functions_keeps_the_data_whole(tmp_path: Path) -> None:
    site = _site()
    packages = tmp_path / "packages"
    shutil.copytree(site / "PySide6" / "Qt" / "lib", packages / "PySide6" / "Qt" / "lib",
                    ignore=lambda folder, names: [n for n in names if not n.startswith(("libicu", "libQt6Core"))])
    assert other_icu_imports(packages) == []  # QtCore calls converters, collation, time zones, case mapping only
    # ICU's i18n library calls break iterators and number formatting: as another package's library, it would
    # need data the trimming removes.
    i18n = next((packages / "PySide6" / "Qt" / "lib").glob("libicui18n.so.*"))
    shutil.copyfile(i18n, packages / "libother-icu-user.so")
    data = _icu_data(site)
    result = trim_bundle_icu(packages, packages / "PySide6")
    assert result is not None and result.skipped.startswith("kept whole: libother-icu-user.so: ")
    assert (packages / "PySide6" / "Qt" / "lib" / data.name).read_bytes() == data.read_bytes()


@pytest.mark.slow
def test_qt_answers_the_same_with_the_trimmed_data(tmp_path: Path) -> None:
    """The probe through the installed PySide6 and through a copy whose ICU data is trimmed: the same JSON. With
    the collation, zone and top-level items removed too the answers change, so the probe does reach ICU's data."""
    site = _site()

    def probe(root: Path) -> dict[str, object]:
        code = f"import sys; sys.path.insert(0, {str(root)!r})\n{PROBE}"
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120,
                                env=env, check=False)
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))

    copies = {}
    for name in ("trimmed", "overtrimmed"):
        copies[name] = tmp_path / name
        for package in ("PySide6", "shiboken6"):
            shutil.copytree(site / package, copies[name] / package, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
    trim_library(_icu_data(copies["trimmed"]))
    trim_library(_icu_data(copies["overtrimmed"]), (*DROPPED_TREES, "coll", "zone", ""))
    expected = probe(site)
    assert expected["sorted de_DE"] != expected["sorted sv_SE"] and len(expected["codecs"]) > 100  # type: ignore[arg-type]
    assert probe(copies["trimmed"]) == expected
    assert probe(copies["overtrimmed"]) != expected
