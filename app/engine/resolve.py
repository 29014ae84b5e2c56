"""Resolving a project's dependencies for one target platform with uv: the target's markers, the developer's pins.

pip's `--platform` selects wheel tags but evaluates environment markers for the machine running it, so a Windows
bundle resolved by pip on Linux got `shtab; sys_platform != "win32"` and not `colorama; sys_platform == "win32"`.
uv resolves for another platform (`--python-platform`, `--python-version`) and writes PEP 751; Kiln then keeps the
packages whose marker is true for the target (packaging.markers, the target's environment) and picks each one's
wheel for the target's tags (packaging.tags, the most specific first). The developer's pins (their lock) go to uv
as constraints, so those versions ship; a previous lock of Kiln's is passed as uv's output file, whose versions uv
prefers (a new requirement does not move the others). The same resolution answers `kiln resolve` and `kiln check`.
"""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.pylock import (
    PackageSdist,
    PackageWheel,
    Pylock,
    PylockSelectError,
    PylockUnsupportedVersionError,
    PylockValidationError,
)
from packaging.utils import canonicalize_name, parse_wheel_filename

from kiln.model import pylock
from kiln.model.developer_lock import DeveloperLock
from kiln.model.pylock import LockedPackage, Source
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.targets import TARGETS, Target
from kiln.support.tools import run
from kiln.support.uv import uv_binary, uv_env

TIMEOUT_S = 300
_MISSING_RE = re.compile(r"Because (\S+) was not found in the (?:package registry|provided package locations)")
_OFFLINE_WORDS = ("Failed to fetch", "error sending request", "tcp connect error", "dns error",
                  "Could not connect", "client error (Connect)", "failed to lookup address", "Network is unreachable")


class ResolveFailed(KilnError):
    """uv could not resolve: `reason` is "missing" (a name not on the index), "offline" or "unsatisfiable"."""

    def __init__(self, message: str, hint: str | None = None, reason: str = "unsatisfiable",
                 names: Sequence[str] = ()) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.names = tuple(names)


@dataclass(frozen=True)
class Request:
    """What is resolved, the same for every target."""

    requirements: tuple[str, ...] = ()
    """PEP 508 strings: [dependencies] requirements and its requirements file."""
    app_wheel: Path | None = None
    """The app's own wheel: its Requires-Dist (with `extras`) is resolved; the app itself is never locked."""
    app_name: str = ""
    extras: tuple[str, ...] = ()
    developer_lock: DeveloperLock | None = None
    index: tuple[str, ...] = ()
    """Index options (--index-url, --find-links, --no-index), which uv and pip both take."""
    pinned: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per platform, more exact pins ({name: version}, source `kiln-lock`): an old kiln.lock being converted."""

    def input_lines(self) -> list[str]:
        lines = list(self.requirements)
        if self.app_wheel is not None:
            extras = f"[{','.join(self.extras)}]" if self.extras else ""
            lines.append(f"{self.app_name}{extras} @ {self.app_wheel.resolve().as_uri()}")
        return lines


def compile_argv(requirements: Path, constraints: Path, output: Path, target: Target, python_version: str,
                 index: Sequence[str], upgrade: bool = False) -> list[str]:
    """uv's command that resolves for `target` into a PEP 751 file (pure: tested by equality)."""
    return [uv_binary(), "pip", "compile", str(requirements), "--constraints", str(constraints), "--output-file",
            str(output), "--format", "pylock.toml", "--generate-hashes", "--no-header", "--quiet",
            "--python", sys.executable, "--python-version", python_version, "--python-platform", target.uv_platform,
            *index, *(["--upgrade"] if upgrade else [])]


