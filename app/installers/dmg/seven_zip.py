"""7-Zip, the reader `kiln inspect` lists a disk image's volume with and extracts its app with (Kiln's own reader
stops at the UDIF layer: the HFS+ volume it unpacks is 7-Zip's to read)."""

from __future__ import annotations

import shutil

NAMES = ("7z", "7zz")
"""Debian's 7zip package installs 7zz; p7zip and other systems call it 7z."""


def find_seven_zip() -> str | None:
    """The 7-Zip command on PATH, or None."""
    return next((name for name in NAMES if shutil.which(name)), None)


def listing_entries(listing: bytes) -> list[tuple[str, dict[str, str]]]:
    """(path, fields) of each file in a `7z l -slt` listing of the HFS+ volume (the UDIF layers come first)."""
    text = listing.decode(errors="replace")
    if "----------" not in text:
        return []
    entries: list[tuple[str, dict[str, str]]] = []
    for line in text.split("----------", 1)[1].splitlines():
        key, sep, value = line.partition(" = ")
        if sep and key == "Path":
            entries.append((value, {}))
        elif sep and entries:
            entries[-1][1][key] = value
    return entries
