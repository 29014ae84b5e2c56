"""`kiln.lock`, the lock of Kiln before PEP 751, read once so that it can be converted (kiln.engine.lock_convert).

It held, per platform, the exact wheels pip installed (name, version, file, sha256; the app's own wheel marked
`built`), a digest of the inputs, and the runtimes pinned from the package index.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kiln.model.pylock import LockedRuntime
from kiln.support.errors import KilnError

LOCK_VERSION = 1


@dataclass(frozen=True)
class LegacyPackage:
    name: str
    version: str
    wheel: str
    """The wheel's file name, e.g. rich-13.7.1-py3-none-any.whl."""
    sha256: str
    built: bool = False
    """The app's own wheel (never pinned)."""


@dataclass
class LegacyLock:
    python: str
    platforms: dict[str, list[LegacyPackage]] = field(default_factory=dict)
    inputs: str = ""
    """kiln.model.pylock.inputs_digest of the inputs it was made from (the same formula)."""
    runtimes: dict[str, LockedRuntime] = field(default_factory=dict)


def read_lock(path: Path) -> LegacyLock | None:
    """The kiln.lock at `path`, None if there is none; a damaged one is a KilnError (never silently ignored)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise KilnError(f"{path}: cannot read the old lock file ({e})",
                        hint="delete it: Kiln resolves again and writes its pylock.<platform>.toml files") from None
    try:
        if data.get("version") != LOCK_VERSION:
            raise ValueError(f"unsupported lock version {data.get('version')!r}")
        platforms = {
            str(platform): [LegacyPackage(str(i["name"]), str(i["version"]), str(i["wheel"]), str(i["sha256"]),
                                          built=bool(i.get("built", False))) for i in items]
            for platform, items in dict(data.get("platforms", {})).items()
        }
        runtimes = {
            str(platform): LockedRuntime(str(i["package"]), str(i["version"]), str(i["file"]), str(i["sha256"]))
            for platform, i in dict(data.get("runtimes", {})).items()
        }
        return LegacyLock(python=str(data["python"]), platforms=platforms, inputs=str(data.get("inputs", "")),
                          runtimes=runtimes)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise KilnError(f"{path}: the old lock file is damaged ({e})",
                        hint="delete it: Kiln resolves again and writes its pylock.<platform>.toml files") from None
