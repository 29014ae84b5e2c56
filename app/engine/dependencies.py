"""Dependencies for a target platform: resolved for that platform (kiln.engine.resolve), locked, installed by pip.

A build with a current lock of Kiln's (`pylock.<platform>.toml`, its inputs unchanged) installs exactly its files;
otherwise the dependencies are resolved for the target with the developer's lock as constraints and the lock is
written. pip installs the exact, hash-checked files with `--no-deps` (the resolution is done: pip evaluates markers
for the machine it runs on, so it must not resolve a foreign platform again).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from kiln.engine import resolve, wheelhouse
from kiln.engine.lock_convert import legacy_pins
from kiln.model import developer_lock, pylock
from kiln.model.project import DependenciesSection
from kiln.model.project_file import ProjectFile
from kiln.source.app_wheel import AppMetadata, read_app_metadata
from kiln.support.atomic import atomic_write_text
from kiln.support.errors import KilnError, Problem
from kiln.support.hashing import file_sha256
from kiln.support.locks import entry_lock
from kiln.support.pip import pip_argv
from kiln.support.sweep import temp_prefix
from kiln.support.targets import Target
from kiln.support.tools import run

target_args = wheelhouse.target_args


@dataclass(frozen=True)
class Installed:
    """One distribution in the bundle, as the build report lists it."""

    name: str
    version: str
    wheel: str
    """The wheel's file name."""
    sha256: str
    """The wheel's sha256 (for a wheel Kiln built from an sdist: of that wheel)."""
    built: bool = False
    """The app's own wheel, built from the project folder by the build (never locked)."""
    source: str = "resolved"
    """Where the version came from: developer-lock, kiln-lock, resolved (now), or app (the app's own wheel)."""
    marker: str = ""
    """The environment marker that selected the package for this platform, if one did."""
    url: str = ""
    """Where the file came from (for a wheel built from an sdist: the sdist's URL)."""


@dataclass
class DepsResult:
    installed: list[Installed] = field(default_factory=list)
    reused_wheels: bool = False
    """True when every wheel came from Kiln's wheel cache (nothing was downloaded)."""
    locked: bool = False
    """True when exactly Kiln's current lock was installed (nothing resolved)."""
    developer_lock: str = ""
    """The developer's lock whose versions ship (its file name), if any."""
    notes: list[str] = field(default_factory=list)
    """What the build should say: where the versions came from, a lock converted."""


def read_requirements(section: DependenciesSection, base_dir: Path) -> list[str]:
    """The project's requirement strings plus those of its requirements file, validated.

    Hashes and line continuations (as pip-compile writes them) are read; other pip options are refused."""
    requirements = list(section.requirements)
    if section.requirements_file:
        path = base_dir / section.requirements_file
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
            raise KilnError(
                f"dependencies.requirements_file: cannot read {path} ({reason})",
                hint="fix the path or remove the setting",
            ) from None
        for line in developer_lock.logical_lines(text):
            if line.startswith("-"):
                raise KilnError(
                    f"{path}: pip options ({line.split()[0]}) are not read from requirements files",
                    hint="put index settings in [dependencies] (index_url, find_links, no_index)",
                )
            try:
                Requirement(line)
            except InvalidRequirement as e:
                raise KilnError(f"{path}: '{line}' is not a valid requirement: {e}") from None
            requirements.append(line)
    return requirements


def index_args(section: DependenciesSection, base_dir: Path) -> list[str]:
    args: list[str] = []
    if section.index_url:
        args += ["--index-url", section.index_url]
    for link in section.find_links:
        local = base_dir / link
        args += ["--find-links", str(local) if local.exists() else link]
    if section.no_index:
        args.append("--no-index")
    return args


def find_developer_lock(section: DependenciesSection, base_dir: Path, source_root: Path | None,
                        cache_dir: Path) -> developer_lock.DeveloperLock | None:
    """The developer's lock the project's `[dependencies] lock` names or Kiln finds in the app's folder."""
    folders = [f for f in (source_root, base_dir) if f is not None]
    requirements_file = base_dir / section.requirements_file if section.requirements_file else None
    return developer_lock.find(section.lock, base_dir, folders, requirements_file, section.extras, cache_dir)