def resolve(request: Request, target: Target, python_version: str, work_dir: Path, cache_dir: Path,
            previous: Path | None = None, upgrade: bool = False,
            preferred_hashes: Mapping[str, str] | None = None) -> list[LockedPackage]:
    """The packages that ship for `target`, each with its wheel (or sdist), where its version came from and the
    marker that selected it. `previous` (Kiln's last lock for the target) gives the versions uv prefers (those it
    keeps are marked `kiln-lock`);
    `preferred_hashes` ({name: sha256}) picks that wheel of a package when it is one of the target's.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    requirements, constraints = work_dir / "requirements.in", work_dir / "constraints.txt"
    output = work_dir / f"pylock.{target.name}.toml"  # uv accepts pylock.toml or pylock.<name>.toml only
    developer = request.developer_lock.pins_for(target, python_version) if request.developer_lock else {}
    pinned = {canonicalize_name(n): v for n, v in request.pinned.get(target.name, {}).items()}
    requirements.write_text("".join(f"{line}\n" for line in request.input_lines()), encoding="utf-8")
    constraints.write_text("".join(f"{name}=={pin.version}\n" for name, pin in sorted(developer.items())) +
                           "".join(f"{name}=={version}\n" for name, version in sorted(pinned.items())
                                   if name not in developer), encoding="utf-8")
    output.unlink(missing_ok=True)
    kept: dict[str, str] = {}
    if previous is not None and previous.is_file() and not upgrade:
        shutil.copyfile(previous, output)
        earlier = pylock.read(previous)
        kept = {canonicalize_name(p.name): p.version for p in earlier.packages} if earlier else {}
    argv = compile_argv(requirements, constraints, output, target, python_version, request.index, upgrade)
    try:
        run(argv, cwd=work_dir, env={**uv_env(cache_dir), **target.uv_environment()}, timeout=TIMEOUT_S,
            what=f"resolving the dependencies for {target.name} (uv)")
    except ToolFailed as e:
        raise failure(e.message, target.name) from None
    app = canonicalize_name(request.app_name) if request.app_wheel is not None else None
    packages = []
    for name, chosen, marker in select(output, target, python_version, preferred_hashes or {}):
        package = canonicalize_name(name)
        if package == app:
            continue
        if not chosen.url:
            raise KilnError(f"{package} is required from a local folder or a version control checkout, which "
                            "Kiln cannot lock or install for another platform",
                            hint="require it from the package index or a find_links folder of wheels")
        source: Source = "resolved"
        if package in developer and developer[package].version == chosen.version:
            source = "developer-lock"
        elif pinned.get(package) == chosen.version or kept.get(package) == chosen.version:
            source = "kiln-lock"
        packages.append(LockedPackage(name=package, version=chosen.version, url=chosen.url, sha256=chosen.sha256,
                                      wheel=chosen.wheel, size=chosen.size, index=chosen.index, source=source,
                                      marker=marker))
    return sorted(packages, key=lambda p: p.name)


def select(path: Path, target: Target, python_version: str,
           preferred_hashes: Mapping[str, str]) -> list[tuple[str, LockedPackage, str]]:
    """(name, the chosen file, the marker that selected it) for each package of a PEP 751 file that `target` gets."""
    try:
        pylock = Pylock.from_dict(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, PylockValidationError, PylockUnsupportedVersionError) as e:
        raise KilnError(f"uv wrote a lock Kiln cannot read ({e})", hint="the build log has uv's output") from None
    tags = target.wheel_tags(python_version)
    try:
        selected = list(pylock.select(environment=target.marker_environment(python_version), tags=tags))  # type: ignore[arg-type]
    except PylockSelectError as e:
        raise KilnError(f"the dependencies cannot be installed for {target.name}: {e}",
                        hint="a package has no wheel for this platform and no source distribution") from None
    chosen = []
    for package, artifact in selected:
        name = str(package.name)
        marker = str(package.marker) if package.marker is not None else ""
        if isinstance(artifact, PackageWheel) and package.wheels and name in preferred_hashes:
            artifact = next((w for w in package.wheels if w.hashes.get("sha256") == preferred_hashes[name]
                             and not parse_wheel_filename(w.filename)[-1].isdisjoint(tags)), artifact)
        if isinstance(artifact, PackageWheel):
            wheel = artifact.filename
        elif isinstance(artifact, PackageSdist):
            wheel = ""
        else:  # a local folder, archive or VCS checkout: only the app's own wheel is one
            chosen.append((name, LockedPackage(name, str(package.version or ""), "", ""), marker))
            continue
        url = artifact.url or (Path(artifact.path).resolve().as_uri() if artifact.path else "")
        sha256 = artifact.hashes.get("sha256", "")
        if not sha256 or not url:
            raise KilnError(f"uv gave no sha256 or location for {name} {package.version}",
                            hint="use an index or find_links folder that serves files (not a local folder)")
        chosen.append((name, LockedPackage(name, str(package.version), url, sha256, wheel=wheel,
                                           size=artifact.size, index=str(package.index or "")), marker))
    return chosen


def failure(output: str, platform: str) -> ResolveFailed:
    """uv's failure in words: a name that is not on the package index, an index that cannot be reached, or no set
    of versions that satisfies every requirement."""
    missing = sorted(set(_MISSING_RE.findall(output)))
    if missing:
        names = ", ".join(missing)
        return ResolveFailed(f"{names} {'is' if len(missing) == 1 else 'are'} not on the package index",
                             hint="check the spelling of the requirement (the name it has on the package index), "
                                  "or the [dependencies] index settings", reason="missing", names=missing)
    if any(word in output for word in _OFFLINE_WORDS):
        return ResolveFailed(f"the package index cannot be reached to resolve the dependencies for {platform}",
                             hint="check the network, or [dependencies] index_url / find_links / no_index",
                             reason="offline")
    causes = [line.strip().removeprefix("cause:").strip() for line in output.splitlines() if "cause:" in line]
    detail = causes[0] if causes else output.strip().splitlines()[-1] if output.strip() else "uv failed"
    return ResolveFailed(f"the dependencies cannot be resolved for {platform}: {detail}",
                         hint="change the requirement, the Python version or the developer's lock; the build log "
                              "has uv's whole answer")


SOURCE_WORDS = {"developer-lock": "from {lock}", "kiln-lock": "from Kiln's lock", "resolved": "resolved now"}


def source_words(source: str, lock: str) -> str:
    """Where a version came from, in words: "from uv.lock", "from Kiln's lock", "resolved now"."""
    return SOURCE_WORDS.get(source, source).format(lock=lock or "the developer's lock")


@dataclass
class TargetResolution:
    """`kiln resolve`'s answer for one platform (the Dependencies page shows it)."""

    platform: str
    ok: bool
    checked: bool = True
    """False when the package index could not be reached: neither ✓ nor ✗."""
    packages: list[LockedPackage] = field(default_factory=list)
    reason: str = ""
    hint: str = ""
    developer_lock: str = ""
    missing: list[str] = field(default_factory=list)
    """The names that are not on the package index (the wizard marks their rows)."""

    def as_dict(self) -> dict[str, object]:
        return {"platform": self.platform, "ok": self.ok, "checked": self.checked,
                "packages": [f"{p.name} {p.version}" for p in self.packages],
                "sources": [{"name": p.name, "version": p.version, "source": p.source, "marker": p.marker}
                            for p in self.packages],
                "developer_lock": self.developer_lock, "reason": self.reason, "hint": self.hint,
                "missing": self.missing}


