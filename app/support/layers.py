"""Compressed bases: what a change to the app's own files leaves alone is compressed once and reused.

An artifact is made of two layers: the base (the runtime, the dependencies, the launcher, the icons: all but the
app's own files) and the app layer (the bundle's `app/` folder). The base, compressed, is kept in Kiln's cache
under a key made of its content (`tree_digest`) and of how it is compressed (tool versions, flags, levels), so a
rebuild after a change to the app's code copies the compressed base and compresses only the app layer:
mksquashfs appends to the AppImage's base image, the portable .tar.zst gets a second zstd frame.

A cold build goes the same way: it makes the base, stores it, then adds the layer. So an artifact has the same
bytes whether its base came from the cache or was just made. A cache entry is its compressed file plus a record of
the key material (kind, content digest, compression settings) and of the file's size and sha256, written into a
temporary folder and renamed into place under the entry's lock. An entry is used only when the key computed from its
record is the key it is filed under and its file matches the record (kiln.support.cache_proof): a base copied in
from another project, or cut short, is made again, with a notice, never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln import __version__
from kiln.support.cache_proof import KEY, canonical, key_of, notice, record_problem
from kiln.support.locks import FileLock, evict_least_recent, lock_path_for, remove_dead_temps, unique_temp_dir

FORMAT = 2
BASES = "bases"
"""The cache's folder of compressed bases, one folder per kind (listed and cleaned by `kiln cache`)."""
BASE = "base"
META = "base.json"
MAX_ENTRIES = 4
"""Bases kept per kind: a few, so switching between branches or Qt selections does not rebuild them each time."""

_memo: dict[tuple[str, int, int, int], str] = {}
_part_locks: dict[tuple[str, int, int, int], threading.Lock] = {}
_memo_lock = threading.Lock()


def normalized_mode(mode: int, is_dir: bool = False) -> int:
    """The mode an artifact records: folders and executable files 0755, other files 0644 (is_dir: for modes without
    the file type, as in a tar header)."""
    return 0o755 if is_dir or stat.S_ISDIR(mode) or mode & 0o111 else 0o644


def _entry_line(relative: str, path: Path, info: os.stat_result) -> str:
    if stat.S_ISLNK(info.st_mode):
        return f"L\0{relative}\0{os.readlink(path)}"
    if stat.S_ISDIR(info.st_mode):
        return f"D\0{relative}"
    with path.open("rb") as f:
        content = hashlib.file_digest(f, "sha256").hexdigest()
    return f"F\0{relative}\0{normalized_mode(info.st_mode):o}\0{info.st_size}\0{content}"


