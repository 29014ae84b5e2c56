"""Sizes for people and for reports: one unit system (binary: KiB, MiB, GiB) everywhere Kiln shows a size."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def human_size(size: float) -> str:
    """1536 → '1.5 KiB'; bytes stay whole numbers."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # not reached


def tree_size(path: Path) -> int:
    """Bytes used by the files under `path` (links are counted as links, never followed)."""
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total