def resolve_all(request: Request, platforms: Sequence[str], python_version: str, work_dir: Path,
                cache_dir: Path, lock_dir: Path | None = None) -> list[TargetResolution]:
    """Resolve for each platform; failures are answers (with `reason` in words), not exceptions. With `lock_dir`
    (the folder of Kiln's locks), the versions of Kiln's lock are preferred and said to come from it."""
    results = []
    label = request.developer_lock.label if request.developer_lock else ""
    for platform in sorted(set(platforms)):
        if not request.input_lines():
            results.append(TargetResolution(platform, True, developer_lock=label))
            continue
        try:
            previous = pylock.lock_file(lock_dir, platform) if lock_dir is not None else None
            packages = resolve(request, TARGETS[platform], python_version, work_dir / platform, cache_dir, previous)
        except ResolveFailed as e:
            offline = e.reason == "offline"
            reason = "not checked (offline): the package index cannot be reached" if offline else e.message
            results.append(TargetResolution(platform, False, checked=not offline, reason=reason, hint=e.hint or "",
                                            developer_lock=label, missing=list(e.names)))
        except KilnError as e:
            results.append(TargetResolution(platform, False, reason=e.message, hint=e.hint or "",
                                            developer_lock=label))
        else:
            results.append(TargetResolution(platform, True, packages=packages, developer_lock=label))
    return results
