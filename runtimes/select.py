"""Which runtime provider serves a project's `[python] source` setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kiln.runtimes.archive import ArchiveRuntimeProvider
from kiln.runtimes.base import ProgressCallback, Runtime, RuntimeProvider
from kiln.runtimes.downloaded import DownloadedRuntimeProvider
from kiln.runtimes.embed import PLATFORM as EMBED_PLATFORM
from kiln.runtimes.embed import EmbedRuntimeProvider
from kiln.runtimes.glibc import floor_in_words, host_version
from kiln.support.errors import KilnError
from kiln.support.targets import Target

KEYWORDS = ("auto", "host", "download", "embed")


class AutoRuntimeProvider:
    """python.source = "auto": a downloaded (python-build-standalone) runtime, or a cached one of the same 3.X.

    For the host's platform, when that cannot be had, the host's own Python (with a warning naming its glibc
    floor).
    For windows-x86_64, when python-build-standalone's runtime can be neither downloaded nor found in the
    cache, python.org's embeddable CPython from the package index (`embed`) is used.
    """

    def __init__(
        self, host: RuntimeProvider | None, download: RuntimeProvider, host_platforms: tuple[str, ...],
        embed: RuntimeProvider | None = None,
    ) -> None:
        self.host = host
        self.download = download
        self.host_platforms = host_platforms
        self.embed = embed

    def provide(self, target: Target, version: str, cache_dir: Path, progress: ProgressCallback) -> Runtime:
        if self.host is not None and target.name in self.host_platforms:
            return self._linux(target, version, cache_dir, progress, self.host)
        if self.embed is None or target.name != EMBED_PLATFORM:
            return self.download.provide(target, version, cache_dir, progress)
        try:
            return self.download.provide(target, version, cache_dir, progress)
        except KilnError as e:
            runtime = self.embed.provide(target, version, cache_dir, progress)
            note = (f"python-build-standalone's Python {version} is not available ({e.message}); "
                    "using python.org's embeddable CPython from the package index")
            return dataclasses.replace(runtime, notes=(*runtime.notes, note))

    def _linux(self, target: Target, version: str, cache_dir: Path, progress: ProgressCallback,
               host: RuntimeProvider) -> Runtime:
        """python-build-standalone's Linux runtime (glibc 2.17) when cached or downloadable, else the host's
        Python, whose glibc floor (this machine's glibc) the warning spells out."""
        try:
            return self.download.provide(target, version, cache_dir, progress)
        except KilnError as e:
            reason = e.message
        runtime = host.provide(target, version, cache_dir, progress)
        floor = floor_in_words(host_version())
        warning = (f"the Linux bundle uses this machine's Python, which needs {floor} (python-build-standalone's "
                   f"runtime, which needs only glibc 2.17, is not available: {reason})")
        return dataclasses.replace(runtime, warnings=(*runtime.warnings, warning))


def provider_for(
    source: str,
    base_dir: Path,
    host: RuntimeProvider | None = None,
    *,
    host_platforms: tuple[str, ...] = ("linux-x86_64",),
    index_args: list[str] | None = None,
    lock_dir: Path | None = None,
) -> RuntimeProvider:
    """The provider for `source`: "download", "host", "auto", "embed", or a path to a runtime archive.

    `host` is the provider of the runtime Kiln itself runs on (the build engine passes it). Without one,
    "auto" downloads for every target and "host" is an error. A relative archive path is taken from `base_dir`
    (the project file's folder). `index_args` (pip's index options from [dependencies]) and `lock_dir`
    (the folder of Kiln's lock files, where the embeddable runtime is pinned) serve "embed", and "auto" for
    Windows.
    """
    embed = EmbedRuntimeProvider(index_args, lock_dir)
    value = source.strip()
    if value == "download":
        return DownloadedRuntimeProvider()
    if value == "auto":
        return AutoRuntimeProvider(host, DownloadedRuntimeProvider(), host_platforms, embed)
    if value == "embed":
        return embed
    if value == "host":
        if host is None:
            raise KilnError(
                "python.source = \"host\" is not available here (no host runtime provider)",
                hint="set python.source = \"download\" or \"auto\"",
            )
        return host
    if not value:
        raise KilnError("python.source is empty", hint=f"use one of {', '.join(KEYWORDS)} or a path to an archive")
    archive = Path(value).expanduser()
    if not archive.is_absolute():
        archive = base_dir / archive
    if not archive.is_file():
        raise KilnError(
            f"python.source: '{value}' is neither {', '.join(KEYWORDS)} nor an existing archive ({archive})",
            hint="fix the path to the python-build-standalone install_only archive, or use \"download\"",
        )
    return ArchiveRuntimeProvider(archive)
