"""The CLI's last line of defence: an exception that escaped every command becomes one screen of text.

An OSError the user can act on (full disk, read-only folder…) is shown as an ordinary error naming the path.
Anything else is a bug in Kiln: the traceback goes into a crash log, and the terminal gets one short message
with that log's path and an invitation to report it, never the raw traceback.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from kiln import __version__
from kiln.support.errors import KilnError
from kiln.support.oserrors import user_error

REPORT_HINT = "please report it to the Kiln developers with the log file (it holds no file contents)"


def crash_log_folder() -> Path:
    """Where crash logs go: `<Kiln's cache>/logs` (KILN_CACHE_DIR honoured)."""
    from kiln.engine.engine import default_cache_dir

    return default_cache_dir() / "logs"


def write_crash_log(error: BaseException) -> Path | None:
    """Write the traceback of `error` into a new crash log; None when no folder could take it."""
    text = (f"kiln {__version__}, pid {os.getpid()}, {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
            + "".join(traceback.format_exception(error)))
    name = f"kiln-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for folder in (crash_log_folder, lambda: Path(tempfile.gettempdir())):
        try:
            path = folder() / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return path
        except Exception:  # a full or read-only disk: try the next folder
            continue
    return None


def report_escaped(error: Exception, print_error: Callable[[KilnError], None]) -> int:
    """Show an exception no command handled; returns the exit code (1)."""
    known = user_error(error)
    if known is not None:
        print_error(known)
        return 1
    log = write_crash_log(error)
    summary = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    where = f"the details are in {log}" if log is not None else "no log could be written"
    print_error(KilnError(f"internal error in Kiln ({summary})", hint=f"this is a bug in Kiln; {where}; "
                          f"{REPORT_HINT}"))
    return 1
