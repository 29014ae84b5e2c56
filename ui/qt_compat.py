"""Work around a PySide6 6.12 bug on Python < 3.12: every call that returns None drops a reference to None.

Python 3.12 made None immortal, so there the missing reference is harmless; on 3.10/3.11 None's count (a few
thousand at start) runs out after that many Qt calls and the interpreter aborts with "deallocating None".
Adding references to None is always safe (None is never freed), so we give it enough to never run out.
"""

from __future__ import annotations

import ctypes
import sys
from importlib import metadata

_AFFECTED = ("6.12.",)
_EXTRA_REFERENCES = 1 << 40


def shiboken_version() -> str:
    try:
        return metadata.version("shiboken6")
    except metadata.PackageNotFoundError:
        return ""


def needs_none_guard(python: tuple[int, int] = sys.version_info[:2], shiboken: str | None = None) -> bool:
    version = shiboken_version() if shiboken is None else shiboken
    return python < (3, 12) and version.startswith(_AFFECTED)


def guard_none() -> None:
    """Make None effectively immortal, as on Python 3.12+ (only where the PySide bug applies)."""
    if needs_none_guard():
        ctypes.c_ssize_t.from_address(id(None)).value += _EXTRA_REFERENCES