def inputs_digest(section: DependenciesSection, requirements: list[str], app: AppMetadata | None,
                  developer: developer_lock.DeveloperLock | None, python_version: str) -> str:
    """What a lock depends on; the app's own requirements count (a lock made before it gained one is stale)."""
    extra = [section.index_url, *section.find_links, str(section.no_index)]
    if section.extras:
        extra.append(f"extras={','.join(sorted(section.extras))}")
    if developer is not None:
        extra.append(f"developer-lock={developer.kind}:{developer.sha256}")
    return pylock.inputs_digest([*requirements, *(app.requires_dist if app else ())], python_version, extra)


def install(
    section: DependenciesSection,
    base_dir: Path,
    target: Target,
    python_version: str,
    dest: Path,
    cache_dir: Path,
    lock_dir: Path | None = None,
    upgrade: bool = False,
    app_wheel: Path | None = None,
    source_root: Path | None = None,
) -> DepsResult:
    """Install the project's dependencies for `target` into `dest`, following and updating Kiln's lock.

    `lock_dir` is the folder of Kiln's lock files (the project file's; None: no lock is read or written).
    `app_wheel` is the app's own wheel: installed too, its Requires-Dist (with [dependencies] extras) resolved with
    the rest. Wheels are kept in Kiln's cache (one folder per target and Python version).
    """
    requirements = read_requirements(section, base_dir)
    dest.mkdir(parents=True, exist_ok=True)
    app = read_app_metadata(app_wheel) if app_wheel is not None else None
    if not requirements and app is None:
        return DepsResult(reused_wheels=True)
    developer = find_developer_lock(section, base_dir, source_root, cache_dir)
    inputs = inputs_digest(section, requirements, app, developer, python_version)
    lock_path = pylock.lock_file(lock_dir, target.name) if lock_dir is not None else None
    lock = pylock.read(lock_path) if lock_path is not None else None
    with tempfile.TemporaryDirectory(prefix=temp_prefix("kiln-pip-")) as scratch_name:
        scratch = Path(scratch_name)
        if lock is not None and lock.is_current(python_version, inputs) and not upgrade:
            packages = [replace(p, source="kiln-lock") if p.source == "resolved" else p for p in lock.packages]
            locked, carried = True, False
        else:
            request = resolve.Request(
                requirements=tuple(requirements), app_wheel=app_wheel, app_name=app.name if app else "",
                extras=tuple(section.extras), developer_lock=developer, index=tuple(index_args(section, base_dir)))
            packages, carried = _resolve(request, target, python_version, lock_dir, lock, inputs, upgrade,
                                         scratch / "resolve", cache_dir)
            locked = False
        wheels = cache_dir / "wheels" / f"{target.name}-py{python_version}"
        with entry_lock(wheels):  # builds sharing the cache take turns: pip never reads a half-written wheel
            before = set(wheels.rglob("*.whl")) if wheels.is_dir() else set()
            files = wheelhouse.fetch(packages, wheels, target, python_version, scratch / "fetch")
            reused = all(path in before for path, _ in files.values())
        _pip_install(packages, files, app_wheel, dest, target, python_version, scratch)
    installed = [Installed(p.name, p.version, files[p.name][0].name, files[p.name][1], source=p.source,
                           marker=p.marker, url=p.url) for p in packages]
    if app_wheel is not None and app is not None:
        installed.append(Installed(str(canonicalize_name(app.name)), app.version, app_wheel.name,
                                   file_sha256(app_wheel), built=True, source="app"))
    # Kept from Kiln's lock (unchanged, or preferred by a new resolution), or carried over from an old kiln.lock.
    kiln_lock = "kiln.lock" if carried else f"Kiln's lock ({lock_path.name}{', unchanged' if locked else ''})" \
        if lock_path is not None else ""
    notes = [summary(target.name, packages, developer.label if developer else "", kiln_lock)]
    return DepsResult(sorted(installed, key=lambda d: d.name), reused_wheels=reused, locked=locked,
                      developer_lock=developer.label if developer else "", notes=notes)


