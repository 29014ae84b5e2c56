"""Which Python versions the Dependencies page offers: those the app's requires-python allows, each marked by
whether a runtime for every chosen platform is at hand without a network (this machine's Python, or the cache)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from kiln.runtimes.cache import list_cached
from kiln.support.targets import TARGETS

SUPPORTED = [f"3.{minor}" for minor in range(8, 15)]
HOST = f"{sys.version_info.major}.{sys.version_info.minor}"


def allowed(requires_python: str, versions: Iterable[str] = SUPPORTED) -> list[str]:
    """The versions whose releases requires-python admits (all of them when it is empty or unreadable)."""
    try:
        spec = SpecifierSet(requires_python or "")
    except InvalidSpecifier:
        return list(versions)
    return [v for v in versions if any(spec.contains(f"{v}.{patch}") for patch in (0, 99))]


@dataclass(frozen=True)
class Offer:
    version: str
    missing: tuple[str, ...]
    """Platforms with no runtime of this version here: the build downloads one (and fails offline)."""
    outside: bool = False
    """Not allowed by requires-python (kept because the project file asks for it)."""

    def label(self, requires_python: str) -> str:
        if self.outside:
            return f"{self.version} — outside the app's requires-python {requires_python}"
        if not self.missing:
            return f"{self.version} — ready offline"
        return f"{self.version} — downloads a runtime for {', '.join(self.missing)}"


def offers(requires_python: str, platforms: Iterable[str], current: str) -> list[Offer]:
    """One offer per allowed version (and the current one), with what a build would have to download."""
    platforms = sorted(set(platforms))
    cached = {(c.platform, ".".join(c.full_version.split(".")[:2])) for p in platforms if p in TARGETS
              for c in list_cached(target=TARGETS[p])}
    versions = allowed(requires_python)
    result = []
    for version in SUPPORTED:
        if version not in versions and version != current:
            continue
        missing = tuple(p for p in platforms
                        if not (p == "linux-x86_64" and version == HOST) and (p, version) not in cached)
        result.append(Offer(version, missing, outside=version not in versions))
    return result
