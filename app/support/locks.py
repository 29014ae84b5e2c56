"""Cross-process locks for shared folders (Kiln's cache, an output folder), and unique temp names beside them.

A `FileLock` is an fcntl `flock` on a small file: the kernel drops it when its process ends, even by
`kill -9`, so a killed build never leaves a lock that blocks the next. The pattern for a cache entry that
several builds may create at once is `build_once`: take the entry's lock, look again (another builder may have
finished it while we waited: reuse it), else build into a unique temp folder and rename it into place.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType


class FileLock:
    """An exclusive lock held through an open file; reentrant use is not supported."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with blocking=False return False at once when another process holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def lock_path_for(entry: Path) -> Path:
    """The lock file guarding a cache entry: a hidden file beside it."""
    return entry.with_name(f".{entry.name}.lock")


@contextmanager
def entry_lock(entry: Path) -> Iterator[None]:
    """Hold the lock of cache entry `entry` (a file or folder that may not exist yet)."""
    with FileLock(lock_path_for(entry)):
        yield


def unique_temp_dir(beside: Path, tag: str = "partial") -> Path:
    """A new empty folder beside `beside` with a name no other process can pick (pid + random part)."""
    beside.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{beside.name}.{tag}-{os.getpid()}-", dir=beside.parent))


def dead_temps(entry: Path, tag: str = "partial") -> list[Path]:
    """Temp folders beside `entry` (made by `unique_temp_dir`) whose process is gone (killed mid-build)."""
    from kiln.support.sweep import is_running

    pattern = re.compile(re.escape(f".{entry.name}.{tag}-") + r"(\d+)-")
    found = []
    with contextlib.suppress(OSError):
        for sibling in entry.parent.iterdir():
            match = pattern.match(sibling.name)
            if match and not is_running(int(match.group(1))):
                found.append(sibling)
    return found


def remove_dead_temps(entry: Path) -> None:
    for path in dead_temps(entry):
        shutil.rmtree(path, ignore_errors=True)


def build_once(final: Path, is_complete: Callable[[Path], bool], build: Callable[[Path], None]) -> bool:
    """Make `final` (a folder) exactly once among concurrent processes; returns True when it was reused.

    Under the entry's lock: when `final` is complete, reuse it; otherwise `build(temp)` fills a unique temp
    folder beside it, which then replaces any incomplete `final` by a rename. The temp folder never survives
    a failure, and no reader ever sees a half-built `final`.
    """
    with entry_lock(final):
        if is_complete(final):
            return True
        remove_dead_temps(final)
        temp = unique_temp_dir(final)
        try:
            build(temp)
            if final.exists() or final.is_symlink():
                shutil.rmtree(final, ignore_errors=True)
            os.replace(temp, final)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    return False


def evict_least_recent(folder: Path, keep: Path, max_entries: int, marker: str) -> None:
    """Remove the least recently used entries of `folder` beyond `max_entries`, counting `keep`; an entry's last use
    is its `marker` file's mtime. One in use by another build (its lock held) stays."""
    def last_use(entry: Path) -> int:
        try:
            return (entry / marker).stat().st_mtime_ns
        except OSError:
            return 0

    with contextlib.suppress(OSError):
        entries = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p != keep),
                         key=last_use, reverse=True)
        for old in entries[max_entries - 1:]:
            lock = FileLock(lock_path_for(old))
            if lock.acquire(blocking=False):
                try:
                    shutil.rmtree(old, ignore_errors=True)
                finally:
                    lock.release()
