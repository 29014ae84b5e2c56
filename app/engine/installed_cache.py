"""Installed dependencies, reused: when Kiln's lock has not changed, the tree pip made last time is linked in.

A rebuild after a change to the app's own code runs the same pip command on the same locked wheels and gets
the same files; that costs 1-2 s per target. The installed `packages/` tree is kept in Kiln's cache under a key
made of everything that decides its content (the target's lock file's bytes, the requirements, the developer's
lock, the index settings, the target, the Python version and Kiln's version) and hard-linked into the next
bundle, as the runtime stage does with the relocated runtime. For an app built into a wheel, pip installs the
wheel after the dependencies; the tree kept is the dependencies alone (kiln.engine.app_layer takes the app out and
puts it into the bundle's app/), under a key that also holds the app's own requirements, so a change to the app's
code finds it again.

The tree is also compiled to bytecode once, in the cache, beside it: one compiled copy per way of compiling
(the interpreter, `[build] optimize` and `keep_sources`). Its sources stay in it, so the payload stage can still
read them (entry point, tkinter and Qt checks); the build then drops the compiled sources from its linked copy
(`kiln.support.bytecode.finish_tree`), which leaves exactly what compiling in the bundle would have.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from kiln import __version__
from kiln.engine import dependencies as deps
from kiln.engine.app_layer import remove_distribution
from kiln.engine.payload import remove_unshipped
from kiln.engine.sources import keep_for
from kiln.model import pylock
from kiln.model.project import DependenciesSection
from kiln.runtimes.cache import INSTALLED
from kiln.source.app_wheel import AppMetadata, read_app_metadata
from kiln.support import bytecode
from kiln.support.hashing import file_sha256
from kiln.support.links import link_tree
from kiln.support.locks import build_once
from kiln.support.targets import Target

FORMAT = 2
COMPILED_FORMAT = 2
"""The compiled copies' layout (compiled.json records which sources stay): part of each copy's variant."""


@dataclass(frozen=True)
class Bytecode:
    """How the bundle's Python files are compiled: the target's interpreter (None: the running one, of the same
    version), its full version, and `[build] optimize` / `keep_sources`."""

    python: Path | None
    python_full_version: str
    optimize: int
    keep_sources: bool | str
    """`[build] keep_sources`: True, False or "auto" (kiln.engine.sources decides per package, from the tree)."""

    def variant(self) -> str:
        text = json.dumps([self.python_full_version, self.optimize, self.keep_sources, bytecode.script_digest(),
                           COMPILED_FORMAT])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _key(section: DependenciesSection, base_dir: Path, target: Target, python_version: str,
         lock_dir: Path | None, source_root: Path | None, cache_dir: Path, app: AppMetadata | None = None,
         ) -> str | None:
    lock_file = pylock.lock_file(lock_dir, target.name) if lock_dir is not None else None
    if lock_file is None or not lock_file.is_file():
        return None
    developer = deps.find_developer_lock(section, base_dir, source_root, cache_dir)
    digest = hashlib.sha256()
    payload = {"format": FORMAT, "kiln": __version__, "target": target.name, "python": python_version,
               "requirements": deps.read_requirements(section, base_dir),
               "developer_lock": developer.sha256 if developer else "", "extras": section.extras,
               "index": deps.index_args(section, base_dir)}
    if app is not None:  # the lock's own inputs may predate a requirement the app gained
        payload["app_requires"] = list(app.requires_dist)
    digest.update(json.dumps(payload, sort_keys=True).encode())
    digest.update(lock_file.read_bytes())
    return digest.hexdigest()[:32]


def _result(data: dict[str, Any], platform: str, lock_name: str) -> deps.DepsResult:
    """A reused tree is the lock's own set: its key is made of Kiln's lock (whether the install that made it
    resolved first or installed from the lock), so what was resolved then comes from Kiln's lock now."""
    installed = [deps.Installed(**{**d, "source": "kiln-lock" if d["source"] == "resolved" else d["source"]})
                 for d in data["installed"]]
    developer = str(data.get("developer_lock", ""))
    notes = [deps.summary(platform, [d for d in installed if not d.built], developer,
                          f"Kiln's lock ({lock_name}, unchanged)")]
    return deps.DepsResult(installed=installed, reused_wheels=True, locked=True, developer_lock=developer,
                           notes=notes)


