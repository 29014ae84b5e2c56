"""What an app never needs from a runtime: removed to save space (the stdlib's tests, IDLE…; Tcl/Tk when unused)."""

from __future__ import annotations

import shutil
from pathlib import Path

# Top-level stdlib entries no packaged app imports at run time (tests, IDLE, installers of pip, 2to3).
# tkinter stays: it is dropped per app, with Tcl/Tk, when nothing in the bundle imports it (drop_tkinter).
UNNEEDED_STDLIB = (
    "test", "idlelib", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "venv", "__phello__", "config-*",
)
# The test suites of stdlib packages, listed one by one because a blanket "*/test" could hit a real module
# (2.5 MB for 3.11: unittest's own tests alone are 1.4 MB).
NESTED_TESTS = ("unittest/test", "ctypes/test", "distutils/tests", "sqlite3/test", "tkinter/test")

# Every piece of Tcl/Tk in a runtime, relative to its root: python-build-standalone's Linux/macOS layout
# (lib/…), its Windows layout (Lib/, DLLs/, tcl/) and the host runtime's (same as Linux).
TK_PIECES = {
    "posix": (
        "lib/python3.*/tkinter", "lib/python3.*/turtle.py", "lib/python3.*/lib-dynload/_tkinter.*",
        "lib/libtcl*", "lib/libtk*", "lib/libXft.so*", "lib/libXss.so*", "lib/tcl8*", "lib/tk8*", "lib/itcl*",
        "lib/thread2*", "lib/tcl9*", "lib/tk9*",
    ),
    "windows": ("Lib/tkinter", "Lib/turtle.py", "DLLs/_tkinter.pyd", "DLLs/tcl*.dll", "DLLs/tk*.dll", "tcl"),
}


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()


def prune_stdlib(stdlib: Path) -> list[str]:
    """Remove UNNEEDED_STDLIB and NESTED_TESTS entries and every __pycache__ below `stdlib`; returns what was
    removed."""
    removed = []
    for pattern in (*UNNEEDED_STDLIB, *NESTED_TESTS):
        for entry in stdlib.glob(pattern):
            _remove(entry)
            removed.append(entry.relative_to(stdlib).as_posix())
    for cache in list(stdlib.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    return sorted(removed)


def drop_tkinter(runtime: Path, target_os: str) -> list[str]:
    """Remove tkinter, _tkinter and the Tcl/Tk libraries and scripts from a runtime folder; returns what went.

    Called on the bundle's own copy of a runtime (the cached runtime keeps them for apps that use tkinter).
    """
    removed = []
    for pattern in TK_PIECES["windows" if target_os == "windows" else "posix"]:
        for entry in sorted(runtime.glob(pattern)):
            _remove(entry)
            removed.append(entry.relative_to(runtime).as_posix())
    return removed
