"""Runtimes downloaded from python-build-standalone (via pbs-installer's catalog), verified and cached."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from kiln.runtimes import catalog
from kiln.runtimes.archive import as_runtime, install_archive
from kiln.runtimes.base import ProgressCallback, Runtime
from kiln.runtimes.cache import (
    CachedRuntime,
    find_cached,
    find_proven,
    list_cached,
    runtimes_root,
    sweep_leftovers,
    take_cached,
)
from kiln.runtimes.download import download
from kiln.support.errors import KilnError
from kiln.support.targets import Target

DOWNLOAD_SHARE = 0.85
"""Fraction of the progress bar given to the download; extraction and pruning get the rest."""


def fetch(
    target: Target, minor: str, cache_dir: Path, progress: ProgressCallback, *, timeout: float = 60.0,
    warn: Callable[[str], None] = lambda message: None,
) -> tuple[CachedRuntime, bool, catalog.CatalogEntry]:
    """The cached runtime for Python `minor` on `target`, downloading it first if needed; (runtime, reused, entry).

    The catalog picks the archive (newest patch, stripped when available). A complete cached copy of that
    exact archive is returned at once, without any network access, once it proves to be what its marker says (one
    that does not is discarded, and `warn` says so).
    """
    entry = catalog.pick(target, minor)
    cached = find_proven(cache_dir, target, warn, sha256=entry.sha256)
    if cached is not None:
        progress(1.0, f"Python {cached.full_version} for {target.name} is cached")
        return cached, True, entry
    downloads = runtimes_root(cache_dir) / target.name
    downloads.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(downloads)
    work = Path(tempfile.mkdtemp(prefix=".download-", dir=downloads))
    try:
        archive = work / "archive"
        download(entry.url, archive, entry.sha256, lambda f, m: progress(f * DOWNLOAD_SHARE, m), timeout=timeout)
        cached, reused = install_archive(
            archive,
            target,
            cache_dir,
            source=f"download {entry.url}",
            progress=lambda f, m: progress(DOWNLOAD_SHARE + f * (1 - DOWNLOAD_SHARE), m),
            minor=minor,
            sha256=entry.sha256,
            filename=entry.filename,
            full_version=entry.version,
            warn=warn,
        )
        return cached, reused, entry
    finally:
        # The archive is not kept: the extracted, pruned runtime is what builds use.
        shutil.rmtree(work, ignore_errors=True)


def best_cached(cache_dir: Path, target: Target, minor: str) -> CachedRuntime | None:
    """The runtime a build uses for `minor` when the catalog's archive cannot be fetched: the newest patch in
    the cache (one added with `kiln runtimes add` or downloaded earlier), python-build-standalone's first."""
    return next(iter(_fallbacks(cache_dir, target, minor)), None)


def _fallbacks(cache_dir: Path, target: Target, minor: str) -> list[CachedRuntime]:
    candidates = [c for c in list_cached(cache_dir, target) if c.minor == minor]
    candidates.sort(key=lambda c: c.build.startswith("embed-"))  # stable: newest first within each group
    return candidates


def fix_hint(target: Target, minor: str) -> str:
    """Commands that make a build for `target` work without python-build-standalone's server."""
    add = f"`kiln runtimes add ARCHIVE --platform {target.name}` (ARCHIVE: a Python {minor} install_only archive"
    if target.os == "windows":
        return (f"set [python] source = \"embed\" (python.org's embeddable Python from the package index), or {add} "
                "or python.org's embeddable zip)")
    return f"{add}, downloaded on a machine that can reach GitHub), or point PBS_INSTALLER_BASE_URL at a mirror"


def build_choice(cache_dir: Path, target: Target, minor: str) -> str:
    """In words, the runtime a build with python.source "download" (or "auto" off the host) uses for `minor` on
    `target`, as `kiln runtimes list` shows it."""
    try:
        entry: catalog.CatalogEntry | None = catalog.pick(target, minor)
    except KilnError:
        entry = None
    exact = find_cached(cache_dir, target, sha256=entry.sha256) if entry is not None else None
    if exact is not None:
        return f"{exact.full_version} (cached)"
    fallback = best_cached(cache_dir, target, minor)
    if entry is None:
        return f"cached {fallback.full_version}" if fallback is not None else "-"
    if fallback is not None:
        return f"{entry.version} if downloadable, else cached {fallback.full_version}"
    if target.os == "windows":
        return f"{entry.version} if downloadable, else embed from the package index (auto)"
    return f"{entry.version} (download)"


class DownloadedRuntimeProvider:
    """python.source = "download": the newest patch release of the requested 3.X from python-build-standalone.

    When that archive can be neither found in the cache nor downloaded, the newest cached runtime of the same
    3.X is used instead, with a warning naming both versions.
    """

    def __init__(self, *, timeout: float = 60.0) -> None:
        self.timeout = timeout

    def provide(self, target: Target, version: str, cache_dir: Path, progress: ProgressCallback) -> Runtime:
        notices: list[str] = []
        runtime = self._provide(target, version, cache_dir, progress, notices.append)
        return dataclasses.replace(runtime, warnings=(*notices, *runtime.warnings))

    def _provide(self, target: Target, version: str, cache_dir: Path, progress: ProgressCallback,
                 warn: Callable[[str], None]) -> Runtime:
        try:
            cached, reused, entry = fetch(target, version, cache_dir, progress, timeout=self.timeout, warn=warn)
        except KilnError as e:
            fallback = take_cached(_fallbacks(cache_dir, target, version), warn)
            if fallback is None:
                raise KilnError(f"no Python {version} runtime for {target.name}: {e.message}",
                                hint=fix_hint(target, version)) from None
            wanted = _wanted(target, version)
            warning = (f"Python {wanted} for {target.name} could not be fetched ({e.message}); using Python "
                       f"{fallback.full_version} from Kiln's cache ({fallback.filename}) instead")
            progress(1.0, f"using the cached Python {fallback.full_version} for {target.name}")
            runtime = as_runtime(fallback, target, f"cache: {fallback.source}", True)
            return dataclasses.replace(runtime, warnings=(*runtime.warnings, warning))
        kind = "install_only_stripped" if entry.stripped else "install_only"
        source = f"download python-build-standalone {entry.build} CPython {entry.version} ({kind}, sha256 verified)"
        return dataclasses.replace(as_runtime(cached, target, source, reused), archive_url=entry.url)


def _wanted(target: Target, minor: str) -> str:
    """The version the catalog would give (for the warning), or just 3.X when the catalog has none."""
    try:
        return str(catalog.pick(target, minor).version)
    except KilnError:
        return minor
