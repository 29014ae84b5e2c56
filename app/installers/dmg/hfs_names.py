"""File names as HFS+ stores them, so that the app's seal names its files the way a Mac will read them.

HFS+ keeps names decomposed (Unicode 3.2 canonical decomposition, except U+2000-U+2FFF, U+F900-U+FAFF and
U+2F800-U+2FAFF, which stay as they are); xorriso writes them so. A Mac reading the volume, or an APFS disk the app
is copied to, sees those names, and codesign looks each file of the seal up by it: a seal made with the composed
name (é as one character) would miss the file. So the .app's files are renamed to their HFS+ form before signing.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

_KEPT_RANGES = ((0x2000, 0x2FFF), (0xF900, 0xFAFF), (0x2F800, 0x2FAFF))


def hfs_plus_name(name: str) -> str:
    """`name` decomposed the way HFS+ stores it."""
    if name.isascii():
        return name
    return "".join(c if any(low <= ord(c) <= high for low, high in _KEPT_RANGES)
                   else unicodedata.ucd_3_2_0.normalize("NFD", c) for c in name)


def use_hfs_plus_names(root: Path) -> int:
    """Rename every file and folder under `root` to its HFS+ form (deepest first); returns how many were renamed."""
    renamed = 0
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in (*files, *dirs):
            decomposed = hfs_plus_name(name)
            if decomposed != name:
                os.rename(os.path.join(folder, name), os.path.join(folder, decomposed))
                renamed += 1
    return renamed
