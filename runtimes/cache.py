"""Kiln's cache folder: where runtimes, wheels and rebuild products live, what a complete cached runtime is, and
cleaning up.

A cached runtime is found by the sha256 of the archive it came from, which its marker records, with the platform,
version and build its folder is named after and the digest of its `python/` tree. A build takes a runtime only when
it proves to be what its marker says (`proof_problem`: filed under the folder its marker names, its tree unchanged);
one that does not is discarded, with a notice, and made again (kiln.support.cache_proof).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from kiln.runtimes.prune import prune_stdlib
from kiln.support.cache_proof import notice
from kiln.support.layers import BASES, tree_digest
from kiln.support.locks import entry_lock
from kiln.support.sizes import tree_size
from kiln.support.targets import TARGETS, Target

CACHE_ENV = "KILN_CACHE_DIR"
MARKER = "kiln-runtime.json"
"""Written into a runtime's folder last, once it is extracted, checked and pruned: its presence means complete."""
MARKER_VERSION = 2
"""2 records the digest of the runtime's tree; a marker of version 1 (no digest) gets it the first time a build takes
the runtime, so runtimes cached by an earlier Kiln (perhaps added by hand, offline) stay usable."""


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
BUILD_ENVS = "build-envs"
"""kiln.source.build_env: the environments the app's own build backend runs in, one per [build-system]."""


def rebuild_roots(root: Path | None = None) -> list[Path]:
    """What only makes rebuilds faster: installed dependency trees, compressed bases and the app's build
    environments (any build remakes them)."""
    return [(root or cache_root()) / name for name in (INSTALLED, BASES, BUILD_ENVS)]


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
    tree: str | None = None
    """The digest of the `python/` tree (kiln.support.layers.tree_digest) as it was cached."""

    @property
    def python_root(self) -> Path:
        return self.path / "python"

    @property
    def minor(self) -> str:
        return ".".join(self.full_version.split(".")[:2])

    @property
    def target(self) -> Target:
        return TARGETS[self.platform]


def write_marker(folder: Path, runtime: CachedRuntime) -> CachedRuntime:
    """Record a finished runtime, with the digest of its `python/` tree; call this after everything else in `folder`
    is in place. Returns `runtime` with that digest."""
    recorded = dataclasses.replace(runtime, tree=runtime_tree(folder / "python"))
    data = {
        "marker_version": MARKER_VERSION,
        "platform": recorded.platform,
        "full_version": recorded.full_version,
        "build": recorded.build,
        "sha256": recorded.sha256,
        "filename": recorded.filename,
        "source": recorded.source,
        "pruned_bytes": recorded.pruned_bytes,
        "tree": recorded.tree,
    }
    temp = folder / f".{MARKER}.tmp"
    temp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, folder / MARKER)
    return recorded


def runtime_tree(python_root: Path) -> str:
    return tree_digest([("python", python_root)])


def read_marker(folder: Path) -> CachedRuntime | None:
    """The cached runtime in `folder`, or None when it is missing, incomplete or from an unknown Kiln."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if data.get("marker_version") not in (1, MARKER_VERSION) or data["platform"] not in TARGETS:
            return None
        tree = data.get("tree") if data["marker_version"] == MARKER_VERSION else None
        runtime = CachedRuntime(
            path=folder,
            platform=str(data["platform"]),
            full_version=str(data["full_version"]),
            build=str(data["build"]),
            sha256=str(data["sha256"]),
            filename=str(data["filename"]),
            source=str(data["source"]),
            pruned_bytes=int(data.get("pruned_bytes", 0)),
            tree=str(tree) if tree is not None else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return runtime if runtime.python_root.is_dir() else None


def proof_problem(cached: CachedRuntime) -> str | None:
    """Why `cached` is not the runtime its marker describes, or None when it is: it must sit in the folder its
    marker names, and its tree must have the recorded digest. A marker from before digests were recorded gets the
    digest now (what an earlier Kiln cached is taken as it is, once)."""
    if not _filed_right(cached):
        return (f"its record is of Python {cached.full_version} ({cached.build}) for {cached.platform}, filed under "
                f"{cached.path.parent.name}/{cached.path.name}")
    if cached.tree is None:
        with contextlib.suppress(OSError):
            write_marker(cached.path, cached)
        return None
    if runtime_tree(cached.python_root) != cached.tree:
        return "its files are not the ones its record describes (changed or replaced)"
    return None


def _filed_right(cached: CachedRuntime) -> bool:
    """`cached` sits in the folder its marker names (`<platform>/<version>-<build>`)."""
    return cached.path.name == f"{cached.full_version}-{cached.build}" and cached.path.parent.name == cached.platform


def take_cached(candidates: list[CachedRuntime], warn: Callable[[str], None]) -> CachedRuntime | None:
    """The first of `candidates` that proves to be what its marker says; each one before it that does not is
    discarded (removed from the cache), and `warn` gets a line saying so."""
    for cached in candidates:
        problem = proof_problem(cached)
        if problem is None:
            return cached
        warn(notice(f"Python {cached.full_version} for {cached.platform} ({cached.path.name})", problem,
                    "making it again"))
        discard(cached.path)
    return None


def discard(folder: Path) -> None:
    """Remove a cached runtime's folder, under its entry lock (kiln.support.locks)."""
    with entry_lock(folder), contextlib.suppress(OSError):
        remove_tree(folder)


def list_cached(root: Path | None = None, target: Target | None = None) -> list[CachedRuntime]:
    """Every complete runtime in the cache (optionally for one target), newest version first. A folder whose marker
    names another folder (a runtime copied over another one's) is none of them: it is left out."""
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
                if cached is not None and _filed_right(cached):
                    found.append(cached)
    return sorted(found, key=lambda c: (c.platform, _version_key(c.full_version), c.build), reverse=True)


def find_cached(
    root: Path, target: Target, *, sha256: str | None = None, full_version: str | None = None, build: str | None = None
) -> CachedRuntime | None:
    """A complete cached runtime for `target` matching every given field, or None (as its marker says: for what a
    build takes, `find_proven`)."""
    return next(iter(_matching(root, target, sha256, full_version, build)), None)


def find_proven(root: Path, target: Target, warn: Callable[[str], None], *, sha256: str | None = None,
                full_version: str | None = None, build: str | None = None) -> CachedRuntime | None:
    """find_cached for a build: the first match that proves to be what its marker says (take_cached)."""
    return take_cached(_matching(root, target, sha256, full_version, build), warn)


def _matching(root: Path, target: Target, sha256: str | None, full_version: str | None,
              build: str | None) -> list[CachedRuntime]:
    return [c for c in list_cached(root, target) if (sha256 is None or c.sha256 == sha256)
            and (full_version is None or c.full_version == full_version) and (build is None or c.build == build)]


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


# What an app never needs from a runtime, relative to its `python/` folder (`{v}` is 3.X). The stdlib's entries
# (top-level ones and nested test packages) come from runtimes.prune, shared with the host runtime.
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
    patterns = list(_WINDOWS_DROP if windows else _UNIX_DROP)
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
