"""Safe archive extraction (tar.gz, tar.zst, tar.bz2, tar.xz, zip): nothing lands outside the destination."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import zstandard

from kiln.support.errors import KilnError

_MAGIC = {
    b"\x1f\x8b": "gz",
    b"\x28\xb5\x2f\xfd": "zst",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"PK\x05\x06": "zip",
}
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class UnsafeArchive(KilnError):
    """An archive entry that would escape the destination or create something other than files, dirs and links."""

    def __init__(self, archive: Path, entry: str, reason: str) -> None:
        super().__init__(
            f"refused to extract {archive.name}: entry '{entry}' {reason}",
            hint="the archive is damaged or was tampered with; get it again from a trusted source",
        )
        self.entry = entry
        self.reason = reason


def archive_kind(archive: Path) -> str:
    """gz, zst, bz2, xz, zip or tar, from the file's first bytes (names can lie)."""
    with archive.open("rb") as f:
        head = f.read(512)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    raise KilnError(
        f"{archive.name} is not a supported archive (expected .tar.gz, .tar.zst, .tar.bz2, .tar.xz or .zip)",
        hint="python-build-standalone install_only archives end in .tar.gz",
    )


class _StrictZstdReader(io.RawIOBase):
    """zstd decompression that raises EOFError when the input ends inside a frame (stream_reader stops quietly)."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self._raw = raw
        self._decompressor = zstandard.ZstdDecompressor().decompressobj()
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = self._raw.read(1 << 16)
            if not chunk:
                if not self._decompressor.eof:
                    raise EOFError("the zstd stream ended before the end of its frame (truncated file)")
                return 0
            if self._decompressor.eof:  # another frame follows
                self._decompressor = zstandard.ZstdDecompressor().decompressobj()
            self._pending = memoryview(self._decompressor.decompress(chunk))
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def extract_archive(archive: Path, dest: Path) -> Path:
    """Extract `archive` into the new folder `dest` and return it.

    Entries go into a temp folder beside `dest`, which is renamed to `dest` only once everything was extracted
    and checked; on any error the temp folder is removed and `dest` does not exist.
    """
    if dest.exists():
        raise KilnError(f"cannot extract into {dest}: it already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extract-", dir=dest.parent))
    try:
        kind = archive_kind(archive)
        try:
            if kind == "zip":
                _extract_zip(archive, temp)
            else:
                _extract_tar(archive, kind, temp)
        except (tarfile.TarError, zipfile.BadZipFile, zstandard.ZstdError, zlib.error, EOFError) as e:
            raise KilnError(
                f"{archive.name} is damaged and cannot be extracted ({e})",
                hint="delete it and download it again",
            ) from None
        _check_links(archive, temp)
        os.rename(temp, dest)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return dest


def safe_relpath(archive: Path, name: str) -> str:
    """The entry name as a clean relative POSIX path, or UnsafeArchive for absolute paths and `..` parts."""
    if "\\" in name:
        raise UnsafeArchive(archive, name, "contains a backslash (not a portable path)")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or (parts and _DRIVE_RE.match(parts[0])):
        raise UnsafeArchive(archive, name, "has an absolute path")
    if ".." in parts:
        raise UnsafeArchive(archive, name, "has a '..' component (would write outside the destination)")
    return "/".join(parts)


def _check_parents(archive: Path, root: Path, rel: str) -> Path:
    """Refuse to write through a symlink created by an earlier entry (a classic way out of the destination)."""
    path = root
    for part in rel.split("/")[:-1]:
        path = path / part
        if path.is_symlink():
            raise UnsafeArchive(archive, rel, f"goes through the symlink '{path.relative_to(root)}'")
    target = root / rel
    if target.is_symlink():
        raise UnsafeArchive(archive, rel, "would overwrite a symlink")
    return target


def _check_symlink_target(archive: Path, rel: str, linkname: str) -> None:
    if linkname.startswith(("/", "\\")) or _DRIVE_RE.match(linkname):
        raise UnsafeArchive(archive, rel, f"is a symlink to the absolute path '{linkname}'")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), linkname))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchive(archive, rel, f"is a symlink pointing outside the destination ('{linkname}')")


def _extract_tar(archive: Path, kind: str, root: Path) -> None:
    if not hasattr(tarfile, "data_filter"):
        raise KilnError("safe extraction needs Python 3.11.4 or newer (tarfile extraction filters)")
    with contextlib.ExitStack() as stack:
        # Decompress here rather than with tarfile's "r|gz": these raise EOFError on a truncated file, where
        # tarfile's stream would quietly stop at the cut and leave a half runtime.
        stream: io.BufferedIOBase
        if kind == "zst":
            stream = io.BufferedReader(_StrictZstdReader(stack.enter_context(archive.open("rb"))), 1 << 16)
        elif kind == "gz":
            stream = stack.enter_context(gzip.open(archive, "rb"))
        elif kind == "bz2":
            stream = stack.enter_context(bz2.open(archive, "rb"))
        elif kind == "xz":
            stream = stack.enter_context(lzma.open(archive, "rb"))
        else:
            stream = stack.enter_context(archive.open("rb"))
        tar = stack.enter_context(tarfile.open(fileobj=stream, mode="r|"))
        for member in tar:
            rel = safe_relpath(archive, member.name)
            if not rel:
                continue
            target = _check_parents(archive, root, rel)
            if member.ischr() or member.isblk():
                raise UnsafeArchive(archive, member.name, "is a device file")
            if member.isfifo() or not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
                raise UnsafeArchive(archive, member.name, "is a special file (not a file, folder or link)")
            if member.issym():
                _check_symlink_target(archive, rel, member.linkname)
            if member.islnk():
                link_rel = safe_relpath(archive, member.linkname)
                source = root / link_rel
                if not link_rel or source.is_symlink() or not source.is_file():
                    reason = f"is a hardlink to '{member.linkname}', which is not a file in the archive"
                    raise UnsafeArchive(archive, member.name, reason)
                member.linkname = link_rel
            member.name = rel
            if member.isdir():
                # Folders are created plainly: a read-only folder mode must not block the entries inside it.
                target.mkdir(parents=True, exist_ok=True)
                continue
            try:
                tar.extract(member, root, filter="data")
            except tarfile.FilterError as e:
                raise UnsafeArchive(archive, member.name, f"was refused by the extraction filter: {e}") from None


def _extract_zip(archive: Path, root: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            rel = safe_relpath(archive, info.filename)
            if not rel:
                continue
            target = _check_parents(archive, root, rel)
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if kind in (stat.S_IFCHR, stat.S_IFBLK):
                raise UnsafeArchive(archive, info.filename, "is a device file")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
                raise UnsafeArchive(archive, info.filename, "is a special file (not a file, folder or link)")
            if info.is_dir() or kind == stat.S_IFDIR:
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if kind == stat.S_IFLNK:
                linkname = zf.read(info).decode("utf-8", errors="replace")
                _check_symlink_target(archive, rel, linkname)
                os.symlink(linkname, target)
                continue
            with zf.open(info) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
            # Keep the owner's executable bit (zip has no other reliable permission data); never setuid & co.
            target.chmod(0o755 if mode & 0o100 else 0o644)


def _check_links(archive: Path, root: Path) -> None:
    """Last line of defence: every symlink in the finished tree must resolve inside it (catches link chains)."""
    real_root = os.path.realpath(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                resolved = os.path.realpath(path)
                if os.path.commonpath([resolved, real_root]) != real_root:
                    entry = os.path.relpath(path, root).replace(os.sep, "/")
                    raise UnsafeArchive(archive, entry, f"is a symlink resolving outside the destination ({resolved})")
