"""Before a build: which installers cannot get a Python runtime, and the command that fixes it (`kiln check`).

Nothing is downloaded. A runtime counts as available when it is in Kiln's cache, is the host's, or its
download address answers; the Windows fallback (python.org's embeddable CPython from the package index) is
assumed available, as the index is needed for the dependencies anyway.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiln.model.project import Project
from kiln.model.project_file import ProjectFile
from kiln.runtimes import catalog
from kiln.runtimes.cache import cache_root, find_cached
from kiln.runtimes.downloaded import best_cached, fix_hint
from kiln.runtimes.embed import PLATFORM as EMBED_PLATFORM
from kiln.support.errors import KilnError
from kiln.support.targets import TARGETS, Target

Probe = Callable[[str], str | None]
"""url -> None when it answers, else the reason it does not."""


@dataclass(frozen=True)
class RuntimeIssue:
    """An installer whose runtime will not be there."""

    kind: str
    platform: str
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.platform}): {self.message}"


def probe_url(url: str, timeout: float = 5.0) -> str | None:
    """None when `url` answers a HEAD request (any HTTP status but 404 means the server is there)."""
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "kiln (pre-flight check)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code} {e.reason}" if e.code == 404 else None
    except (urllib.error.URLError, OSError) as e:
        return str(getattr(e, "reason", e))


def runtime_issues(project: Project, base_dir: Path, cache_dir: Path, probe: Probe = probe_url) -> list[RuntimeIssue]:
    """One issue per installer whose target cannot get `[python] version` from `[python] source`."""
    issues: list[RuntimeIssue] = []
    reasons: dict[str, str | None] = {}
    for installer in project.active_installers():
        platform = installer.platform
        if platform not in reasons:
            reasons[platform] = _unavailable(project, base_dir, cache_dir, TARGETS[platform], probe)
        reason = reasons[platform]
        if reason is not None:
            issues.append(RuntimeIssue(installer.kind, platform, reason,
                                       fix_hint(TARGETS[platform], project.python.version)))
    return issues


def project_runtime_issues(project_file: ProjectFile) -> list[RuntimeIssue]:
    """`runtime_issues` for a loaded project file, against Kiln's default cache."""
    return runtime_issues(project_file.project, project_file.base_dir, cache_root())


def _unavailable(project: Project, base_dir: Path, cache_dir: Path, target: Target, probe: Probe) -> str | None:
    """Why no runtime for `target` can be had, or None when one can."""
    source, minor = project.python.source, project.python.version
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    if source == "host":
        usable = target.os == "linux" and minor == host
        return None if usable else f"the host Python {host} cannot serve Python {minor} for {target.name}"
    if source == "auto" and target.os == "linux" and minor == host:
        return None
    if source == "embed" or source not in ("auto", "download"):
        return None  # the embeddable runtime comes from the index; an archive path is checked by `kiln check`
    try:
        entry = catalog.pick(target, minor)
    except KilnError as e:
        return None if best_cached(cache_dir, target, minor) else e.message
    if find_cached(cache_dir, target, sha256=entry.sha256) or best_cached(cache_dir, target, minor):
        return None
    failure = probe(entry.url)
    if failure is None or (source == "auto" and target.name == EMBED_PLATFORM):
        return None
    return (f"no Python {minor} runtime for {target.name} is cached and {entry.filename} cannot be downloaded "
            f"({failure})")
