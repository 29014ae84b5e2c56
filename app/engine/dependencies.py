"""Dependencies for a target platform: pip installs wheels for the target (not the host) into the bundle."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from kiln.model import lockfile
from kiln.model.project import DependenciesSection
from kiln.source.app_wheel import build_app_wheel, read_app_metadata, require_wheel_serves
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.locks import entry_lock
from kiln.support.pip import pip_argv
from kiln.support.sweep import temp_prefix
from kiln.support.targets import Target
from kiln.support.tools import run


@dataclass
class DepsResult:
    installed: list[lockfile.LockedPackage] = field(default_factory=list)
    reused_wheels: bool = False
    """True when every wheel came from Kiln's wheel cache (no index was asked)."""
    locked: bool = False
    """True when exactly the lock file's wheels were installed (hash-checked)."""


def read_requirements(section: DependenciesSection, base_dir: Path) -> list[str]:
    """The project's requirement strings plus those of its requirements file, validated."""
    requirements = list(section.requirements)
    if section.requirements_file:
        path = base_dir / section.requirements_file
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise KilnError(
                f"dependencies.requirements_file: cannot read {path} ({e.strerror})",
                hint="fix the path or remove the setting",
            ) from None
        for number, raw in enumerate(lines, start=1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("-"):
                raise KilnError(
                    f"{path}:{number}: pip options ({line.split()[0]}) are not read from requirements files",
                    hint="put index settings in [dependencies] (index_url, find_links, no_index)",
                )
            try:
                Requirement(line)
            except InvalidRequirement as e:
                raise KilnError(f"{path}:{number}: '{line}' is not a valid requirement: {e}") from None
            requirements.append(line)
    return requirements


def app_requirement_text(app_wheel: Path, extras: list[str]) -> str:
    """The app's own wheel as pip takes it, with the optional features ([dependencies] extras) to install."""
    return f"{app_wheel}[{','.join(extras)}]" if extras else str(app_wheel)


def target_args(target: Target, python_version: str) -> list[str]:
    """pip options that select wheels for the target interpreter instead of the one running pip."""
    args = ["--python-version", python_version, "--implementation", "cp", "--only-binary=:all:"]
    for tag in target.pip_platform_tags():
        args += ["--platform", tag]
    return args


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


def pip_install_argv(
    requirements: list[str], dest: Path, target: Target, python_version: str, extra: list[str], report: Path
) -> list[str]:
    """The pip command line that installs `requirements` for `target` into `dest` (pure: tested by equality)."""
    return [
        *pip_argv(), "install", "--disable-pip-version-check", "--no-input", "--no-compile",
        "--no-warn-script-location", "--target", str(dest), "--report", str(report),
        *target_args(target, python_version), *extra, "--", *requirements,
    ]


def install(
    section: DependenciesSection,
    base_dir: Path,
    target: Target,
    python_version: str,
    dest: Path,
    wheel_cache: Path,
    lock_file: Path | None = None,
    upgrade: bool = False,
    app_wheel: Path | None = None,
) -> DepsResult:
    """Install the project's dependencies for `target` into `dest`, following and updating the lock file.

    `app_wheel` is the app's own wheel (built from the project folder): it is installed too, its own
    requirements are resolved with the others, and the lock records it (marked `built`: never pinned, since
    it changes with the app's code).

    Wheels are kept in `wheel_cache` (one folder per target and Python version). A build first tries the cache
    alone, without asking any index; only when that cannot satisfy the requirements does pip download.
    With a current lock file, exactly the locked wheels are installed, checked by sha256 (--require-hashes);
    without one (or with `upgrade`), pip resolves afresh and the lock is rewritten for this platform.
    """
    requirements = read_requirements(section, base_dir)
    dest.mkdir(parents=True, exist_ok=True)
    app = read_app_metadata(app_wheel) if app_wheel is not None else None
    if not requirements and app is None:
        return DepsResult(reused_wheels=True)
    wheelhouse = wheel_cache / f"{target.name}-py{python_version}"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    # The app's own requirements count as inputs: a lock made before the app gained a dependency is stale.
    inputs = lockfile.inputs_digest(
        [*requirements, *(app.requires_dist if app else ())], python_version,
        [section.index_url, *section.find_links, str(section.no_index), *(f"extra={e}" for e in section.extras)],
    )
    lock = lockfile.read_lock(lock_file) if lock_file else None
    current = lock is not None and lock.is_current(python_version, inputs)
    # pip's report and the locked requirements go to a private folder: never into the bundle that ships.
    with tempfile.TemporaryDirectory(prefix=temp_prefix("kiln-pip-")) as scratch_name:
        scratch = Path(scratch_name)
        report = scratch / "pip-report.json"
        pip = _Pip(section, base_dir, target, python_version, dest, wheelhouse, report)
        # A platform the lock does not list yet (an installer added since) is resolved and added to it.
        if lock is not None and current and not upgrade and lock.platforms.get(target.name):
            locked, reused, installed = True, True, []
            if any(not p.built for p in lock.packages(target.name)):
                reused = pip.install([], lockfile.locked_install_args(lock, target.name, scratch), cache_first=True)
                installed = _read_report(report)
            if app_wheel is not None:
                installed = sorted([*installed, *pip.install_app(app_wheel, scratch / "app-report.json")],
                                   key=lambda d: d.name.lower())
        else:
            app_requirement = [app_requirement_text(app_wheel, section.extras)] if app_wheel is not None else []
            try:
                reused = pip.install([*requirements, *app_requirement], [], cache_first=not upgrade)
            finally:
                if app_wheel is not None:  # pip download copies a local wheel: the cache is for index wheels
                    (wheelhouse / app_wheel.name).unlink(missing_ok=True)
            locked = False
            installed = _read_report(report)
    if lock_file is not None:
        entries = lockfile.lock_from_installed(installed, wheelhouse)
        if app is not None:
            entries = lockfile.mark_built(entries, app.name)
        if not locked:
            # A new wheel lock keeps the runtimes pinned in the old one (kiln.runtimes.embed checks their version).
            updated = lock if lock is not None and current else lockfile.Lock(
                python_version, inputs=inputs, runtimes=lock.runtimes if lock is not None else {})
            updated.platforms[target.name] = entries
            lockfile.write_lock(lock_file, updated)
        elif lock is not None and lockfile.update_built(lock, target.name, entries):
            lockfile.write_lock(lock_file, lock)  # the app's code changed: record the wheel that ships now
    return DepsResult(installed=installed, reused_wheels=reused, locked=locked)


def lock_project(
    section: DependenciesSection, base_dir: Path, targets: list[Target], python_version: str, lock_file: Path,
    wheel_cache: Path, work_dir: Path, upgrade: bool = False, app_folder: Path | None = None,
) -> lockfile.Lock | None:
    """Resolve the dependencies for every target and write the lock file (`kiln lock [--upgrade]`).

    `app_folder` is a Python project to build into the app's own wheel first (as a build does), so the lock
    covers the app's own requirements. The new lock is assembled beside the work files and replaces the old
    one only when every platform resolved, so a failed upgrade keeps the lock that worked.
    """
    draft = work_dir / "kiln.lock"
    if lock_file.exists() and not upgrade:
        shutil.copyfile(lock_file, draft)
    app_wheel = None
    if app_folder is not None:
        app_wheel = build_app_wheel(app_folder, work_dir / "app-wheel", index_args(section, base_dir))
    for target in targets:
        if app_wheel is not None:
            require_wheel_serves(app_wheel, read_app_metadata(app_wheel).name, target.name, python_version)
        install(section, base_dir, target, python_version, work_dir / target.name, wheel_cache,
                lock_file=draft, upgrade=upgrade, app_wheel=app_wheel)
    lock = lockfile.read_lock(draft)
    if lock is not None:
        lockfile.write_lock(lock_file, lock)
    return lock


class _Pip:
    """pip for one target: install from the wheel cache, download into it when needed."""

    def __init__(self, section: DependenciesSection, base_dir: Path, target: Target, python_version: str,
                 dest: Path, wheelhouse: Path, report: Path) -> None:
        self.section, self.base_dir, self.target, self.version = section, base_dir, target, python_version
        self.dest, self.wheelhouse, self.report = dest, wheelhouse, report

    def install(self, requirements: list[str], extra: list[str], cache_first: bool) -> bool:
        """Install; True when the wheel cache alone was enough."""
        # Builds sharing the wheel cache take turns on it (kiln.support.locks): pip never reads a half-written wheel.
        with entry_lock(self.wheelhouse):
            return self._install(requirements, extra, cache_first)

    def _install(self, requirements: list[str], extra: list[str], cache_first: bool) -> bool:
        offline = ["--no-index", "--find-links", str(self.wheelhouse), *extra]
        argv = pip_install_argv(requirements, self.dest, self.target, self.version, offline, self.report)
        if cache_first:
            try:
                run(argv, what="pip (cached wheels)")
                return True
            except ToolFailed:
                pass
        self.download(requirements, extra)
        run(argv, what="pip install")
        return False

    def install_app(self, wheel: Path, report: Path) -> list[lockfile.LockedPackage]:
        """Install the app's own wheel alone (its dependencies came from the lock)."""
        argv = pip_install_argv([str(wheel)], self.dest, self.target, self.version, ["--no-deps", "--no-index"],
                                report)
        run(argv, what="pip install (the app's own wheel)")
        return _read_report(report)

    def download(self, requirements: list[str], extra: list[str]) -> None:
        """Fetch wheels into the cache; an sdist-only pure package gets its wheel built here (once)."""
        index = index_args(self.section, self.base_dir)
        argv = [
            *pip_argv(), "download", "--disable-pip-version-check", "--no-input",
            "--dest", str(self.wheelhouse), "--find-links", str(self.wheelhouse),
            *target_args(self.target, self.version), *index, *extra, "--", *requirements,
        ]
        built: set[str] = set()
        while True:
            try:
                run(argv, what=f"downloading dependencies for {self.target.name}")
                return
            except ToolFailed as e:
                missing = lockfile.missing_requirement(e.message)
                if missing is None or missing in built:
                    raise KilnError(
                        f"could not get wheels for {self.target.name} (Python {self.version}) of: "
                        f"{', '.join(requirements) or 'the locked packages'}\n  {e.message}",
                        hint="check the requirement names and versions; a package without a wheel for this "
                        "platform cannot be bundled for it",
                    ) from None
                built.add(missing)
                lockfile.build_pure_wheel(missing, self.wheelhouse, platform=self.target.name, pip_args=index)


def _read_report(report: Path) -> list[lockfile.LockedPackage]:
    """What pip installed, from its --report JSON: names, versions, wheel files and their sha256."""
    data = json.loads(report.read_text(encoding="utf-8"))
    installed = []
    for item in data.get("install", []):
        metadata = item.get("metadata", {})
        info = item.get("download_info", {})
        url = str(info.get("url", ""))
        hashes = info.get("archive_info", {}).get("hashes", {})
        installed.append(
            lockfile.LockedPackage(
                name=str(metadata.get("name", "")),
                version=str(metadata.get("version", "")),
                wheel=url.rsplit("/", 1)[-1],
                sha256=str(hashes.get("sha256", "")),
            )
        )
    return sorted(installed, key=lambda d: d.name.lower())


# Releases Kiln knows to break apps: (canonical name, version, Python versions it breaks on, the fix).
KNOWN_BAD: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("pyside6", "6.12.0", ("3.11",), "PySide6!=6.12.0"),
    ("pyside6-essentials", "6.12.0", ("3.11",), "PySide6-Essentials!=6.12.0"),
)


def known_bad(installed: list[lockfile.LockedPackage], python_version: str) -> list[str]:
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
