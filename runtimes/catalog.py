"""The catalog of downloadable CPython runtimes: python-build-standalone builds as listed by pbs-installer."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import unquote

from pbs_installer._utils import PLATFORM_MAPPING, PythonVersion
from pbs_installer._versions import BASE_URL_ENV_VAR, get_python_versions

from kiln.support.errors import KilnError
from kiln.support.targets import TARGETS, Target

# pbs-installer's index maps PythonVersion -> {(platform, arch, install_only): (url, sha256)}.
PbsIndex = dict[PythonVersion, dict[tuple[str, str, bool], tuple[str, str | None]]]

_BUILD_RE = re.compile(r"\+(\d{8})-|-(\d{8}T\d{4})\.")
_MINOR_RE = re.compile(r"^3\.\d+$")


@dataclass(frozen=True)
class CatalogEntry:
    """One downloadable install_only archive: a CPython release built for one platform and CPU."""

    version: str
    """Full version, e.g. 3.12.7."""
    platform: str
    """pbs-installer's platform word: linux, windows or macos."""
    arch: str
    """pbs-installer's CPU word: x86_64 or aarch64."""
    filename: str
    url: str
    sha256: str | None
    build: str
    """python-build-standalone release, e.g. 20241016."""
    size: int | None = None
    """Archive size in bytes; the catalog does not publish it, so this is None unless a caller learned it."""

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def micro(self) -> int:
        return int(self.version.split(".")[2])

    @property
    def stripped(self) -> bool:
        """Debug symbols removed: same runtime, much smaller download."""
        return "install_only_stripped" in self.filename

    @property
    def target(self) -> Target | None:
        """The Kiln target this archive runs on, if Kiln builds for it."""
        for target in TARGETS.values():
            if (catalog_platform(target), target.pbs_arch) == (self.platform, self.arch):
                return target
        return None


def base_url() -> str | None:
    """The mirror every download goes to (PBS_INSTALLER_BASE_URL), read now rather than at import.

    pbs-installer reads the variable once, when it is first imported, and only for its default index; Kiln
    reads it on each call and passes it explicitly so a change made later (tests, long-lived GUIs) counts.
    """
    value = os.environ.get(BASE_URL_ENV_VAR, "").strip()
    return value or None


def catalog_platform(target: Target) -> str:
    """The platform word the catalog uses for a target (pbs-installer calls macOS `macos`, not `darwin`)."""
    return PLATFORM_MAPPING.get(target.pbs_platform, target.pbs_platform)


def _pbs_index(mirror: str | None) -> PbsIndex:
    """pbs-installer's index with every URL pointed at `mirror` (`<mirror>/<filename>`) when one is set."""
    return get_python_versions(mirror)


def build_of(filename: str) -> str:
    """The python-build-standalone release in an archive name, e.g. 20241016 (or 'unknown')."""
    match = _BUILD_RE.search(filename)
    if match is None:
        return "unknown"
    return match.group(1) or match.group(2)


def entries() -> list[CatalogEntry]:
    """Every CPython install_only archive in the catalog (not free-threaded), newest version first."""
    found: list[CatalogEntry] = []
    for version, files in _pbs_index(base_url()).items():
        if version.implementation != "cpython" or version.freethreaded:
            continue
        full = f"{version.major}.{version.minor}.{version.micro}"
        for (platform, arch, install_only), (url, sha256) in files.items():
            if not install_only:
                continue
            filename = unquote(url.rsplit("/", 1)[-1])
            if "install_only" not in filename:
                # Some old releases are flagged install_only but are full builds with another layout.
                continue
            found.append(CatalogEntry(full, platform, arch, filename, url, sha256, build_of(filename)))
    found.sort(key=lambda e: (tuple(int(p) for p in e.version.split(".")), e.stripped, e.build), reverse=True)
    return found


def available(target: Target | None = None, minor: str | None = None) -> list[CatalogEntry]:
    """Catalog entries for Kiln's targets, optionally only one target and/or one minor version (3.X)."""
    result = []
    for entry in entries():
        entry_target = entry.target
        if entry_target is None or (target is not None and entry_target != target):
            continue
        if minor is not None and entry.minor != minor:
            continue
        result.append(entry)
    return result


def pick(target: Target, minor: str) -> CatalogEntry:
    """The archive to use for Python `minor` (3.X) on `target`: the newest patch release that has a checksum,
    preferring install_only_stripped over install_only."""
    if not _MINOR_RE.match(minor):
        raise KilnError(f"'{minor}' is not a Python version in the form 3.X", hint="e.g. 3.12")
    candidates = [e for e in available(target, minor) if e.sha256]
    if not candidates:
        minors = sorted({e.minor for e in available(target)}, key=lambda m: int(m.split(".")[1]))
        raise KilnError(
            f"no downloadable Python {minor} for {target.name} in the runtime catalog",
            hint=f"available for {target.name}: {', '.join(minors) or 'none'}; or use a local archive with "
            "`kiln runtimes add ARCHIVE`",
        )
    # Sorting key: newest micro first, then stripped before unstripped, then the newest build.
    return max(candidates, key=lambda e: (e.micro, e.stripped, e.build))


def newest_by_minor(target: Target) -> dict[str, CatalogEntry]:
    """For each minor version downloadable for `target`, the entry `pick` would choose."""
    minors = {e.minor for e in available(target) if e.sha256}
    return {m: pick(target, m) for m in sorted(minors, key=lambda m: int(m.split(".")[1]), reverse=True)}
