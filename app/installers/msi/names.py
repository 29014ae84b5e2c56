"""Windows file names for the MSI: cleaned display strings, refused payload names, and 8.3 short names."""

from __future__ import annotations

import hashlib
import unicodedata

from kiln.support.errors import KilnError

_WINDOWS_FORBIDDEN = set('<>:"/\\|?*')
_SHORT_FORBIDDEN = set('\\?|><:/*"+,;=[] ')
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def clean_text(text: str) -> str:
    """One line without control characters (tables hold them badly and nobody wants them in a menu)."""
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split())


def windows_name(text: str, fallback: str) -> str:
    """`text` made a valid Windows file name: forbidden characters replaced, no trailing dot or space."""
    name = "".join("_" if c in _WINDOWS_FORBIDDEN else c for c in clean_text(text)).rstrip(". ")
    if not name or name.split(".")[0].upper() in _RESERVED_NAMES:
        return fallback
    return name


def windows_name_problem(name: str) -> str | None:
    """Why Windows cannot create a file named `name`, or None: the one rule for payload files (the build) and for
    the launcher named after app.name (`kiln check`, through the MSI kind's problems)."""
    bad = sorted({c for c in name if c in _WINDOWS_FORBIDDEN or unicodedata.category(c) == "Cc"})
    if bad:
        return f"it contains {' '.join(repr(c) for c in bad)}"
    if name.endswith((".", " ")):
        return "it ends with a dot or a space"
    if name.split(".")[0].upper() in _RESERVED_NAMES:
        return f"'{name.split('.')[0]}' is a reserved device name on Windows"
    return None


def launcher_name(app_name: str) -> str:
    """The Windows launcher's file name: the app's name, so the Start menu and PATH find it."""
    return f"{app_name}.exe"


def check_windows_name(name: str, relative: str) -> None:
    """Refuse a payload name Windows cannot create (the MSI would fail at the user's desk)."""
    problem = windows_name_problem(name)
    if problem:
        raise KilnError(f"cannot put '{relative}' into an MSI: {problem}",
                        hint="rename the file, or leave it out with [source] exclude")


class ShortNames:
    """MSI file names are `short|long`: a long name that is not a valid 8.3 name gets a short one (ICE03).

    Windows Installer only uses the short name on volumes without long names; it must be unique in its folder.
    """

    def __init__(self, siblings: list[str]) -> None:
        self.used = {n.upper() for n in siblings if _is_short(n)}

    def name(self, long: str) -> str:
        if _is_short(long):
            return long
        stem, ext = (long.rsplit(".", 1) if "." in long[1:] else (long, ""))
        stem, ext = _short_chars(stem)[:3], _short_chars(ext)[:3]
        for salt in range(1000):
            digest = hashlib.sha256(f"{salt}/{long}".encode()).hexdigest().upper()
            candidate = stem + digest[: 8 - len(stem)] + (f".{ext}" if ext else "")
            if candidate not in self.used:
                self.used.add(candidate)
                return f"{candidate}|{long}"
        raise KilnError(f"internal error: no short name for {long}")


def _is_short(name: str) -> bool:
    stem, _, ext = name.partition(".")
    return (name.isascii() and name.count(".") <= 1 and 1 <= len(stem) <= 8 and len(ext) <= 3
            and not name.endswith(".") and not set(name) & _SHORT_FORBIDDEN)


def _short_chars(text: str) -> str:
    return "".join(c for c in text.upper() if c.isascii() and (c.isalnum() or c in "_-"))
