"""The developer's own lock: the versions they tested, which ship for every platform the lock covers.

Found in the app's folder (its source root, then the project file's folder), in this order: `uv.lock` (read with
`uv export --frozen`, which prints its pins with their markers without resolving or building anything),
`pylock.toml` or one `pylock.<name>.toml` (PEP 751, read with packaging.pylock; Kiln's own
`pylock.<platform>.toml` files are not the developer's), then a requirements file whose every requirement is pinned
with `==` ([dependencies] requirements_file, or requirements.txt). `[dependencies] lock` = "auto" (that search),
"none" (no developer lock), or the path of one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.pylock import Pylock, PylockUnsupportedVersionError, PylockValidationError
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from kiln.model.pylock import kiln_lock_names
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.hashing import file_sha256
from kiln.support.targets import Target
from kiln.support.tools import run
from kiln.support.uv import uv_binary, uv_env


@dataclass(frozen=True)
class Pin:
    """One version the developer's lock fixes, and the marker under which it applies (None: everywhere)."""

    name: NormalizedName
    version: str
    marker: Marker | None = None


@dataclass(frozen=True)
class DeveloperLock:
    path: Path
    kind: str
    """"uv.lock", "pylock.toml" or "requirements"."""
    sha256: str
    pins: tuple[Pin, ...]
    extras: frozenset[str] = frozenset()
    """A PEP 751 lock's extras and dependency groups that are selected (its markers may name them)."""
    groups: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        """How the build output names it: the file's name."""
        return self.path.name

    def pins_for(self, target: Target, python_version: str) -> dict[NormalizedName, Pin]:
        """The pins whose marker is true for `target` (markers of a PEP 751 lock evaluated as a lock file's)."""
        environment: dict[str, str | frozenset[str]] = {**target.marker_environment(python_version)}
        if self.kind == "pylock.toml":
            environment.update(extras=self.extras, dependency_groups=self.groups)
            return {p.name: p for p in self.pins if p.marker is None or p.marker.evaluate(environment, "lock_file")}
        environment["extra"] = ""
        return {p.name: p for p in self.pins if p.marker is None or p.marker.evaluate(environment)}


def find(setting: str, base_dir: Path, folders: Sequence[Path], requirements_file: Path | None,
         extras: Sequence[str], cache_dir: Path) -> DeveloperLock | None:
    """The developer's lock `setting` asks for: "none", a path relative to `base_dir` (the project file's folder),
    or "auto": the first lock found in `folders` (the source root, then the project file's folder)."""
    if setting == "none":
        return None
    if setting != "auto":
        path = base_dir / setting
        if not path.is_file():
            raise KilnError(f"dependencies.lock: {path} does not exist",
                            hint='fix the path, or use lock = "auto" (found in the app\'s folder) or "none"')
        lock = read(path, extras, cache_dir)
        if lock is None:
            raise KilnError(f"dependencies.lock: {path} is not a lock: some requirement in it is not pinned with ==",
                            hint="pin every line (name==version), or point at a uv.lock or pylock.toml")
        return lock
    for folder in dict.fromkeys(f.resolve() for f in folders):
        for path in _candidates(folder):
            if path.is_file():
                return read(path, extras, cache_dir)
    for path in dict.fromkeys([*([requirements_file] if requirements_file else []),
                               *(f / "requirements.txt" for f in folders)]):
        if path.is_file() and (lock := read(path, extras, cache_dir)) is not None:
            return lock
    return None


def _candidates(folder: Path) -> list[Path]:
    named = sorted(p for p in folder.glob("pylock.*.toml") if p.name not in kiln_lock_names())
    return [folder / "uv.lock", folder / "pylock.toml", *(named if len(named) == 1 else [])]


