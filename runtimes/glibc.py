"""The glibc a Linux runtime needs, in words a user understands (which distributions it runs on)."""

from __future__ import annotations

import os

# glibc of common distributions' releases (from their package archives), oldest first.
DISTRIBUTIONS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("RHEL 8", (2, 28)),
    ("Debian 11", (2, 31)),
    ("Ubuntu 20.04", (2, 31)),
    ("RHEL 9", (2, 34)),
    ("Ubuntu 22.04", (2, 35)),
    ("Debian 12", (2, 36)),
    ("Fedora 37", (2, 36)),
    ("Ubuntu 24.04", (2, 39)),
)


def host_version() -> str:
    """This machine's glibc version (a runtime built from this machine's Python needs at least this)."""
    name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    return version if name == "glibc" else "?"


def parse(version: str) -> tuple[int, int] | None:
    major, _, minor = version.partition(".")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def floor_in_words(version: str) -> str:
    """'glibc 2.36 or newer: runs on Debian 12, Fedora 37, Ubuntu 24.04; not on RHEL 8, Debian 11, …'."""
    needed = parse(version)
    if needed is None:
        return f"glibc {version} or newer"
    runs = [name for name, have in DISTRIBUTIONS if have >= needed]
    fails = [name for name, have in DISTRIBUTIONS if have < needed]
    text = f"glibc {version} or newer"
    if runs:
        text += f": runs on {', '.join(runs)} and newer"
    if fails:
        text += f"; does not start on {', '.join(fails)} or older"
    return text
