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

An entry proves it is the one its key names (kiln.support.cache_proof): its record holds the key material (with
the lock file's sha256) and the digest of its tree, and a compiled copy's record names its entry, its way of
compiling and its own tree's digest. The key is computed again from the record, and the tree a build links is
hashed again; an entry or copy that fails is discarded and made again, with a notice.
"""

from __future__ import annotations

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
from kiln.support.cache_proof import KEY, canonical, key_of, notice, record_problem
from kiln.support.hashing import file_sha256
from kiln.support.layers import tree_digest
from kiln.support.links import link_tree
from kiln.support.locks import build_once, entry_lock
from kiln.support.targets import Target

FORMAT = 3
RECORD = "result.json"
"""An entry's record: its key material, what was installed, and the digest of its `packages/` tree."""
COMPILED_RECORD = "compiled.json"
"""A compiled copy's record: its key material (the entry's key and the way of compiling), its tree's digest, and
what was compiled (which sources stay)."""
COMPILED_FORMAT = 3
KEY_LENGTH = 32


@dataclass(frozen=True)
class Bytecode:
    """How the bundle's Python files are compiled: the target's interpreter (None: the running one, of the same
    version), its full version, and `[build] optimize` / `keep_sources`."""

    python: Path | None
    python_full_version: str
    optimize: int
    keep_sources: bool | str
    """`[build] keep_sources`: True, False or "auto" (kiln.engine.sources decides per package, from the tree)."""

    def material(self) -> dict[str, Any]:
        return {"python": self.python_full_version, "optimize": self.optimize, "keep_sources": self.keep_sources,
                "script": bytecode.script_digest(), "format": COMPILED_FORMAT}


def key_material(section: DependenciesSection, base_dir: Path, target: Target, python_version: str,
                 lock_dir: Path | None, source_root: Path | None, cache_dir: Path,
                 app: AppMetadata | None = None) -> dict[str, Any] | None:
    """What decides an installed tree's content: Kiln's lock for the target (by the sha256 of its bytes), the
    requirements, the developer's lock, the extras, the index settings, the target, the Python version and Kiln's
    version, and for an app built into a wheel its own requirements. None without a lock."""
    lock_file = pylock.lock_file(lock_dir, target.name) if lock_dir is not None else None
    if lock_file is None or not lock_file.is_file():
        return None
    developer = deps.find_developer_lock(section, base_dir, source_root, cache_dir)
    material: dict[str, Any] = {
        "format": FORMAT, "kiln": __version__, "target": target.name, "python": python_version,
        "requirements": deps.read_requirements(section, base_dir),
        "developer_lock": developer.sha256 if developer else "", "extras": section.extras,
        "index": deps.index_args(section, base_dir), "lock": file_sha256(lock_file)}
    if app is not None:  # the lock's own inputs may predate a requirement the app gained
        material["app_requires"] = list(app.requires_dist)
    return canonical(material)


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


class _Unproven(Exception):
    """A cached tree is not the one its record describes (the message says how)."""


def install_reusing(section: DependenciesSection, base_dir: Path, target: Target, python_version: str, dest: Path,
                    cache_dir: Path, lock_dir: Path | None,
                    compile_with: Callable[[], Bytecode | None] | None = None, source_root: Path | None = None,
                    app_wheel: Path | None = None, warn: Callable[[str], None] = lambda _line: None,
                    ) -> tuple[deps.DepsResult, bool, bytecode.Compiled | None]:
    """deps.install, or the tree it made for the same lock; returns (result, reused, compiled).

    With `compile_with` (asked once the tree is there: the runtime that compiles may still be on its way) giving a
    Bytecode, `dest` receives the cached compiled copy (sources still in it, __pycache__ and bin/ already gone):
    `compiled` says what was compiled, for bytecode.finish_tree. It is None when the tree could not be cached (no
    lock, a read-only cache): then `dest` holds pip's tree, to be compiled in place.

    `app_wheel` is the app's own wheel: resolved with the dependencies, but not left in `dest` (kiln.engine.app_layer
    puts it into the bundle's app/ folder); the result lists it.

    A cached entry or compiled copy that does not prove to be this key's is discarded, and `warn` says so in a line.
    """
    store = cache_dir / INSTALLED
    app = read_app_metadata(app_wheel) if app_wheel is not None else None

    def material_now() -> dict[str, Any] | None:
        return key_material(section, base_dir, target, python_version, lock_dir, source_root, cache_dir, app)

    material = material_now()
    entry = store / key_of(material, KEY_LENGTH) if material is not None else None
    record = _record(entry, target, warn) if entry is not None else None
    linked: tuple[Path, bytecode.Compiled | None] | None = None
    if entry is not None and record is not None:
        try:
            linked = _tree_to_link(entry, record, compile_with() if compile_with is not None else None, warn,
                                   target, proven=False)
        except _Unproven as e:
            warn(notice(f"tree of installed dependencies for {target.name}", str(e), "installing it again"))
            _discard(entry)
    reused = linked is not None
    if record is not None and linked is not None:
        result = _result(record, target.name, pylock.lock_name(target.name))
    else:
        result = deps.install(section, base_dir, target, python_version, dest, cache_dir, lock_dir=lock_dir,
                              source_root=source_root, app_wheel=app_wheel)
        if app is not None:
            remove_distribution(dest, app.name)
        material = material_now()  # the lock as this install left it
        if material is not None and dest.is_dir():
            entry = store / key_of(material, KEY_LENGTH)
            stored = _store(entry, material, dest, result, warn, target)
            how = compile_with() if compile_with is not None and stored is not None else None
            if stored is not None and how is not None:
                linked = _tree_to_link(entry, stored, how, warn, target, proven=True)
                if linked[1] is None:
                    linked = None  # not compiled in the cache: `dest` keeps pip's tree, compiled in place
    if app_wheel is not None and app is not None:  # the wheel built now, whichever build stored the tree
        name = str(canonicalize_name(app.name))
        result.installed = sorted([*(d for d in result.installed if not d.built), deps.Installed(
            name, app.version, app_wheel.name, file_sha256(app_wheel), built=True, source="app")],
            key=lambda d: d.name)
    if linked is not None:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        link_tree(linked[0], dest, dirs_exist_ok=True)
    return result, reused, linked[1] if linked is not None else None


def _tree_to_link(entry: Path, record: dict[str, Any], how: Bytecode | None, warn: Callable[[str], None],
                  target: Target, proven: bool) -> tuple[Path, bytecode.Compiled | None]:
    """The tree a build links from `entry`, with what was compiled in it: the compiled copy for `how` (made once),
    else the entry's own tree. The one linked is hashed again here; `proven`: the entry's tree was just hashed."""
    compiled = _compiled(entry, record, how, warn, target, proven) if how is not None else None
    if compiled is not None:
        return compiled
    if not proven and _tree(entry / "packages") != record["tree"]:
        raise _Unproven("its installed files are not the ones its record describes (changed or replaced)")
    return entry / "packages", None


def _record(entry: Path, target: Target, warn: Callable[[str], None]) -> dict[str, Any] | None:
    """The entry's record when it names this entry's key; an entry whose record does not is discarded."""
    if not entry.exists():
        return None
    problem = _record_problem(entry)
    if problem is None:
        return dict(json.loads((entry / RECORD).read_text(encoding="utf-8")))
    warn(notice(f"tree of installed dependencies for {target.name}", problem, "installing it again"))
    _discard(entry)
    return None


def _record_problem(entry: Path) -> str | None:
    """Why the record of `entry` does not show it is the entry of its folder's key; None when it does."""
    try:
        record = json.loads((entry / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "its record cannot be read"
    problem = record_problem(record, entry.name)
    if problem is None and not (isinstance(record.get("installed"), list) and isinstance(record.get("tree"), str)):
        problem = "its record is incomplete"
    return problem


def _tree(folder: Path) -> str:
    return tree_digest([("", folder)]) if folder.is_dir() else "none"


def _discard(entry: Path) -> None:
    with entry_lock(entry):
        shutil.rmtree(entry, ignore_errors=True)


def _compiled(entry: Path, record: dict[str, Any], how: Bytecode, warn: Callable[[str], None], target: Target,
              proven: bool) -> tuple[Path, bytecode.Compiled] | None:
    """The compiled copy of an entry's tree for `how` and what was compiled in it, made once (under the copy's
    lock); None if it cannot be (a read-only or broken cache: the build compiles in the bundle instead).

    The copy's key is made of the entry's key and the way of compiling; a copy that does not prove to be its key's
    (its record, its tree) is made again, from the entry's tree once that proves to be the entry's own (else
    _Unproven)."""
    material = canonical({"entry": entry.name, "bytecode": how.material()})
    final = entry / "compiled" / key_of(material, 16)
    problems: list[str] = []

    def complete(folder: Path) -> bool:
        if not folder.exists():
            return False
        try:
            data = json.loads((folder / COMPILED_RECORD).read_text(encoding="utf-8"))
            problem = record_problem(data, folder.name)
        except (OSError, ValueError):
            problem = "its record cannot be read"
        if problem is None and _tree(folder / "packages") != data.get("tree"):
            problem = "its files are not the ones its record describes (changed or replaced)"
        if problem is not None:
            problems.append(problem)
        return problem is None

    def make(temp: Path) -> None:
        if not proven and _tree(entry / "packages") != record["tree"]:  # compiled from the entry's own tree only
            raise _Unproven("its installed files are not the ones its record describes (changed or replaced)")
        if problems:
            warn(notice(f"compiled copy of the dependencies for {target.name}", problems[-1], "compiling it again"))
        shutil.copytree(entry / "packages", temp / "packages", symlinks=True)
        remove_unshipped(temp / "packages")
        keep, reasons = keep_for(how.keep_sources, temp / "packages")
        done = bytecode.precompile_tree(how.python, temp / "packages", how.optimize, keep)
        (temp / COMPILED_RECORD).write_text(json.dumps({
            KEY: material, "tree": _tree(temp / "packages"), "pairs": done.pairs, "failed": done.failed,
            "keep": bytecode.keep_to_json(keep), "reasons": reasons,
        }), encoding="utf-8")

    try:
        build_once(final, complete, make)
        data = json.loads((final / COMPILED_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return final / "packages", bytecode.Compiled([(a, b) for a, b in data["pairs"]], list(data["failed"]),
                                                 bytecode.keep_from_json(data["keep"]), dict(data["reasons"]))


def _store(entry: Path, material: dict[str, Any], packages: Path, result: deps.DepsResult,
           warn: Callable[[str], None], target: Target) -> dict[str, Any] | None:
    """Copy the fresh tree into the cache (real copies: later stages delete and add files in the bundle, and
    a copy is never changed through a link), then publish it with one rename; returns its record, or None when it
    was not stored (a read-only cache, or another build stored this key first)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    temp = entry.with_name(f".{entry.name}.{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    try:
        shutil.copytree(packages, temp / "packages", symlinks=True)
        record = {KEY: material, "tree": _tree(temp / "packages"), "installed": [asdict(d) for d in result.installed],
                  "locked": result.locked, "developer_lock": result.developer_lock}
        (temp / RECORD).write_text(json.dumps(record), encoding="utf-8")
        with entry_lock(entry):
            if entry.exists():
                problem = _record_problem(entry)
                if problem is None:
                    return None  # another build stored the same key first: its tree is in use, leave it
                warn(notice(f"tree of installed dependencies for {target.name}", problem, "storing it again"))
                shutil.rmtree(entry, ignore_errors=True)
            os.rename(temp, entry)
    except OSError:
        return None  # a read-only cache: nothing lost
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return record