def read(path: Path, extras: Sequence[str], cache_dir: Path) -> DeveloperLock | None:
    """The lock at `path` by its kind (its name); None for a requirements file that is not fully pinned."""
    digest = file_sha256(path)
    if path.name == "uv.lock":
        return DeveloperLock(path, "uv.lock", digest, _uv_lock_pins(path, extras, cache_dir))
    if path.name.startswith("pylock.") and path.suffix == ".toml":
        pins, selected, groups = _pylock_pins(path, extras)
        return DeveloperLock(path, "pylock.toml", digest, pins, selected, groups)
    pinned = pinned_requirements(_read_text(path))
    return DeveloperLock(path, "requirements", digest, tuple(pinned)) if pinned else None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise KilnError(f"cannot read the lock {path} ({e})", hint='fix it, or set [dependencies] lock = "none"') \
            from None


def uv_export_argv(project: Path, extras: Sequence[str]) -> list[str]:
    """uv's command that prints a uv.lock's pins with their markers, without resolving (pure: tested by equality).

    Development groups never ship (--no-dev); the project itself and its workspace members are the app, not pins.
    """
    return [uv_binary(), "export", "--frozen", "--offline", "--no-dev", "--format", "requirements.txt",
            "--no-hashes", "--no-header", "--no-annotate", "--no-emit-project", "--no-emit-workspace",
            "--project", str(project), *(arg for extra in extras for arg in ("--extra", extra))]


def _uv_lock_pins(path: Path, extras: Sequence[str], cache_dir: Path) -> tuple[Pin, ...]:
    try:
        done = run(uv_export_argv(path.parent, extras), cwd=path.parent, env=uv_env(cache_dir),
                   what=f"reading {path} (uv export)")
    except ToolFailed as e:
        raise KilnError(f"cannot read the developer's lock {path}:\n  {e.message}",
                        hint="check it with `uv export --frozen` in that folder, or set [dependencies] "
                             'lock = "none" to ignore it') from None
    return tuple(_requirement_pins(done.stdout.decode("utf-8", "replace"), path, strict=False) or ())


def _pylock_pins(path: Path, extras: Sequence[str]) -> tuple[tuple[Pin, ...], frozenset[str], frozenset[str]]:
    try:
        pylock = Pylock.from_dict(tomllib.loads(_read_text(path)))
    except (tomllib.TOMLDecodeError, PylockValidationError, PylockUnsupportedVersionError) as e:
        raise KilnError(f"{path} is not a valid PEP 751 lock ({e})",
                        hint='fix it, or set [dependencies] lock = "none" to ignore it') from None
    # A lock file's markers may name its extras and dependency groups: those the project asks for (that the lock
    # declares), and the lock's default groups, as an installer selects them.
    declared = {canonicalize_name(e) for e in pylock.extras or ()}
    selected = frozenset(canonicalize_name(e) for e in extras) & declared
    groups = frozenset(pylock.default_groups or ())
    pins = [Pin(p.name, str(p.version), p.marker) for p in pylock.packages
            if p.version is not None]  # a directory or VCS package without a version is the app itself
    return tuple(pins), selected, groups


def pinned_requirements(text: str) -> list[Pin] | None:
    """The pins of a requirements file in which every requirement is `name==version` (hashes, comments and pip
    options allowed, as pip-compile and `uv pip compile` write them); None when any requirement is not pinned."""
    return _requirement_pins(text, None, strict=True)


def _requirement_pins(text: str, path: Path | None, strict: bool) -> list[Pin] | None:
    pins = []
    for line in logical_lines(text):
        if line.startswith("-"):
            continue  # a pip option (an index, -e of the app itself, -r/-c of another file)
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            if strict:
                return None
            continue
        specifiers = list(requirement.specifier)
        pinned = requirement.url is None and len(specifiers) == 1 and specifiers[0].operator in ("==", "===") \
            and "*" not in specifiers[0].version
        if not pinned:
            if strict:
                return None
            continue
        pins.append(Pin(canonicalize_name(requirement.name), specifiers[0].version, requirement.marker))
    return pins or None


def logical_lines(text: str) -> list[str]:
    """The requirement lines of a requirements file: continuations joined, comments and `--hash` options gone."""
    lines, pending = [], ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        words = [w for w in line.split() if not w.startswith("--hash")]
        if words:
            lines.append(" ".join(words))
    return lines
