"""Runtimes downloaded from python-build-standalone (via pbs-installer's catalog), verified and cached."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from kiln.runtimes import catalog
from kiln.runtimes.archive import as_runtime, install_archive
from kiln.runtimes.base import ProgressCallback, Runtime
from kiln.runtimes.cache import CachedRuntime, find_cached, runtimes_root, sweep_leftovers
from kiln.runtimes.download import download
from kiln.support.targets import Target

DOWNLOAD_SHARE = 0.85
"""Fraction of the progress bar given to the download; extraction and pruning get the rest."""


def fetch(
    target: Target, minor: str, cache_dir: Path, progress: ProgressCallback, *, timeout: float = 60.0
) -> tuple[CachedRuntime, bool, catalog.CatalogEntry]:
    """The cached runtime for Python `minor` on `target`, downloading it first if needed; (runtime, reused, entry).

    The catalog picks the archive (newest patch, stripped when available). A complete cached copy of that
    exact archive is returned at once, without any network access.
    """
    entry = catalog.pick(target, minor)
    cached = find_cached(cache_dir, target, sha256=entry.sha256)
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
        )
        return cached, reused, entry
    finally:
        # The archive is not kept: the extracted, pruned runtime is what builds use.
        shutil.rmtree(work, ignore_errors=True)


class DownloadedRuntimeProvider:
    """python.source = "download": the newest patch release of the requested 3.X from python-build-standalone."""

    def __init__(self, *, timeout: float = 60.0) -> None:
        self.timeout = timeout

    def provide(self, target: Target, version: str, cache_dir: Path, progress: ProgressCallback) -> Runtime:
        cached, reused, entry = fetch(target, version, cache_dir, progress, timeout=self.timeout)
        kind = "install_only_stripped" if entry.stripped else "install_only"
        source = f"download python-build-standalone {entry.build} CPython {entry.version} ({kind}, sha256 verified)"
        return as_runtime(cached, target, source, reused)
