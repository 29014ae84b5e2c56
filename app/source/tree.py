"""The user's folder on disk: which folders never hold the app's files, and one hash of a tree's files.

One rule for everything that walks the user's folder: the no-op rebuild check (kiln.engine.fingerprint), the
`kiln try` bundle's staleness (kiln.engine.tryout), the copy the app's wheel is built from (kiln.source.app_wheel)
and detection (kiln.source.detect). `build/` and `dist/` are build output only at the top of the tree, where
setuptools and the other backends put them: a `pkg/build/` package is the app's own code and counts.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Protocol

SKIPPED_NAMES = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox",
    ".venv", "venv", "node_modules",
})
"""Folders that never hold the app's files, at any depth: version control, caches, environments."""
TOP_LEVEL_OUTPUT = frozenset({"build", "dist"})
"""Build output, skipped only directly below the tree's root (stale `build/lib` trees leak deleted files into
setuptools wheels)."""


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def skipped_dir(folder: Path, root: Path) -> bool:
    """Whether `folder` (below `root`) holds no file of the app: SKIPPED_NAMES, `*.egg-info`, a virtual environment
    (a folder with pyvenv.cfg, whatever its name), and TOP_LEVEL_OUTPUT directly below `root`."""
    name = folder.name
    return (name in SKIPPED_NAMES or name.endswith(".egg-info")
            or (name in TOP_LEVEL_OUTPUT and folder.parent == root)
            or (folder / "pyvenv.cfg").exists())


def walk_files(root: Path, skip: Collection[Path] = ()) -> Iterator[Path]:
    """Every file below `root` in a stable order, leaving out skipped folders and the files and folders in `skip`
    (compared as given and, for folders, resolved). Symbolic links to folders are not followed."""
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not skipped_dir(here / d, root)
                         and here / d not in skip and (here / d).resolve() not in skip)
        for name in sorted(files):
            if here / name not in skip:
                yield here / name


def update_digest(digest: Digest, root: Path, skip: Collection[Path] = ()) -> None:
    """Add each file of `root` (walk_files) to `digest` by relative path, size and modification time, as make
    and PyInstaller judge sources (a linked file by its target's)."""
    for path in walk_files(root, skip):
        try:
            info = path.stat()
        except OSError:
            try:
                info = path.lstat()  # a dangling link
            except OSError:
                continue  # removed while walking
        digest.update(f"{path.relative_to(root).as_posix()}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
