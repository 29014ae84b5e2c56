"""`kiln inspect` for a portable .tar.zst: files and sizes by top-level folder."""

from __future__ import annotations

import tarfile
from pathlib import Path

import zstandard

from kiln.model.errors import KilnError
from kiln.support.sizes import human_size


def describe(path: Path) -> str:
    sizes: dict[str, int] = {}
    count = 0
    try:
        with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(
            raw, read_across_frames=True  # Kiln writes two frames: the cached base, then the app
        ) as stream, tarfile.open(
            fileobj=stream, mode="r|"
        ) as tar:
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
