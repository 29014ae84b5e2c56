"""Copies by hard link: trees Kiln only reads (the runtime and installed-dependency caches, staged bundles) are
shared instead of copied, with a real copy where a link cannot be made (another file system, no permission)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def link_or_copy(source: str | Path, dest: str | Path) -> None:
    """Hard-link `source` at `dest`, or copy it (with its metadata) when linking fails."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def link_tree(source: Path, dest: Path, dirs_exist_ok: bool = False) -> None:
    """Copy a tree by hard links where possible (symlinks stay symlinks)."""
    shutil.copytree(source, dest, symlinks=True, copy_function=link_or_copy, dirs_exist_ok=dirs_exist_ok)
