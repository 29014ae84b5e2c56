"""Kiln's cache folder: where runtimes, wheels and rebuild products live, what a complete cached runtime is, and
cleaning up."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from kiln.runtimes.prune import prune_stdlib
from kiln.support.layers import BASES
from kiln.support.sizes import tree_size
from kiln.support.targets import TARGETS, Target

CACHE_ENV = "KILN_CACHE_DIR"
MARKER = "kiln-runtime.json"
"""Written into a runtime's folder last, once it is extracted, checked and pruned: its presence means complete."""
MARKER_VERSION = 1


def cache_root() -> Path:
    """Kiln's cache folder: $KILN_CACHE_DIR, or the user cache folder (e.g. ~/.cache/kiln on Linux)."""
    override = os.environ.get(CACHE_ENV, "").strip()
    return Path(override).expanduser() if override else Path(platformdirs.user_cache_dir("kiln"))


def runtimes_root(root: Path | None = None) -> Path:
    return (root or cache_root()) / "runtimes"


def wheels_root(root: Path | None = None) -> Path:
    """Where deps.install keeps wheels (one folder per target and Python version)."""
    return (root or cache_root()) / "wheels"


def uv_cache_root(root: Path | None = None) -> Path:
    """uv's own cache (kiln.support.uv): what resolving read from the index; cleaned with the wheels."""
    from kiln.support.uv import UV_CACHE

    return (root or cache_root()) / UV_CACHE


INSTALLED = "installed"
"""kiln.engine.installed_cache: the dependencies as pip installed them for one lock (and their bytecode)."""
# BASES (imported from kiln.support.layers): compressed bases per installer kind, that rebuilds add the app to.


def rebuild_roots(root: Path | None = None) -> list[Path]:
    """What only makes rebuilds faster: installed dependency trees and compressed bases (any build remakes them)."""
    return [(root or cache_root()) / INSTALLED, (root or cache_root()) / BASES]


def runtime_dir(root: Path, target: Target, full_version: str, build: str) -> Path:
    """`<root>/runtimes/<platform>/<version>-<build>`; the runtime itself is its `python/` folder."""
    return runtimes_root(root) / target.name / f"{full_version}-{build}"


@dataclass(frozen=True)
class CachedRuntime:
    """A complete runtime in the cache, as its marker describes it."""

    path: Path
    """The `<version>-<build>` folder; the runtime is `path / "python"`."""
    platform: str
    full_version: str
    build: str
    sha256: str
    """Of the archive it was extracted from."""
    filename: str
    source: str
    pruned_bytes: int = 0

    @property
    def python_root(self) -> Path:
        return self.path / "python"

    @property
    def minor(self) -> str:
        return ".".join(self.full_version.split(".")[:2])

    @property
    def target(self) -> Target:
        return TARGETS[self.platform]


def write_marker(folder: Path, runtime: CachedRuntime) -> None:
    """Record a finished runtime; call this after everything else in `folder` is in place."""
    data = {
        "marker_version": MARKER_VERSION,
        "platform": runtime.platform,
        "full_version": runtime.full_version,
        "build": runtime.build,
        "sha256": runtime.sha256,
        "filename": runtime.filename,
        "source": runtime.source,
        "pruned_bytes": runtime.pruned_bytes,
    }
    temp = folder / f".{MARKER}.tmp"
    temp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, folder / MARKER)


