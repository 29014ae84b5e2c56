"""`kiln inspect` for a portable .tar.zst: files and sizes by top-level folder."""

from __future__ import annotations

import contextlib
import posixpath
import tarfile
from collections.abc import Iterator
from pathlib import Path

import zstandard

from kiln.support.errors import KilnError
from kiln.support.limits import ARCHIVE_MEMBERS_MAX
from kiln.support.sizes import human_size

_LISTED_UNSAFE = 10


@contextlib.contextmanager
def open_archive(path: Path) -> Iterator[tarfile.TarFile]:
    """The portable .tar.zst as a streamed tar. Kiln writes two zstd frames (the cached base, then the app), and
    zstandard's stream reader stops after the first unless told otherwise: every reader goes through here."""
    with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        yield tar


def extract(path: Path, into: Path) -> None:
    """Unpack the archive into `into`, refusing anything that would land outside it (tarfile's "data" filter)."""
    with open_archive(path) as tar:
        tar.extractall(into, filter="data")


def describe(path: Path) -> str:
    """Files and sizes by top-level folder, and a warning for every member that would land outside the folder."""
    sizes: dict[str, int] = {}
    count = members = 0
    unsafe: list[str] = []
    try:
        with open_archive(path) as tar:
            while (member := tar.next()) is not None:
                tar.members.clear()  # type: ignore[attr-defined]  # a streamed tar keeps all it read: keep memory flat
                members += 1
                if members > ARCHIVE_MEMBERS_MAX:
                    raise KilnError(f"{path.name}: more than {ARCHIVE_MEMBERS_MAX:,} members; Kiln lists archives "
                                    "of up to that many", hint="a portable bundle holds tens of thousands of files")
                if (why := unsafe_member(member)) is not None:
                    unsafe.append(f"{_shown(member.name)} ({why})")
                parts = member.name.split("/")
                if member.isfile():
                    count += 1
                    key = "/".join(parts[:2])
                    sizes[key] = sizes.get(key, 0) + member.size
    except (tarfile.TarError, zstandard.ZstdError, EOFError) as e:
        raise KilnError(f"{path.name}: not a readable .tar.zst ({e})") from None
    lines = [f"{path.name}: portable folder (.tar.zst), {human_size(path.stat().st_size)}, {count} files"]
    lines += [f"  {human_size(size):>10}  {_shown(key)}" for key, size in sorted(sizes.items(), key=lambda kv: -kv[1])]
    if unsafe:
        lines.append(f"warning: {len(unsafe)} member(s) would land outside the folder they are unpacked into (Kiln "
                     "never writes such archives, and its own unpacking refuses them):")
        lines += [f"  {entry}" for entry in unsafe[:_LISTED_UNSAFE]]
        if len(unsafe) > _LISTED_UNSAFE:
            lines.append(f"  … and {len(unsafe) - _LISTED_UNSAFE} more")
    return "\n".join(lines)


def unsafe_member(member: tarfile.TarInfo) -> str | None:
    """Why unpacking `member` would write outside the destination (tarfile's "data" filter refuses it), or None."""
    name = member.name
    if name.startswith("/"):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a '..' step in its path"
    if member.issym() or member.islnk():
        target = member.linkname
        if target.startswith("/"):
            return f"a link to the absolute path {_shown(target)}"
        base = posixpath.dirname(name) if member.issym() else ""
        if posixpath.normpath(posixpath.join(base, target)).split("/")[0] == "..":
            return f"a link to {_shown(target)}, outside the folder"
    if member.isdev() or member.isfifo():
        return "a device or FIFO"
    return None


def _shown(text: str) -> str:
    """A name from the archive, on one line with control characters made visible."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
