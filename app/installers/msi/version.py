"""The app's PEP 440 version as a Windows Installer ProductVersion (major.minor.build), or a clear refusal.

Windows Installer compares only three numbers (major < 256, minor < 256, build < 65536) and has no notion of
pre-releases. A version it cannot tell apart from its neighbours would make upgrades silently misbehave
(1.0rc1 and 1.0 would be "the same version", so installing 1.0 over 1.0rc1 fails), so Kiln refuses:

- 1 → 1.0.0, 1.2 → 1.2.0, 1.2.3 → 1.2.3; 1.2.3.0 → 1.2.3 (trailing zeros carry no information)
- calendar versions, a year from 2000 to 2255 first (yt-dlp's 2026.11.23) → the year less 2000: 26.11.23, which
  orders as the dates do (`calendar_note` says so in the build output)
- 1.2.3.4 (a non-zero fourth number), pre-releases (1.0rc1), dev (1.0.dev1), post (1.0.post1), local (1.0+abc)
  and epochs (1!2.0) → KilnError naming app.version and what is allowed.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from kiln.support.errors import KilnError

LIMITS = (255, 255, 65535)
ALLOWED = "1 to 3 numbers: major (0-255), minor (0-255), build (0-65535), e.g. 1.4.2"


def msi_product_version(version: str) -> str:
    """'1.2' -> '1.2.0'. Raises KilnError for versions Windows Installer cannot order correctly."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise _refuse(version, "it is not a version like 1.0 or 2.3.1") from None
    if parsed.epoch:
        raise _refuse(version, "it has an epoch (N!)")
    if parsed.is_prerelease or parsed.is_devrelease:
        raise _refuse(version, "Windows Installer has no pre-release or dev versions "
                               "(1.0rc1 and 1.0 would count as the same version)",
                      hint="build the MSI from release versions; number test builds as releases, e.g. 1.0.90")
    if parsed.is_postrelease:
        raise _refuse(version, "Windows Installer has no post-releases",
                      hint=f"use the next build number instead, e.g. {_bump(parsed)}")
    if parsed.local:
        raise _refuse(version, "a local version label (+...) cannot be part of an MSI version")
    release = list(parsed.release)
    while len(release) > 3 and release[-1] == 0:
        release.pop()
    if len(release) > 3:
        raise _refuse(version, "Windows Installer ignores a fourth number, so 1.2.3.4 and 1.2.3.5 could not "
                               "upgrade each other")
    numbers = [*release, 0, 0, 0][:3]
    if _is_calendar(numbers[0]):
        numbers[0] -= CALENDAR_BASE
    for number, limit, name in zip(numbers, LIMITS, ("major", "minor", "build"), strict=True):
        if number > limit:
            raise _refuse(version, f"the {name} number {number} is larger than {limit}",
                          hint="a calendar version fits with a year from 2000 to 2255 (taken as the year less 2000)"
                          if name == "major" else None)
    return ".".join(str(n) for n in numbers)


CALENDAR_BASE = 2000


def _is_calendar(major: int) -> bool:
    return CALENDAR_BASE <= major <= CALENDAR_BASE + LIMITS[0]


def calendar_note(version: str) -> str | None:
    """The build output's line when `version` is a calendar version whose year became the MSI's major number."""
    release = Version(version).release
    if not _is_calendar(release[0]):
        return None
    product = msi_product_version(version)
    return (f"app.version {version} is a calendar version: the MSI's version is {product} (the year less "
            f"{CALENDAR_BASE}), which Windows orders as the dates are")


def _bump(parsed: Version) -> str:
    release = [*parsed.release, 0, 0][:3]
    release[2] += 1
    return ".".join(str(n) for n in release)


def _refuse(version: str, reason: str, hint: str | None = None) -> KilnError:
    return KilnError(
        f"app.version '{version}' cannot be an MSI version: {reason}",
        hint=f"{hint}; MSI versions are {ALLOWED}" if hint else f"MSI versions are {ALLOWED}",
    )