def read_marker(folder: Path) -> CachedRuntime | None:
    """The cached runtime in `folder`, or None when it is missing, incomplete or from an unknown Kiln."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if data.get("marker_version") != MARKER_VERSION or data["platform"] not in TARGETS:
            return None
        runtime = CachedRuntime(
            path=folder,
            platform=str(data["platform"]),
            full_version=str(data["full_version"]),
            build=str(data["build"]),
            sha256=str(data["sha256"]),
            filename=str(data["filename"]),
            source=str(data["source"]),
            pruned_bytes=int(data.get("pruned_bytes", 0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return runtime if runtime.python_root.is_dir() else None


def list_cached(root: Path | None = None, target: Target | None = None) -> list[CachedRuntime]:
    """Every complete runtime in the cache (optionally for one target), newest version first."""
    base = runtimes_root(root)
    platforms: list[str]
    if target is not None:
        platforms = [target.name]
    else:
        platforms = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    found = []
    for platform in platforms:
        folder = base / platform
        if not folder.is_dir():
            continue
        for child in folder.iterdir():
            if child.is_dir() and not child.name.startswith("."):
                cached = read_marker(child)
                if cached is not None and cached.platform == platform:
                    found.append(cached)
    return sorted(found, key=lambda c: (c.platform, _version_key(c.full_version), c.build), reverse=True)


def find_cached(
    root: Path, target: Target, *, sha256: str | None = None, full_version: str | None = None, build: str | None = None
) -> CachedRuntime | None:
    """A complete cached runtime for `target` matching every given field, or None."""
    for cached in list_cached(root, target):
        if sha256 is not None and cached.sha256 != sha256:
            continue
        if full_version is not None and cached.full_version != full_version:
            continue
        if build is not None and cached.build != build:
            continue
        return cached
    return None


def remove_tree(path: Path) -> int:
    """Delete a file or folder and return the bytes it used (0 if it did not exist)."""
    if not path.exists() and not path.is_symlink():
        return 0
    size = tree_size(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    return size


def sweep_leftovers(folder: Path, older_than: float = 24 * 3600) -> int:
    """Delete work folders a killed Kiln left behind (`.download-*`, `.stage-*`, older than a day); returns bytes."""
    freed = 0
    cutoff = time.time() - older_than
    for path in folder.glob(".*"):
        if path.name.startswith((".download-", ".stage-")):
            with contextlib.suppress(OSError):
                if path.lstat().st_mtime < cutoff:
                    freed += remove_tree(path)
    return freed


def clean(root: Path | None = None, *, runtimes: bool = True, wheels: bool = True, rebuilds: bool = True) -> int:
    """Delete cached runtimes, wheels and/or rebuild products (installed trees, compressed bases); returns the bytes
    freed."""
    freed = 0
    if runtimes:
        freed += remove_tree(runtimes_root(root))
    if wheels:
        freed += remove_tree(wheels_root(root)) + remove_tree(uv_cache_root(root))
    if rebuilds:
        freed += sum(remove_tree(folder) for folder in rebuild_roots(root))
    return freed


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


# What an app never needs from a runtime, relative to its `python/` folder (`{v}` is 3.X). The top-level stdlib
# entries come from runtimes.prune (shared with the host runtime); nested test packages are listed one by one
# because a blanket "*/test" could hit a real module.
_STDLIB_DROP = ("unittest/test", "ctypes/test", "distutils/tests", "sqlite3/test")
# Tcl/Tk stays in the cached runtime: staging removes it from each bundle whose code does not import tkinter
# (runtimes.prune.drop_tkinter), so tkinter apps work with downloaded runtimes too.
_UNIX_DROP = ("include", "lib/pkgconfig", "share/man", "lib/Tix*", "bin/idle3*", "bin/2to3*", "bin/python3*-config")
_WINDOWS_DROP = ("include", "libs", "Scripts/idle*")


def prune_runtime(python_root: Path, target: Target, minor: str) -> int:
    """Remove what an app never needs from an extracted runtime; returns the bytes freed.

    That is tests, IDLE, Tk/Tcl, ensurepip, lib2to3, pydoc_data, the stdlib's bytecode caches (the bundle
    compiles its own), headers, static and import libraries, pkg-config files and man pages.
    """
    windows = target.os == "windows"
    stdlib = python_root / ("Lib" if windows else f"lib/python{minor}")
    patterns = [f"{stdlib.relative_to(python_root).as_posix()}/{p}" for p in _STDLIB_DROP]
    patterns += list(_WINDOWS_DROP if windows else _UNIX_DROP)
    freed = tree_size(stdlib)
    prune_stdlib(stdlib)
    freed -= tree_size(stdlib)
    for pattern in patterns:
        for path in sorted(python_root.glob(pattern.format(v=minor))):
            freed += remove_tree(path)
    for path in list(python_root.rglob("*.a")):
        # Static libraries (libpython3.X.a and friends) only serve to build extensions.
        if path.is_file() and not path.is_symlink():
            freed += remove_tree(path)
    return freed
