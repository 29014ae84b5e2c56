"""The one-time conversion of `kiln.lock` (Kiln's lock before PEP 751) into `pylock.<platform>.toml` files.

A platform's versions carry over when kiln.lock was current for the project's inputs: they are resolved for the
platform as exact pins (so the files' URLs are found and the platform's markers are evaluated, which pip's
resolution never did for a foreign platform), and the wheel kiln.lock named is chosen again when the platform's
files include it with the same sha256. The runtime pinned in kiln.lock (python.org's embeddable CPython) moves to
the Windows lock's `[tool.kiln.runtime]` (kiln.runtimes.embed). Once every platform of the project has its
pylock file, kiln.lock is renamed `kiln.lock.old`, with a note, and never read again. Nothing of the project file
(the MSI's upgrade code and other generated values) is touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from kiln.model import pylock
from kiln.model.legacy_lock import read_lock

OLD_SUFFIX = ".old"


def legacy_pins(lock_dir: Path, platform: str, inputs: str) -> tuple[dict[str, str], dict[str, str]]:
    """kiln.lock's ({name: version}, {name: sha256}) for `platform` when it was made from these inputs (else none:
    a stale kiln.lock would have been resolved again too)."""
    legacy = read_lock(lock_dir / pylock.LEGACY_NAME)
    if legacy is None or legacy.inputs != inputs or platform not in legacy.platforms:
        return {}, {}
    packages = [p for p in legacy.platforms[platform] if not p.built]
    return {p.name: p.version for p in packages}, {p.name: p.sha256 for p in packages}


def finish(lock_dir: Path, platforms: Iterable[str]) -> str | None:
    """Once each of `platforms` has its lock, move kiln.lock's runtime pins into them and rename kiln.lock to
    kiln.lock.old; the note to show, or None."""
    path = lock_dir / pylock.LEGACY_NAME
    legacy = read_lock(path)
    if legacy is None:
        return None
    locks = {p: pylock.read(pylock.lock_file(lock_dir, p)) for p in platforms}
    if any(lock is None or not lock.inputs for lock in locks.values()):
        return None
    for platform, lock in locks.items():  # a pinned runtime moves to its platform's lock (if not moved already)
        pin = legacy.runtimes.get(platform)
        if lock is not None and lock.runtime is None and pin is not None:
            pylock.write(pylock.lock_file(lock_dir, platform), replace(lock, runtime=pin))
    os.replace(path, path.with_name(path.name + OLD_SUFFIX))
    names = ", ".join(pylock.lock_name(p) for p in sorted(locks))
    return (f"converted {pylock.LEGACY_NAME} to PEP 751 locks ({names}); the old file is kept as "
            f"{pylock.LEGACY_NAME}{OLD_SUFFIX} and no longer read (delete it when you like)")