def _resolve(request: resolve.Request, target: Target, python_version: str, lock_dir: Path | None,
             lock: pylock.KilnLock | None, inputs: str, upgrade: bool, work: Path,
             cache_dir: Path) -> tuple[list[pylock.LockedPackage], bool]:
    """Resolve `target` and write its lock; True with the packages when an old kiln.lock's versions carried over."""
    lock_path = pylock.lock_file(lock_dir, target.name) if lock_dir is not None else None
    # No lock of this platform made from inputs yet: an old kiln.lock's versions carry over (lock_convert).
    fresh = lock is None or not lock.inputs
    pinned, hashes = legacy_pins(lock_dir, target.name, inputs) if lock_dir and fresh else ({}, {})
    if pinned:
        request = replace(request, pinned={target.name: pinned})
    packages = resolve.resolve(request, target, python_version, work, cache_dir, previous=lock_path,
                               upgrade=upgrade, preferred_hashes=hashes) if request.input_lines() else []
    if lock_path is not None:
        runtime = lock.runtime if lock is not None else None  # a runtime pin stays with the new packages
        pylock.write(lock_path, pylock.KilnLock(target.name, python_version, inputs, packages, runtime))
    return packages, bool(pinned)


def _pip_install(packages: list[pylock.LockedPackage], files: dict[str, tuple[Path, str]], app_wheel: Path | None,
                 dest: Path, target: Target, python_version: str, scratch: Path) -> None:
    """pip installs exactly these files (hash-checked, no dependency resolution), then the app's own wheel."""
    if packages:
        lines = scratch / "install.txt"
        lines.write_text("".join(f"{p.name} @ {files[p.name][0].resolve().as_uri()} --hash=sha256:"
                                 f"{files[p.name][1]}\n" for p in packages), encoding="utf-8")
        run(pip_install_argv(dest, target, python_version, ["--require-hashes", "-r", str(lines)]),
            what=f"pip install (the locked wheels for {target.name})")
    if app_wheel is not None:
        run(pip_install_argv(dest, target, python_version, ["--", str(app_wheel)]),
            what="pip install (the app's own wheel)")


def pip_install_argv(dest: Path, target: Target, python_version: str, what: list[str]) -> list[str]:
    """The pip command line that installs exact files for `target` into `dest` (pure: tested by equality)."""
    return [*pip_argv(), "install", "--disable-pip-version-check", "--no-input", "--no-compile",
            "--no-warn-script-location", "--no-deps", "--no-index", "--target", str(dest),
            *target_args(target, python_version), *what]


KILN_LOCK_WORDS = "Kiln's lock"