def _part_digest(root: Path) -> str:
    """The digest of one folder (names relative to it) or of one file."""
    digest = hashlib.sha256()
    info = root.lstat()
    if not stat.S_ISDIR(info.st_mode):
        digest.update(_entry_line("", root, info).encode("utf-8", "surrogateescape") + b"\n")
        return digest.hexdigest()
    seen: dict[tuple[int, int], str] = {}
    for folder, dirs, files in os.walk(root):  # symlinks to folders are entries, never followed
        dirs.sort()
        here = Path(folder)
        for name in sorted(dirs + files):
            path = here / name
            relative = path.relative_to(root).as_posix()
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) in seen:
                line = f"H\0{relative}\0{seen[(info.st_dev, info.st_ino)]}"  # archives record a hard link
            else:
                if stat.S_ISREG(info.st_mode):
                    seen[(info.st_dev, info.st_ino)] = relative
                line = _entry_line(relative, path, info)
            digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def tree_digest(parts: Sequence[tuple[str, Path]], remember: Sequence[Path] = ()) -> str:
    """A digest of folders (or single files) as an archive records them: each name below its prefix, its kind, its
    mode reduced to 0644/0755, symlink targets, second names of one file (hard links), and every file's bytes.

    Parts whose root is in `remember` (the staged runtime and dependencies, which do not change once staged) are
    hashed once per build process, however many installers ask, also when they ask at the same time.
    """
    digest = hashlib.sha256(f"tree {FORMAT}\n".encode())
    for prefix, root in parts:
        if root in remember:
            info = root.lstat()
            memo_key = (str(root), info.st_dev, info.st_ino, info.st_mtime_ns)
            with _memo_lock:
                part_lock = _part_locks.setdefault(memo_key, threading.Lock())
            with part_lock:  # a second installer waits for the first one's digest instead of hashing again
                part = _memo.get(memo_key)
                if part is None:
                    part = _memo[memo_key] = _part_digest(root)
        else:
            part = _part_digest(root)
        digest.update(f"{prefix}\0{part}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


@dataclass(frozen=True)
class BaseKey:
    """What a base is made from (`material`: kind, content digest, compression settings), and the key computed from
    it, which names its cache entry."""

    kind: str
    material: dict[str, Any]

    @property
    def digest(self) -> str:
        return key_of(self.material, 40)


def base_key(kind: str, content: str, settings: Mapping[str, object]) -> BaseKey:
    """The cache key of a base: its content digest and everything that decides how it is compressed."""
    return BaseKey(kind, canonical({"format": FORMAT, "kiln": __version__, "kind": kind, "content": content,
                                    "settings": dict(settings)}))


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _check(entry: Path, key: BaseKey) -> tuple[dict[str, Any] | None, str | None]:
    """(the entry's record, None) when it is `key`'s base, whole and unchanged; (None, why not) when the entry is
    there but is not; (None, None) when there is no entry."""
    if not entry.exists() and not entry.is_symlink():
        return None, None
    try:
        meta = json.loads((entry / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, "its record cannot be read"
    problem = record_problem(meta, key.digest)
    if problem is not None:
        return None, problem
    try:
        base = entry / BASE
        if (meta.get("format") != FORMAT or not isinstance(meta.get("info"), dict)
                or base.stat().st_size != meta["size"] or _sha256(base) != meta["sha256"]):
            return None, "its file is not the one its record describes (cut short, damaged or replaced)"
    except (OSError, KeyError, TypeError):
        return None, "its file is missing or unreadable"
    return dict(meta), None


Info = dict[str, Any]


def take_base(cache_dir: Path, key: BaseKey, make: Callable[[Path], Info | None], dest: Path,
              warn: Callable[[str], None]) -> tuple[bool, Info]:
    """Put the compressed base `key` at `dest`; returns (True when it came from the cache, its info).

    When the cache has no entry proven to be `key`'s, `make(path)` writes the base and returns what the layer on top
    needs to know of it (JSON values, kept with it), which is stored (under the entry's lock, so concurrent builds
    make it once) and then copied to `dest`; an entry that was there but not proven is replaced, and `warn` gets one
    line saying why. A cache that cannot be written costs only the reuse: the base is made straight into `dest`.
    """
    entry = cache_dir / BASES / key.kind / key.digest
    lock = FileLock(lock_path_for(entry))
    try:
        lock.acquire()
    except OSError:
        return False, make(dest) or {}
    try:
        meta, problem = _check(entry, key)
        if meta is not None:
            shutil.copyfile(entry / BASE, dest)
            with contextlib.suppress(OSError):
                os.utime(entry / META)  # last use, for eviction
            return True, meta["info"]
        if problem is not None:
            warn(notice(f"compressed base of the {key.kind} (runtime and dependencies)", problem,
                        "compressing it again"))
        try:
            remove_dead_temps(entry)
            temp = unique_temp_dir(entry)
        except OSError:
            return False, make(dest) or {}
        try:
            info = make(temp / BASE) or {}
            meta = {"format": FORMAT, KEY: key.material, "size": (temp / BASE).stat().st_size,
                    "sha256": _sha256(temp / BASE), "info": info}
            (temp / META).write_text(json.dumps(meta), encoding="utf-8")
            if entry.exists() or entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            os.replace(temp, entry)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        shutil.copyfile(entry / BASE, dest)
    finally:
        lock.release()
    evict_least_recent(entry.parent, entry, MAX_ENTRIES, META)
    return False, info

