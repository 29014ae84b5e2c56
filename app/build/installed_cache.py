"""Installed dependencies, reused: when the lock file has not changed, the tree pip made last time is linked in.

A rebuild after a change to the app's own code runs the same pip command on the same locked wheels and gets
the same files; that costs 1-2 s per target. The installed `packages/` tree is kept in Kiln's cache under a key
made of everything that decides its content (the lock file's bytes, the requirements, the index settings, the
target, the Python version and Kiln's version) and hard-linked into the next bundle, as the runtime stage
does with the relocated runtime. Apps built into a wheel (their wheel is installed together with the
dependencies) always go through pip.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kiln import __version__
from kiln.build import dependencies as deps
from kiln.model import lockfile
from kiln.model.project import DependenciesSection
from kiln.support.targets import Target

FORMAT = 1


def _key(section: DependenciesSection, base_dir: Path, target: Target, python_version: str,
         lock_file: Path | None) -> str | None:
    if lock_file is None or not lock_file.is_file():
        return None
    digest = hashlib.sha256()
    payload = {"format": FORMAT, "kiln": __version__, "target": target.name, "python": python_version,
               "requirements": deps.read_requirements(section, base_dir),
               "index": deps.index_args(section, base_dir)}
    digest.update(json.dumps(payload, sort_keys=True).encode())
    digest.update(lock_file.read_bytes())
    return digest.hexdigest()[:32]


def _link_tree(source: Path, dest: Path) -> None:
    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, dest, symlinks=True, copy_function=link_or_copy, dirs_exist_ok=True)


def _result(data: dict[str, Any]) -> deps.DepsResult:
    return deps.DepsResult(installed=[lockfile.LockedPackage(**d) for d in data["installed"]],
                           reused_wheels=True, locked=bool(data["locked"]))


def install_reusing(section: DependenciesSection, base_dir: Path, target: Target, python_version: str, dest: Path,
                    cache_dir: Path, lock_file: Path | None) -> tuple[deps.DepsResult, bool]:
    """deps.install, or the tree it made for the same lock; returns (result, reused)."""
    store = cache_dir / "installed"
    key = _key(section, base_dir, target, python_version, lock_file)
    if key is not None and (store / key / "result.json").is_file():
        data = json.loads((store / key / "result.json").read_text(encoding="utf-8"))
        dest.mkdir(parents=True, exist_ok=True)
        _link_tree(store / key / "packages", dest)
        return _result(data), True
    result = deps.install(section, base_dir, target, python_version, dest, cache_dir / "wheels",
                          lock_file=lock_file)
    key = _key(section, base_dir, target, python_version, lock_file)  # the lock as this install left it
    if key is not None and dest.is_dir():
        _store(store, key, dest, result)
    return result, False


def _store(store: Path, key: str, packages: Path, result: deps.DepsResult) -> None:
    """Copy the fresh tree into the cache (real copies: later stages delete and add files in the bundle, and
    a copy is never changed through a link), then publish it with one rename."""
    store.mkdir(parents=True, exist_ok=True)
    temp = store / f".{key}.{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    try:
        shutil.copytree(packages, temp / "packages", symlinks=True)
        (temp / "result.json").write_text(json.dumps({"installed": [asdict(d) for d in result.installed],
                                                      "locked": result.locked}), encoding="utf-8")
        os.rename(temp, store / key)
    except OSError:
        pass  # another build stored the same key first, or the cache is read-only: nothing lost
    finally:
        shutil.rmtree(temp, ignore_errors=True)