class _Versioned(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def source(self) -> str: ...


def summary(platform: str, packages: Sequence[_Versioned], developer: str, kiln_lock: str) -> str:
    """One line saying where the versions for `platform` came from, e.g. "windows-x86_64: 12 packages from
    uv.lock, 1 resolved now (not in uv.lock): colorama 0.4.6". `kiln_lock` names Kiln's lock the others came from."""
    if not packages:
        return f"{platform}: no dependencies"
    counts = {s: [p for p in packages if p.source == s] for s in pylock.SOURCES}
    parts = []
    if counts["developer-lock"]:
        parts.append(f"{len(counts['developer-lock'])} from {developer or 'the developer lock'}")
    if counts["kiln-lock"]:
        parts.append(f"{len(counts['kiln-lock'])} from {kiln_lock or KILN_LOCK_WORDS}")
    resolved = counts["resolved"]
    if resolved:
        names = ", ".join(f"{p.name} {p.version}" for p in resolved[:8]) + (" …" if len(resolved) > 8 else "")
        why = f" (not in {developer})" if developer else ""
        parts.append(f"{len(resolved)} resolved now{why}: {names}")
    first, *rest = parts
    count, _, words = first.partition(" ")
    first = f"{count} package{'s' if count != '1' else ''} {words}"
    return f"{platform}: {', '.join([first, *rest])}"


def check_dependencies(project_file: ProjectFile, cache_dir: Path) -> tuple[list[Problem], list[str]]:
    """`kiln check`'s look at the requirements: each platform resolved (nothing installed). Returns the problems
    (a name not on the package index, no versions that fit) and, for platforms the index could not be asked
    about, a warning each: "not checked (offline)", never a false ✓ or ✗."""
    project, base = project_file.project, project_file.base_dir
    section = project.dependencies
    try:
        requirements = read_requirements(section, base)
        if not requirements:
            return [], []
        developer = find_developer_lock(section, base, base / project.source.root, cache_dir)
    except KilnError as e:
        return [Problem("dependencies", e.message, e.hint or "")], []
    request = resolve.Request(requirements=tuple(requirements), extras=tuple(section.extras),
                              developer_lock=developer, index=tuple(index_args(section, base)))
    platforms = sorted({i.platform for i in project.active_installers()})
    with tempfile.TemporaryDirectory(prefix=temp_prefix("kiln-pip-")) as work:
        results = resolve.resolve_all(request, platforms, project.python.version, Path(work), cache_dir,
                                      project_file.path.parent)
    unchecked = [f"dependencies not checked for {r.platform} (offline): the package index cannot be reached"
                 for r in results if not r.checked]
    failed: dict[tuple[str, str], list[str]] = {}
    for result in results:
        if result.checked and not result.ok:
            failed.setdefault((result.reason, result.hint), []).append(result.platform)
    problems = [Problem("dependencies.requirements", reason if len(where) == len(results) else
                        f"{reason} ({', '.join(where)})", hint) for (reason, hint), where in failed.items()]
    return problems, unchecked


# Releases Kiln knows to break apps: (canonical name, version, Python versions it breaks on, the fix).
KNOWN_BAD: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("pyside6", "6.12.0", ("3.11",), "PySide6!=6.12.0"),
    ("pyside6-essentials", "6.12.0", ("3.11",), "PySide6-Essentials!=6.12.0"),
)


def known_bad(installed: list[Installed], python_version: str) -> list[str]:
    """Warnings for resolved distributions in KNOWN_BAD, each naming the requirement that avoids it."""
    warnings = []
    for dist in installed:
        for name, version, pythons, fix in KNOWN_BAD:
            if canonicalize_name(dist.name) == name and dist.version == version and python_version in pythons:
                warnings.append(
                    f"{dist.name} {version} is known to break apps on Python {python_version}: add \"{fix}\" to "
                    "[dependencies] requirements (or to the project's dependencies)"
                )
    return warnings


def lock_project(
    section: DependenciesSection, base_dir: Path, targets: list[Target], python_version: str, lock_dir: Path,
    cache_dir: Path, work_dir: Path, upgrade: bool = False, source_root: Path | None = None, build_app: bool = False,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, DepsResult]:
    """Resolve the dependencies for every target and write Kiln's lock files (`kiln lock [--upgrade]`).

    With `build_app`, `source_root` is a Python project built into the app's own wheel first (as a build does), so
    the lock covers the app's own requirements. The new locks are made in `work_dir` first and replace the old ones
    only when every platform resolved, so a failed upgrade keeps the locks that worked.
    """
    from kiln.source.app_wheel import build_app_wheel, require_wheel_serves

    draft = work_dir / "locks"
    draft.mkdir(parents=True, exist_ok=True)
    for current in pylock.lock_files(lock_dir):  # kiln.lock too: what it pinned is converted
        if current.is_file():
            (draft / current.name).write_bytes(current.read_bytes())
    app_wheel = None
    if build_app and source_root is not None:
        app_wheel = build_app_wheel(source_root, work_dir / "app-wheel", index_args(section, base_dir))
    results: dict[str, DepsResult] = {}
    for target in targets:
        if app_wheel is not None:
            require_wheel_serves(app_wheel, read_app_metadata(app_wheel).name, target.name, python_version)
        results[target.name] = install(section, base_dir, target, python_version, work_dir / target.name, cache_dir,
                                       lock_dir=draft, upgrade=upgrade, app_wheel=app_wheel, source_root=source_root)
        for note in results[target.name].notes:
            log(note)
    for target in targets:
        made = pylock.lock_file(draft, target.name)
        if made.is_file():
            atomic_write_text(pylock.lock_file(lock_dir, target.name), made.read_text(encoding="utf-8"))
    return results
