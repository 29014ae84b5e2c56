"""Thinning universal Mach-O files to the DMG's architecture (thin.py), on markupsafe's real universal2 module."""

from __future__ import annotations

import shutil
from pathlib import Path

import lief
from kit.macos import recompute_signatures

from kiln.installers.dmg.macho import check_file, read_macho
from kiln.installers.dmg.thin import thin_files


def test_universal_files_become_their_target_slice(modules: dict[str, Path], tmp_path: Path) -> None:
    universal, thin = tmp_path / "uni.so", tmp_path / "thin.so"
    shutil.copy(modules["universal2"], universal)
    shutil.copy(modules["arm64"], thin)
    universal.chmod(0o755)
    original = modules["universal2"].read_bytes()
    fat = lief.MachO.parse(str(modules["universal2"]))
    assert fat is not None
    arm64 = next(b for b in fat if b.header.cpu_type == lief.MachO.Header.CPU_TYPE.ARM64)
    size = read_macho(modules["universal2"]).slices[1].size

    files = [(p.name, p, read_macho(p)) for p in (universal, thin)]
    report = thin_files(files, "arm64")

    assert (report.files, report.foreign) == (1, [])
    assert (report.bytes_before, report.bytes_after) == (len(original), size) and report.saved == len(original) - size
    assert universal.read_bytes() == original[arm64.fat_offset:arm64.fat_offset + size]  # the slice, byte for byte
    assert universal.stat().st_mode & 0o777 == 0o755
    assert thin.read_bytes() == modules["arm64"].read_bytes()  # already thin: untouched
    macho, checks = check_file(universal)
    assert not macho.universal and macho.archs == ("arm64",)
    assert checks[0].state == "ad hoc"  # the slice's own (linker) signature still holds
    (recomputed,) = recompute_signatures(universal)
    assert recomputed.pages == recomputed.pages_matching
    assert list(tmp_path.glob(".*")) == []  # no temporary file left beside


def test_files_without_the_target_architecture_are_reported_and_kept(modules: dict[str, Path],
                                                                     tmp_path: Path) -> None:
    thin = tmp_path / "thin.so"
    shutil.copy(modules["arm64"], thin)
    universal = tmp_path / "uni.so"
    shutil.copy(modules["universal2"], universal)
    report = thin_files([("a/thin.so", thin, read_macho(thin)), ("b/uni.so", universal, read_macho(universal))],
                        "x86_64")
    assert report.foreign == ["a/thin.so (arm64)"]
    assert report.files == 1 and read_macho(universal).archs == ("x86_64",)
    assert thin.read_bytes() == modules["arm64"].read_bytes()
