"""`kiln inspect FILE`: describes a built artifact; each format's reader lives with its installer."""

from __future__ import annotations

import importlib
import tarfile
from pathlib import Path

import zstandard

from kiln.cli.render import human_size
from kiln.model.errors import KilnError

# File ending → "module:function" returning a text description.
READERS = {
    ".tar.zst": "kiln.cli.inspect:describe_portable",
    ".appimage": "kiln.installers.appimage.installer:describe",
    ".msi": "kiln.installers.msi.installer:describe",
    ".dmg": "kiln.installers.dmg.installer:describe",
}


def inspect_artifact(path: Path) -> str:
    if not path.is_file():
        raise KilnError(f"{path}: no such file")
    name = path.name.lower()
    for ending, target in READERS.items():
        if name.endswith(ending):
            module_name, function = target.split(":")
            describe = getattr(importlib.import_module(module_name), function)
            text: str = describe(path)
            return text
    raise KilnError(f"{path.name}: not an artifact Kiln knows", hint=f"kiln inspect reads {', '.join(READERS)}")


def describe_portable(path: Path) -> str:
    sizes: dict[str, int] = {}
    count = 0
    try:
        with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream, tarfile.open(
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
