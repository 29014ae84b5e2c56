"""The last few build logs: before a build writes NAME-build.log, the previous ones move to NAME-build.1.log, …

A failed build's log is what explains it; the next build (often started at once, to retry) must not erase it.
"""

from __future__ import annotations

from pathlib import Path

KEEP = 5
"""Logs kept besides the current one."""


def numbered(log: Path, number: int) -> Path:
    """NAME-build.log -> NAME-build.N.log (0 is the log itself)."""
    return log if number == 0 else log.with_name(f"{log.stem}.{number}{log.suffix}")


def keep_previous(log: Path, keep: int = KEEP) -> None:
    """Shift the existing logs one place back (the oldest beyond `keep` is dropped); the log's name is then free."""
    if not log.exists():
        return
    numbered(log, keep).unlink(missing_ok=True)
    for number in range(keep - 1, -1, -1):
        older = numbered(log, number)
        if older.exists():
            older.replace(numbered(log, number + 1))


def previous_logs(log: Path, keep: int = KEEP) -> list[Path]:
    """The current log and the kept ones that exist, newest first."""
    return [path for number in range(keep + 1) if (path := numbered(log, number)).is_file()]
