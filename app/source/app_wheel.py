"""The user's project as a distribution: built into a wheel by its own PEP 517 backend, and its metadata read.

Building the app's wheel the way pip would (`pip wheel --no-deps`, isolated) is what makes src layouts,
package data, dynamic versions, `importlib.metadata.version(...)` and the app's own entry points work in the
bundle: the wheel is installed like any dependency. The build runs in a copy of the folder, so the user's
tree gets no `build/` or `*.egg-info` from it, and the backend runs in its own processes (never in Kiln's).
"""

from __future__ import annotations

import configparser
import shutil
import sys
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from kiln.model.project import SourceSection
from kiln.source.build_env import build_with_kept_env, read_build_system
from kiln.source.tree import skipped_dir
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.pip import pip_argv
from kiln.support.tools import run

# Wheels are reproducible when the backend honours it (setuptools/wheel, hatchling, flit do).
_SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest date a zip file can hold


@dataclass(frozen=True)
class AppMetadata:
    """What the app's own wheel says about it (core metadata + entry_points.txt)."""

    name: str
    version: str
    summary: str = ""
    author: str = ""
    license: str = ""
    home_page: str = ""
    requires_python: str = ""
    requires_dist: tuple[str, ...] = ()
    console_scripts: dict[str, str] = field(default_factory=dict)
    gui_scripts: dict[str, str] = field(default_factory=dict)


def is_python_project(folder: Path) -> bool:
    """True when `folder` builds into a distribution: pyproject `[project]`/`[build-system]`, setup.py or setup.cfg."""
    if (folder / "setup.py").is_file() or (folder / "setup.cfg").is_file():
        return True
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return False
    return isinstance(data.get("project"), dict) or isinstance(data.get("build-system"), dict)


