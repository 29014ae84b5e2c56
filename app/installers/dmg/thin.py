"""Thinning: universal Mach-O files cut down to the one architecture a DMG is for.

A DMG is built for arm64 or x86_64, yet wheels are often universal2 (PySide6 ships both architectures of Qt): the
other architecture's code would only take space. Each universal file that holds the target architecture is replaced
by that slice alone, byte for byte as it was inside (a slice carries its own signature, which stays valid); files
without it are reported, because they cannot load on the target Mac.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kiln.installers.dmg.macho import MachO, MachOError
from kiln.support.atomic import atomic_path


@dataclass
class ThinReport:
    files: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    foreign: list[str] = field(default_factory=list)
    """Mach-O files (relative paths) without code for the target architecture."""

    @property
    def saved(self) -> int:
        return self.bytes_before - self.bytes_after


def thin_file(path: Path, macho: MachO, arch: str) -> int:
    """Replace the universal file `path` by its `arch` slice (its mode kept); returns the bytes saved."""
    piece = next(s for s in macho.slices if s.arch == arch)
    with path.open("rb") as source, atomic_path(path) as temp, temp.open("wb") as out:
        source.seek(piece.offset)
        left = piece.size
        while left:
            chunk = source.read(min(left, 1 << 20))
            if not chunk:
                raise MachOError(f"{path.name}: the {arch} slice is cut short")
            out.write(chunk)
            left -= len(chunk)
    return macho.size - piece.size


def thin_files(files: list[tuple[str, Path, MachO]], arch: str) -> ThinReport:
    """Thin every universal file in `files` ((relative path, path, parsed file)) that holds `arch`."""
    report = ThinReport()
    for relpath, path, macho in files:
        if arch not in macho.archs:
            report.foreign.append(f"{relpath} ({', '.join(macho.archs)})")
        elif macho.universal:
            report.files += 1
            report.bytes_before += macho.size
            report.bytes_after += macho.size - thin_file(path, macho, arch)
    return report