def install_reusing(section: DependenciesSection, base_dir: Path, target: Target, python_version: str, dest: Path,
                    cache_dir: Path, lock_dir: Path | None,
                    compile_with: Callable[[], Bytecode | None] | None = None, source_root: Path | None = None,
                    app_wheel: Path | None = None) -> tuple[deps.DepsResult, bool, bytecode.Compiled | None]:
    """deps.install, or the tree it made for the same lock; returns (result, reused, compiled).

    With `compile_with` (asked once the tree is there: the runtime that compiles may still be on its way) giving a
    Bytecode, `dest` receives the cached compiled copy (sources still in it, __pycache__ and bin/ already gone):
    `compiled` says what was compiled, for bytecode.finish_tree. It is None when the tree could not be cached (no
    lock, a read-only cache): then `dest` holds pip's tree, to be compiled in place.

    `app_wheel` is the app's own wheel: resolved with the dependencies, but not left in `dest` (kiln.engine.app_layer
    puts it into the bundle's app/ folder); the result lists it.
    """
    store = cache_dir / INSTALLED
    app = read_app_metadata(app_wheel) if app_wheel is not None else None
    key = _key(section, base_dir, target, python_version, lock_dir, source_root, cache_dir, app)
    reused = key is not None and (store / key / "result.json").is_file()
    if reused:
        data = json.loads((store / key / "result.json").read_text(encoding="utf-8"))  # type: ignore[operator]
        result = _result(data, target.name, pylock.lock_name(target.name))
    else:
        result = deps.install(section, base_dir, target, python_version, dest, cache_dir, lock_dir=lock_dir,
                              source_root=source_root, app_wheel=app_wheel)
        if app is not None:
            remove_distribution(dest, app.name)
        # the lock as this install left it
        key = _key(section, base_dir, target, python_version, lock_dir, source_root, cache_dir, app)
        if key is not None and dest.is_dir():
            _store(store, key, dest, result)
    if app_wheel is not None and app is not None:  # the wheel built now, whichever build stored the tree
        name = str(canonicalize_name(app.name))
        result.installed = sorted([*(d for d in result.installed if not d.built), deps.Installed(
            name, app.version, app_wheel.name, file_sha256(app_wheel), built=True, source="app")],
            key=lambda d: d.name)
    entry = store / key if key is not None else None
    compiled = None
    how = compile_with() if compile_with is not None else None
    if entry is not None and how is not None and (entry / "result.json").is_file():
        compiled = _compiled(entry, how)
    if entry is not None and how is not None and compiled is not None:
        source: Path | None = entry / "compiled" / how.variant() / "packages"
    elif entry is not None and reused:
        source = entry / "packages"
    else:
        source = None  # `dest` keeps the tree pip just made
    if source is not None:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        link_tree(source, dest, dirs_exist_ok=True)
    return result, reused, compiled


def _compiled(entry: Path, how: Bytecode) -> bytecode.Compiled | None:
    """The compiled copy of an entry's tree for `how`, made once (under the entry's lock); None if it cannot be."""
    final = entry / "compiled" / how.variant()

    def complete(folder: Path) -> bool:
        return (folder / "compiled.json").is_file() and (folder / "packages").is_dir()

    def make(temp: Path) -> None:
        shutil.copytree(entry / "packages", temp / "packages", symlinks=True)
        remove_unshipped(temp / "packages")
        keep, reasons = keep_for(how.keep_sources, temp / "packages")
        done = bytecode.precompile_tree(how.python, temp / "packages", how.optimize, keep)
        (temp / "compiled.json").write_text(json.dumps({
            "pairs": done.pairs, "failed": done.failed, "keep": bytecode.keep_to_json(keep), "reasons": reasons,
        }), encoding="utf-8")

    try:
        build_once(final, complete, make)
        data = json.loads((final / "compiled.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a read-only or broken cache: the build compiles in the bundle instead
    return bytecode.Compiled([(a, b) for a, b in data["pairs"]], list(data["failed"]),
                             bytecode.keep_from_json(data["keep"]), dict(data["reasons"]))


def _store(store: Path, key: str, packages: Path, result: deps.DepsResult) -> None:
    """Copy the fresh tree into the cache (real copies: later stages delete and add files in the bundle, and
    a copy is never changed through a link), then publish it with one rename."""
    store.mkdir(parents=True, exist_ok=True)
    temp = store / f".{key}.{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    try:
        shutil.copytree(packages, temp / "packages", symlinks=True)
        (temp / "result.json").write_text(json.dumps({"installed": [asdict(d) for d in result.installed],
                                                      "locked": result.locked,
                                                      "developer_lock": result.developer_lock}), encoding="utf-8")
        os.rename(temp, store / key)
    except OSError:
        pass  # another build stored the same key first, or the cache is read-only: nothing lost
    finally:
        shutil.rmtree(temp, ignore_errors=True)
