"""What an app never needs from a standard library: removed from every bundled runtime to save space."""

from __future__ import annotations

import shutil
from pathlib import Path

# Top-level stdlib entries no packaged app imports at run time (tests, IDLE, Tk, installers of pip, 2to3).
UNNEEDED_STDLIB = (
    "test", "idlelib", "tkinter", "turtledemo", "turtle.py", "ensurepip", "lib2to3", "pydoc_data",
    "venv", "__phello__", "config-*",
)


def prune_stdlib(stdlib: Path) -> list[str]:
    """Remove UNNEEDED_STDLIB entries and every __pycache__ below `stdlib`; returns what was removed."""
    removed = []
    for pattern in UNNEEDED_STDLIB:
        for entry in stdlib.glob(pattern):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry.name)
    for cache in list(stdlib.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    return sorted(removed)
