"""Operating-system errors that are the user's situation, not Kiln's bug: a full disk, a read-only or
forbidden folder, an over-long name. They become KilnErrors naming the path (and the free space)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from kiln.support.errors import KilnError

_USER_ERRNOS = {
    errno.ENOSPC: ("no space left on the device", "free some space, or set build.output_dir / KILN_CACHE_DIR to "
                   "a disk with room"),
    errno.EDQUOT: ("the disk quota is exceeded", "free some space, or use another disk"),
    errno.EROFS: ("the file system is read-only", "choose a writable folder"),
    errno.EACCES: ("permission denied", "choose a folder you can write to, or fix its permissions"),
    errno.EPERM: ("the operation is not permitted", "choose a folder you own"),
    errno.ENAMETOOLONG: ("a file or folder name is too long (over 255 bytes)", "use shorter names"),
    errno.ELOOP: ("a symbolic link loop", "remove the looping link"),
    errno.EMFILE: ("too many open files", "raise the limit (ulimit -n) and build again"),
}


def free_space(path: Path) -> int | None:
    """Bytes free on the disk holding `path` (or its nearest existing parent), None when unknown."""
    folder = path
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _human(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def _find_os_error(error: BaseException) -> OSError | None:
    """The OSError behind `error` (itself, its cause or context, or the first of a shutil.Error's list)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, shutil.Error) and current.args and isinstance(current.args[0], list):
            for item in current.args[0]:  # (source, destination, reason) triples
                reason = item[2] if isinstance(item, tuple) and len(item) == 3 else ""
                for number in _USER_ERRNOS:
                    if os.strerror(number) in str(reason):
                        return OSError(number, os.strerror(number), str(item[1]))
        if isinstance(current, OSError) and current.errno in _USER_ERRNOS:
            return current
        current = current.__cause__ or current.__context__
    return None


def _full_path(error: OSError) -> str | None:
    """The path a full-disk error is about. A copy (shutil.copyfile) that fills the disk reports the source as
    `filename` and the destination as `filename2`: the destination is the one written to, so of the two it is the
    one on the fuller disk that is named (the destination when both are on one)."""
    paths = [os.fsdecode(p) for p in (error.filename2, error.filename) if p is not None]
    if len(paths) < 2:
        return paths[0] if paths else None
    return min(paths, key=lambda p: _free_or_plenty(Path(p)))


def _free_or_plenty(path: Path) -> int:
    free = free_space(path)
    return free if free is not None else 1 << 62


def user_error(error: BaseException, places: tuple[Path, ...] = ()) -> KilnError | None:
    """A KilnError for an OSError the user can act on (full disk, read-only, forbidden…), else None.

    An error without a file name (a write that fills the disk mid-file) is put on the fullest of `places`,
    the folders the caller was writing into (the output folder, the work folder, the cache)."""
    found = _find_os_error(error)
    if found is None or found.errno is None:
        return None
    what, hint = _USER_ERRNOS[found.errno]
    full = found.errno in (errno.ENOSPC, errno.EDQUOT)
    path = _full_path(found) if full else found.filename
    if path is None and places and full:
        path = str(min(places, key=lambda place: free_space(place) or 0))
    where = f"{os.fsdecode(path)}: " if path is not None else ""
    message = f"{where}{what}"
    if found.errno in (errno.ENOSPC, errno.EDQUOT) and path is not None:
        free = free_space(Path(os.fsdecode(path)))
        if free is not None:
            message += f" ({_human(free)} free there)"
    return KilnError(message, hint=hint)