def build_app_wheel(folder: Path, wheel_dir: Path, pip_args: list[str] | None = None,
                    cache_dir: Path | None = None) -> Path:
    """Build the project in `folder` into one wheel in `wheel_dir` with its own backend; returns the wheel.

    `pip_args` are index options (--index-url, --find-links, --no-index): the build backend is fetched
    through them. The backend's output goes to the build log (app.tools logs every command). With `cache_dir`,
    the backend runs in the environment kept there for the project's [build-system] (kiln.source.build_env);
    without, `pip wheel` makes a fresh isolated one. Both give the same wheel.
    """
    wheel_dir.mkdir(parents=True, exist_ok=True)
    work = wheel_dir / ".source"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(folder, work, symlinks=True, ignore=_ignore_for(folder, wheel_dir))
    env = {"SOURCE_DATE_EPOCH": _SOURCE_DATE_EPOCH, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        if cache_dir is not None:
            build_with_kept_env(read_build_system(work), work, wheel_dir, cache_dir, pip_args or [], env)
        else:
            run([*pip_argv(), "wheel", "--no-deps", "--disable-pip-version-check", "--no-input",
                 "--wheel-dir", str(wheel_dir), *(pip_args or []), "--", str(work)],
                what=f"building the app's wheel from {folder.name}", env=env)
    except ToolFailed as e:
        raise KilnError(
            f"building the app in {folder} into a wheel with its own build backend failed:\n  {e.message}",
            hint="run `pip wheel --no-deps .` in that folder to see the error; the full output is in the build log",
        ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wheels = sorted(wheel_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise KilnError(f"building the app in {folder} gave {len(wheels)} wheels instead of one",
                        hint="the build backend should produce exactly one wheel")
    return wheels[0]


def _ignore_for(folder: Path, wheel_dir: Path) -> Callable[[str, list[str]], set[str]]:
    """shutil.copytree's ignore callable: never the environments, caches and earlier build output (kiln.source.tree),
    nor the wheel folder itself."""
    wheel_dir = wheel_dir.resolve()

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory)
        skipped = {n for n in names if (here / n).is_dir() and skipped_dir(here / n, folder)}
        skipped |= {n for n in names if Path(directory, n).resolve() == wheel_dir}
        return skipped

    return ignore


def read_app_metadata(wheel: Path) -> AppMetadata:
    """Name, version, summary, requirements and scripts from a wheel's .dist-info (never imports it)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            dist_info = next((n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA")
                              and n.count("/") == 1), None)
            if dist_info is None:
                raise KilnError(f"{wheel.name} has no .dist-info/METADATA", hint="check the project's build backend")
            metadata = HeaderParser().parsestr(archive.read(f"{dist_info}/METADATA").decode("utf-8", "replace"))
            entry_text = ""
            if f"{dist_info}/entry_points.txt" in names:
                entry_text = archive.read(f"{dist_info}/entry_points.txt").decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile) as e:
        raise KilnError(f"cannot read the app's wheel {wheel.name}: {e}") from None
    entry_points = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    entry_points.optionxform = str  # type: ignore[assignment,method-assign]  # script names keep their case
    try:
        entry_points.read_string(entry_text)
    except configparser.Error:
        entry_points.clear()

    def scripts(group: str) -> dict[str, str]:
        return dict(entry_points.items(group)) if entry_points.has_section(group) else {}

    author = metadata.get("Author") or _name_of(metadata.get("Author-email", "")) or \
        metadata.get("Maintainer") or _name_of(metadata.get("Maintainer-email", ""))
    home_page = metadata.get("Home-page") or ""
    if not home_page:
        urls = [u.split(",", 1)[-1].strip() for u in metadata.get_all("Project-URL") or []]
        home_page = urls[0] if urls else ""
    return AppMetadata(
        name=str(metadata.get("Name", "")), version=str(metadata.get("Version", "")),
        summary=str(metadata.get("Summary", "") or ""), author=str(author or ""),
        license=str(metadata.get("License-Expression") or metadata.get("License") or "").strip().split("\n")[0],
        home_page=str(home_page), requires_python=str(metadata.get("Requires-Python", "") or ""),
        requires_dist=tuple(str(r) for r in metadata.get_all("Requires-Dist") or []),
        console_scripts=scripts("console_scripts"), gui_scripts=scripts("gui_scripts"),
    )


def wheel_top_levels(wheel: Path) -> frozenset[str]:
    """The top-level packages and modules a wheel installs (not its .dist-info or .data folders)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile) as e:
        raise KilnError(f"cannot read the app's wheel {wheel.name}: {e}") from None
    tops = {name.split("/", 1)[0] for name in names if name.strip("/")}
    return frozenset(t for t in tops if not t.endswith((".dist-info", ".data")))


def _name_of(address_list: str) -> str:
    """'Jane Doe <jane@example.org>, …' → 'Jane Doe' (the first name in an RFC 822 address list)."""
    first = address_list.split(",")[0].strip()
    return first.split("<")[0].strip().strip('"') if "<" in first else ""


def wheel_serves(wheel: Path, target_name: str, python_version: str) -> bool:
    """True when `wheel` can go into a bundle for `target_name` / `python_version`.

    A pure wheel serves every target; a platform wheel was compiled here, for this machine's platform and
    Python only (Kiln builds Linux x86-64 bundles of the host Python).
    """
    try:
        _name, _version, _build, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename:
        return False
    if all(t.abi == "none" and t.platform == "any" for t in tags):
        return True
    from packaging.tags import sys_tags

    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    return target_name == "linux-x86_64" and python_version == host and bool(set(tags) & set(sys_tags()))


def require_wheel_serves(wheel: Path, app_name: str, target_name: str, python_version: str) -> None:
    """KilnError naming the app and the platform when the app's own wheel cannot go there."""
    if not wheel_serves(wheel, target_name, python_version):
        raise KilnError(
            f"the app '{app_name}' builds into a platform-specific wheel ({wheel.name}): it has compiled code "
            f"built for this machine, which cannot run on {target_name} (Python {python_version})",
            hint=f"build the {target_name} installer on {target_name}, or make the app pure Python",
        )


def canonical(name: str) -> str:
    return str(canonicalize_name(name))


def builds_wheel(source: SourceSection, root: Path) -> bool:
    """Whether [source] means "build the folder into a wheel" (see SourceSection.kind)."""
    if source.kind != "auto":
        return source.kind == "project"
    return "include" not in source.model_fields_set and is_python_project(root)
