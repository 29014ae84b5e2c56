"""Dependencies for a target platform: pip installs wheels for the target (not the host) into the bundle."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from app.errors import KilnError, ToolFailed
from app.project import DependenciesSection
from app.targets import Target
from app.tools import run


@dataclass(frozen=True)
class InstalledDistribution:
    """One distribution pip put into the bundle, as the lock file and the report record it."""

    name: str
    version: str
    wheel: str
    sha256: str


@dataclass
class DepsResult:
    installed: list[InstalledDistribution] = field(default_factory=list)
    reused_wheels: bool = False
    """True when every wheel came from Kiln's wheel cache (no index was asked)."""


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
        sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--no-compile",
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
) -> DepsResult:
    """Install the project's dependencies for `target` into `dest`.

    Wheels are kept in `wheel_cache` (one folder per target and Python version). A build first tries the cache
    alone, without asking any index; only when that cannot satisfy the requirements does pip download.
    """
    requirements = read_requirements(section, base_dir)
    dest.mkdir(parents=True, exist_ok=True)
    if not requirements:
        return DepsResult(reused_wheels=True)
    wheelhouse = wheel_cache / f"{target.name}-py{python_version}"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    report = dest.parent / f".pip-report-{target.name}.json"
    offline = ["--no-index", "--find-links", str(wheelhouse)]
    try:
        run(pip_install_argv(requirements, dest, target, python_version, offline, report), what="pip (cached wheels)")
        reused = True
    except ToolFailed:
        download = [
            sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
            "--dest", str(wheelhouse), *target_args(target, python_version), *index_args(section, base_dir),
            "--", *requirements,
        ]
        try:
            run(download, what=f"downloading dependencies for {target.name}")
        except ToolFailed as e:
            raise KilnError(
                f"could not get wheels for {target.name} (Python {python_version}) of: {', '.join(requirements)}\n"
                f"  {e.message}",
                hint="check the requirement names and versions; a package without a wheel for this platform "
                "cannot be bundled for it",
            ) from None
        run(pip_install_argv(requirements, dest, target, python_version, offline, report), what="pip install")
        reused = False
    installed = _read_report(report)
    report.unlink(missing_ok=True)
    return DepsResult(installed=installed, reused_wheels=reused)


def _read_report(report: Path) -> list[InstalledDistribution]:
    """What pip installed, from its --report JSON: names, versions, wheel files and their sha256."""
    data = json.loads(report.read_text(encoding="utf-8"))
    installed = []
    for item in data.get("install", []):
        metadata = item.get("metadata", {})
        info = item.get("download_info", {})
        url = str(info.get("url", ""))
        hashes = info.get("archive_info", {}).get("hashes", {})
        installed.append(
            InstalledDistribution(
                name=str(metadata.get("name", "")),
                version=str(metadata.get("version", "")),
                wheel=url.rsplit("/", 1)[-1],
                sha256=str(hashes.get("sha256", "")),
            )
        )
    return sorted(installed, key=lambda d: d.name.lower())
