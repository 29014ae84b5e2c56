"""The app's build environment, kept: what its `[build-system]` requires, installed once per exact list.

`pip wheel` (PEP 517, isolated) makes a fresh environment and installs the backend into it at every build: about
as long as building a small app itself. A kept environment is a virtual environment of the interpreter running
Kiln, keyed by the exact requirement strings, the backend, the interpreter and the index settings; the app's
backend then runs in it the way pip runs it (the hooks, in a child process of that environment's Python, in a
copy of the app's folder). What the backend asks for on top (`get_requires_for_build_wheel`) is added to the
environment when it is missing. A few environments are kept; the least recently used go.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from kiln.runtimes.cache import BUILD_ENVS
from kiln.support.errors import KilnError
from kiln.support.locks import build_once, entry_lock, evict_least_recent
from kiln.support.pip import pip_argv
from kiln.support.tools import run

FORMAT = 1
MAX_ENTRIES = 4
"""Environments kept: one per app and backend version a user switches between is plenty."""
_COMPLETE = "kiln-build-env.json"
_DEFAULT = ("setuptools>=40.8.0",)  # what pip assumes for a project without [build-system] (PEP 517/518)
_LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
_CONFIG_FILES = ("pyproject.toml", "setup.cfg", "setup.py")

# Runs in the environment's Python, in the copy of the app's folder: one PEP 517 hook, as pip's own hook runner
# calls it. argv: hook name, then the folder for its output (the wheel) or the JSON file for its answer.
_HOOK = r"""
import importlib, json, os, sys
hook, out = sys.argv[1], sys.argv[2]
sys.path[:0] = [os.path.abspath(p) for p in json.loads(os.environ["KILN_BACKEND_PATH"])]
module, _, attribute = os.environ["KILN_BACKEND"].partition(":")
backend = importlib.import_module(module)
for part in filter(None, attribute.split(".")):
    backend = getattr(backend, part)
if hook == "get_requires_for_build_wheel":
    function = getattr(backend, hook, None)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(list(function(None) if function else []), f)
else:
    backend.build_wheel(out, None, None)
"""


@dataclass(frozen=True)
class BuildSystem:
    """A project's `[build-system]` table, with PEP 517's defaults filled in."""

    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] = ()


def read_build_system(folder: Path) -> BuildSystem:
    """The build system of the project in `folder`; a project without one is built by setuptools' legacy backend."""
    pyproject = folder / "pyproject.toml"
    table: object = None
    if pyproject.is_file():
        try:
            table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("build-system")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
            raise KilnError(f"{pyproject} cannot be read: {e}", hint="fix the file's TOML") from None
    if table is None:
        return BuildSystem(_DEFAULT, _LEGACY_BACKEND)
    requires = table.get("requires") if isinstance(table, dict) else None
    backend = table.get("build-backend", _LEGACY_BACKEND) if isinstance(table, dict) else None
    backend_path = table.get("backend-path", []) if isinstance(table, dict) else None
    if (not isinstance(requires, list) or not all(isinstance(r, str) for r in requires)
            or not isinstance(backend, str) or not isinstance(backend_path, list)
            or not all(isinstance(p, str) for p in backend_path)):
        raise KilnError(f"{pyproject}: [build-system] needs `requires`, a list of requirement strings, and "
                        "optionally `build-backend` (a string) and `backend-path` (a list of strings)",
                        hint="see PEP 517 and PEP 518")
    for text in requires:
        try:
            Requirement(text)
        except InvalidRequirement as e:
            raise KilnError(f"{pyproject}: [build-system] requires '{text}', which is not a valid requirement: {e}",
                            hint="fix the requirement (PEP 508), as pip would need to") from None
    return BuildSystem(tuple(requires), backend, tuple(backend_path))


