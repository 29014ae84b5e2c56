"""`kiln inspect` for a portable .tar.zst: files and sizes by top-level folder."""

from __future__ import annotations

import contextlib
import tarfile
from collections.abc import Iterator
from pathlib import Path

import zstandard

from kiln.support.errors import KilnError
from kiln.support.sizes import human_size


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
    sizes: dict[str, int] = {}
    count = 0
    try:
        with open_archive(path) as tar:
            for member in tar:
                parts = member.name.split("/")
                if member.isfile():
                    count += 1
                    key = "/".join(parts[:2])
                    sizes[key] = sizes.get(key, 0) + member.size
    except (tarfile.TarError, zstandard.ZstdError) as e:
        raise KilnError(f"{path.name}: not a readable .tar.zst ({e})") from None
    lines = [f"{path.name}: portable folder (.tar.zst), {human_size(path.stat().st_size)}, {count} files"]
    lines += [f"  {human_size(size):>10}  {key}" for key, size in sorted(sizes.items(), key=lambda kv: -kv[1])]
    return "\n".join(lines)
