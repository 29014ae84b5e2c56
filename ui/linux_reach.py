"""Which Linux systems an AppImage runs on, in plain words, from the build report's runtime facts.

A runtime made from this machine's Python needs at least this machine's glibc (the C library every Linux
system has, newer on newer systems); a downloaded runtime (python-build-standalone) needs only glibc 2.17.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# glibc version -> systems that first shipped it (or newer); each system runs everything up to its version.
_SYSTEMS = [
    ((2, 17), "CentOS 7 / RHEL 7"),
    ((2, 27), "Ubuntu 18.04"),
    ((2, 28), "Debian 10, RHEL 8"),
    ((2, 31), "Ubuntu 20.04, Debian 11"),
    ((2, 34), "RHEL 9"),
    ((2, 35), "Ubuntu 22.04"),
    ((2, 36), "Debian 12, Fedora 37"),
    ((2, 39), "Ubuntu 24.04, Fedora 40"),
    ((2, 41), "Debian 13, Fedora 42"),
]
DOWNLOADED_FLOOR = (2, 17)
_GLIBC = re.compile(r"glibc (\d+)\.(\d+)")


def glibc_floor(runtime: Mapping[str, object]) -> tuple[int, int] | None:
    """The oldest glibc the Linux runtime needs, from the report's `runtimes[target]` entry; None if unknown."""
    for note in runtime.get("notes") or []:  # type: ignore[attr-defined]
        if match := _GLIBC.search(str(note)):
            return int(match.group(1)), int(match.group(2))
    if runtime.get("source") == "download":
        return DOWNLOADED_FLOOR
    return None


def linux_note(runtime: Mapping[str, object]) -> tuple[str, str]:
    """A sentence or two for the Build page: where the AppImage runs, where it does not, and how to widen that; and
    the technical side (the glibc versions) for its Details."""
    floor = glibc_floor(runtime)
    if floor is None:
        return "", ""
    runs = [names for version, names in _SYSTEMS if version >= floor]
    older = [names for version, names in _SYSTEMS if version < floor]
    text = f"The AppImage runs on Linux systems from about {runs[0] if runs else 'the newest ones'} on"
    details = (f"The bundled Python needs the C library glibc {floor[0]}.{floor[1]} or newer on the user's system "
               f"(glibc is part of every Linux system, newer on newer systems).")
    if older:
        text += f"; not on older ones such as {older[-1]}."
        if runtime.get("source") != "download":
            text += (" To reach them, choose \u201cDownload a standalone Python\u201d as the runtime source on the "
                     "Dependencies page, though some dependencies may ask for newer systems.")
            details += (f" A downloaded standalone Python needs only glibc {DOWNLOADED_FLOOR[0]}."
                        f"{DOWNLOADED_FLOOR[1]}.")
    else:
        text += "."
    return text, details