def env_key(system: BuildSystem, pip_args: Sequence[str]) -> str:
    """Everything that decides what the environment holds: the exact requirements and backend, the interpreter
    (its full version and where it lives) and the index settings the packages came from."""
    payload = {"format": FORMAT, "requires": list(system.requires), "backend": system.backend,
               "python": [sys.version, sys.implementation.name, sys.base_prefix], "index": list(pip_args)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def build_with_kept_env(system: BuildSystem, source: Path, wheel_dir: Path, cache_dir: Path,
                        pip_args: Sequence[str], env: dict[str, str]) -> None:
    """Run the backend's build_wheel on `source` (a copy of the app's folder) into `wheel_dir`, in the kept
    environment for `system` (made first when there is none). Holds the environment's lock throughout, so no
    other build changes or removes it meanwhile."""
    root = cache_dir / BUILD_ENVS
    folder = root / env_key(system, pip_args)
    for _attempt in range(3):  # `kiln cache clean` may remove it between making it and taking it
        build_once(folder, _complete, lambda temp: _make(temp, system.requires, pip_args))
        with entry_lock(folder):
            if _complete(folder):
                _build_in(folder, system, source, wheel_dir, pip_args, env)
                break
    else:
        raise KilnError(f"the app's build environment in {folder} keeps disappearing",
                        hint="run the build again once no `kiln cache clean` is running")
    evict_least_recent(root, folder, MAX_ENTRIES, _COMPLETE)


def _build_in(folder: Path, system: BuildSystem, source: Path, wheel_dir: Path, pip_args: Sequence[str],
              env: dict[str, str]) -> None:
    with contextlib.suppress(OSError):
        os.utime(folder / _COMPLETE)  # last use, for eviction
    python, hook = folder / "bin" / "python", folder / "kiln_hook.py"
    # The environment's scripts come first on PATH, as in pip's build environments: uv_build runs its bin/uv-build.
    path = os.pathsep.join([str(folder / "bin"), env.get("PATH", os.environ.get("PATH", os.defpath))])
    hook_env = {**env, "KILN_BACKEND": system.backend, "KILN_BACKEND_PATH": json.dumps(system.backend_path),
                "PYTHONNOUSERSITE": "1", "PATH": path}
    # The backend's answer depends on the project's configuration only: asked again when that changes.
    answer = folder / "asked" / f"{_config_digest(source, system)}.json"
    if not answer.is_file():
        answer.parent.mkdir(exist_ok=True)
        partial = answer.with_name(f".{answer.name}.{os.getpid()}")
        run([python, "-I", hook, "get_requires_for_build_wheel", partial], cwd=source, env=hook_env,
            what="asking the app's build backend what it needs")
        os.replace(partial, answer)
    wanted = json.loads(answer.read_text(encoding="utf-8"))
    missing = _missing(folder, [str(w) for w in wanted])
    if missing:
        _install(folder, missing, pip_args, "installing what the app's build backend asked for")
    run([python, "-I", hook, "build_wheel", wheel_dir], cwd=source, env=hook_env,
        what="the app's build backend (PEP 517 build_wheel)")


def _config_digest(source: Path, system: BuildSystem) -> str:
    """The files a backend reads its configuration from (the rest of the folder is the app's code)."""
    digest = hashlib.sha256(json.dumps([system.backend, list(system.backend_path)]).encode())
    for name in _CONFIG_FILES:
        path = source / name
        digest.update(f"{name}\0".encode() + (path.read_bytes() if path.is_file() else b"-") + b"\0")
    return digest.hexdigest()[:32]


def _complete(folder: Path) -> bool:
    return (folder / _COMPLETE).is_file() and (folder / "bin" / "python").exists()


def _make(folder: Path, requires: Sequence[str], pip_args: Sequence[str]) -> None:
    """A virtual environment without pip (pip runs from Kiln's environment, installing into it) holding
    `requires`."""
    run([sys.executable, "-m", "venv", "--without-pip", folder], what="making the app's build environment")
    if requires:
        _install(folder, list(requires), pip_args, "installing the app's build requirements ([build-system])")
    (folder / "kiln_hook.py").write_text(_HOOK, encoding="utf-8")
    (folder / _COMPLETE).write_text(json.dumps({"format": FORMAT, "requires": list(requires)}), encoding="utf-8")


def _install(folder: Path, requirements: list[str], pip_args: Sequence[str], what: str) -> None:
    # As pip's own build isolation installs: into the environment's prefix, ignoring what Kiln's environment has.
    run([*pip_argv(), "install", "--disable-pip-version-check", "--no-input", "--ignore-installed", "--no-user",
         "--no-warn-script-location", "--prefix", str(folder), *pip_args, "--", *requirements], what=what)


def _site_packages(folder: Path) -> Path:
    return folder / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def _missing(folder: Path, requirements: list[str]) -> list[str]:
    """The requirements the environment does not satisfy (its Python is this one, so markers evaluate here)."""
    installed = {str(canonicalize_name(d.metadata["Name"] or "")): d.version
                 for d in metadata.distributions(path=[str(_site_packages(folder))])}
    missing = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            missing.append(text)  # pip says what is wrong with it
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        version = installed.get(str(canonicalize_name(requirement.name)))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(text)
    return missing

