"""Leftovers of killed Kiln processes: temporary folders whose owner is gone.

Kiln names each temporary folder `<prefix><pid>-<random>` (see `temp_prefix`), so a later run can tell a folder
of a live build (keep it) from one of a build that was killed (`kill -9`, a power cut): its pid no longer
runs. Folders from Kiln versions that did not put the pid in the name are removed once older than a day.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kiln.support.sizes import tree_size

PARTIAL = ".kiln-partial-"
"""Inside an output folder: the hidden folder an installer writes into before its artifact is renamed."""
TEMP_PREFIXES = ("kiln-build-", "kiln-pip-", "kiln-lock-", "kiln-detect-")
"""In the system temp folder: a build's work folder, pip's scratch, `kiln lock`'s, detection's."""
_LEGACY_AGE = 24 * 3600


def temp_prefix(prefix: str) -> str:
    """A mkdtemp prefix that records this process as the owner: `kiln-build-` → `kiln-build-1234-`."""
    return f"{prefix}{os.getpid()}-"


def owner_pid(name: str, prefix: str) -> int | None:
    """The pid recorded in a folder name made with `temp_prefix(prefix)`, None for other names."""
    match = re.match(re.escape(prefix) + r"(\d+)-", name)
    return int(match.group(1)) if match else None


def is_running(pid: int) -> bool:
    """True when a process `pid` exists (also when it belongs to another user)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Leftover:
    path: Path
    size: int


def find_leftovers(folder: Path, prefixes: tuple[str, ...]) -> list[Leftover]:
    """Folders in `folder` named with one of `prefixes` whose owning process is gone."""
    found: list[Leftover] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    now = time.time()
    for entry in entries:
        prefix = next((p for p in prefixes if entry.name.startswith(p)), None)
        if prefix is None:
            continue
        with contextlib.suppress(OSError):
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            pid = owner_pid(entry.name, prefix)
            stale = not is_running(pid) if pid is not None else now - entry.stat().st_mtime > _LEGACY_AGE
            if stale:
                found.append(Leftover(Path(entry.path), tree_size(Path(entry.path))))
    return found


def temp_leftovers() -> list[Leftover]:
    """Stale Kiln work folders in the system temp folder."""
    return find_leftovers(Path(tempfile.gettempdir()), TEMP_PREFIXES)


def output_leftovers(output_dir: Path) -> list[Leftover]:
    """Stale `.kiln-partial-*` folders in an output folder."""
    return find_leftovers(output_dir, (PARTIAL,))


_CACHE_TEMP_RE = re.compile(r"\..+\.partial-(\d+)-")
"""Temp folders beside cache entries (kiln.support.locks.unique_temp_dir): `.<entry>.partial-<pid>-<random>`."""


def cache_leftovers(cache_dir: Path) -> list[Leftover]:
    """Stale temp folders beside the entries of Kiln's cache (a relocation or extraction that was killed)."""
    found: list[Leftover] = []
    for folder in (cache_dir / "runtimes", cache_dir / "wheels", cache_dir / "installed"):
        with contextlib.suppress(OSError):
            for parent in [folder, *(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())]:
                for entry in parent.iterdir():
                    match = _CACHE_TEMP_RE.match(entry.name)
                    if match and entry.is_dir() and not is_running(int(match.group(1))):
                        found.append(Leftover(entry, tree_size(entry)))
    return found


def remove(leftovers: list[Leftover]) -> int:
    """Delete the leftovers; returns the bytes freed."""
    freed = 0
    for leftover in leftovers:
        shutil.rmtree(leftover.path, ignore_errors=True)
        if not leftover.path.exists():
            freed += leftover.size
    return freed
