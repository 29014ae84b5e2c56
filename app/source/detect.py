"""Read an app's source folder and suggest a project: metadata, entry points, dependencies, icon.

A Python project (pyproject.toml, setup.py, setup.cfg) is read from its static `[project]` table; when that
lacks the name, version or scripts (dynamic fields, setup.py), the project is built into a wheel by its own
backend in a subprocess and the wheel's metadata is read. The user's code is never imported into Kiln.
"""

from __future__ import annotations

import re
import tempfile
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from tomlkit.toml_document import TOMLDocument

from kiln.kinds import registry
from kiln.model.project import (
    TODO,
    AppSection,
    DependenciesSection,
    EntrySection,
    IconSection,
    Project,
    PythonSection,
    SourceSection,
)
from kiln.source.desktop_files import declared_categories
from kiln.source.icon_choice import choose_icon
from kiln.source.inline_metadata import read_inline_metadata
from kiln.source.requires_python import DEFAULT as DEFAULT_PYTHON
from kiln.source.requires_python import pick_python
from kiln.source.scripts import is_script_name, read_script
from kiln.source.tree import skipped_dir
from kiln.support.pip import pip_argv

EntrySource = Literal["console-script", "gui-script", "__main__", "script"]
_NO_ENTRY_POINTS = {"tests"}
"""Besides what never holds the app's files (kiln.source.tree), folders detection does not look for entry points in."""
_MAX_FILES = 5000  # a huge folder is probably not an app root; stop scanning rather than hang
NEW_PROJECT_KINDS = ("appimage", "portable", "msi", "dmg")
"""The installers a new project lists: a newcomer's first build makes one for every platform."""


@dataclass(frozen=True)
class EntryCandidate:
    """A way to start the app that detection found."""

    module: str
    """`pkg.mod:func` or `pkg` for entry points and packages; empty for scripts."""
    script: str
    """Script path relative to the folder; empty for modules."""
    kind: Literal["console", "gui"]
    source: EntrySource
    label: str
    """What the user sees, e.g. 'hello = hello.cli:main (console script)'."""
    verified: bool = True
    """False when the entry's module is certainly missing from the project's own files (never preselected)."""


@dataclass
class Detection:
    """What detection found; `project()` turns it into a Project with TODO markers where nothing was found."""

    folder: Path
    name: str = ""
    version: str = ""
    description: str = ""
    publisher: str = ""
    homepage: str = ""
    license: str = ""
    requirements: list[str] = field(default_factory=list)
    requirements_file: str = ""
    requirements_from_file: list[str] = field(default_factory=list)
    """What `requirements_file` lists (the build reads the file itself; this is for showing them)."""
    extras: list[str] = field(default_factory=list)
    """Optional features (extras) the project declares; their requirements are not in `requirements`."""
    python_requires: str = ""
    python_version: str = ""
    """The `[python] version` that fits `python_requires` (empty: the default fits, or nothing does)."""
    lone_script: str = ""
    """The folder's one program when it is a script and nothing else is a way to start (e.g. "tipcalc.py")."""
    entries: list[EntryCandidate] = field(default_factory=list)
    icons: list[str] = field(default_factory=list)
    icon_reason: str = ""
    """Why the first of `icons` was chosen, in plain words (kiln.source.icon_choice)."""
    categories: list[str] = field(default_factory=list)
    """Menu categories the project's own desktop file names (for the AppImage's menu entry)."""
    license_file: str = ""
    """The project's licence text (LICENSE, COPYING…), for the MSI's licence page."""
    packages: list[str] = field(default_factory=list)
    """Top-level packages (shipped whole, data files included) and modules to ship."""
    warnings: list[str] = field(default_factory=list)
    is_project: bool = False
    """The folder is a Python project: the build makes its wheel with its own backend (no include globs)."""
    guessed: list[str] = field(default_factory=list)
    """Field paths whose values are guesses (name from the folder, version 0.1.0), filled by `project()`."""

    def project(self) -> Project:
        """A Project for this folder; values detection could not find are TODO placeholders or marked guesses."""
        folder_name = self.folder.resolve().name
        if self.name:
            name = _machine_name(self.name) or TODO
        else:  # a readable ASCII name from the folder ("My Cow Äpp" -> "my-cow-app"); the original is displayed
            name = _machine_name(folder_name).lower() or TODO
            if name != TODO:
                self.guessed.append("app.name")
        version = self.version
        if not version:
            version = "0.1.0"
            self.guessed.append("app.version")
        app = AppSection(
            name=name,
            version=version,
            identifier=f"org.example.{_identifier_part(name)}" if name != TODO else "",
        )
        for key in ("description", "publisher", "homepage", "license"):
            if getattr(self, key):
                setattr(app, key, getattr(self, key))
        shown = self.name or folder_name
        if name != TODO and name != shown:
            app.display_name = shown
        entries = sorted(self.entries, key=lambda e: not e.verified)  # stable: never preselect a broken one
        if entries and entries[0].verified:
            best = entries[0]
            entry = EntrySection(module=best.module, kind=best.kind) if best.module else EntrySection(
                script=best.script, kind=best.kind
            )
        else:
            entry = EntrySection(module=TODO)
        if self.is_project:  # built into a wheel: its own build backend chooses its files
            project = Project(app=app, entry=entry)
        else:
            include = [f"{p}/**" if (self.folder / p).is_dir() else p for p in self.packages] or ["**/*.py"]
            project = Project(app=app, entry=entry, source=SourceSection(include=include))
        # Set explicitly so `kiln new` writes every [[installer]] table into the file for the user to see.
        project.installer = [registry.spec(kind).options() for kind in NEW_PROJECT_KINDS]
        if self.categories:
            project.installer[0] = registry.spec("appimage").options.model_validate({"categories": self.categories})
        if self.python_version:
            project.python = PythonSection(version=self.python_version)
        # A project's own requirements come with its wheel anyway; they are listed too, so that the file (and the
        # wizard's Dependencies page) shows what ships.
        if self.requirements or self.requirements_file:
            project.dependencies = DependenciesSection()
            if self.requirements:
                project.dependencies.requirements = self.requirements
            if self.requirements_file:
                project.dependencies.requirements_file = self.requirements_file
        if self.icons:
            project.icon = IconSection(path=self.icons[0])
        if self.license_file:
            project.app.license_file = self.license_file
        return project


def _machine_name(text: str) -> str:
    """Letters without their accents, digits, '.', '_' and '-' ("Äpp Ω" -> "App")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text.strip()).strip("-._")


def _identifier_part(name: str) -> str:
    part = re.sub(r"[^A-Za-z0-9-]", "-", name).strip("-").lower()
    return part if part and part[0].isalpha() else f"app-{part}"


def detect(folder: Path, build_metadata: bool = True) -> Detection:
    """Inspect `folder`. Its code is never imported here; with `build_metadata`, a project whose static metadata
    is incomplete is built by its own backend (a subprocess) to read the rest."""
    from kiln.source.app_wheel import is_python_project

    found = Detection(folder=folder, is_project=is_python_project(folder))
    pyproject = folder / "pyproject.toml"
    static = _read_pyproject(pyproject, found) if pyproject.is_file() else None
    if found.is_project and build_metadata and _needs_backend(static):
        _read_built_metadata(folder, found)
    if found.is_project and build_metadata and not found.entries and found.requirements:
        _read_dependency_scripts(found)  # a wrapper that ships PyPI apps: offer their scripts
    if not found.is_project:
        _read_requirements_files(folder, found)
    files = _python_files(folder)
    found.packages = _top_level_packages(folder, files)
    if found.is_project:
        found.entries = [_verified(folder, e) for e in found.entries]
    found.entries += _main_entries(folder, files, found.entries)
    if not found.is_project:
        _read_script_metadata(folder, found)
    _pick_python(found)
    names = [found.name, folder.resolve().name, *found.packages, *(Path(e.script).stem for e in found.entries)]
    if (icon := choose_icon(folder, [n.removesuffix(".py") for n in names if n])) is not None:
        found.icons, found.icon_reason = [icon.path], icon.reason
    found.categories = _categories(folder, found)
    found.license_file = _license_file(folder)
    return found


# Keys of [project] Kiln takes from metadata: when any is missing or dynamic, the backend is asked.
_METADATA_KEYS = ("name", "version", "scripts", "gui-scripts", "description")


def _needs_backend(table: dict[str, object] | None) -> bool:
    if table is None:
        return True
    dynamic = table.get("dynamic")
    dynamic = dynamic if isinstance(dynamic, list) else []
    return not table.get("name") or not table.get("version") or any(k in dynamic for k in _METADATA_KEYS)


def _read_built_metadata(folder: Path, found: Detection) -> None:
    """Build the project's wheel in a temporary folder and take what its metadata says."""
    from kiln.source.app_wheel import build_app_wheel, read_app_metadata
    from kiln.support.errors import KilnError

    with tempfile.TemporaryDirectory(prefix="kiln-detect-") as temp:
        try:
            metadata = read_app_metadata(build_app_wheel(folder, Path(temp)))
        except KilnError as e:
            found.warnings.append(f"could not build the project to read its metadata: {e.message}")
            return
    found.name = metadata.name or found.name
    found.version = metadata.version or found.version
    for key, value in (("description", metadata.summary), ("publisher", metadata.author),
                       ("homepage", metadata.home_page), ("license", metadata.license),
                       ("python_requires", metadata.requires_python)):
        if value and not getattr(found, key):
            setattr(found, key, value)
    requirements, found.extras = _unconditional(metadata.requires_dist)
    found.requirements = found.requirements or requirements
    known = {e.module for e in found.entries}
    groups: tuple[tuple[dict[str, str], Literal["console", "gui"], EntrySource], ...] = (
        (metadata.gui_scripts, "gui", "gui-script"), (metadata.console_scripts, "console", "console-script"),
    )
    for scripts, kind, source in groups:
        for script_name, target in scripts.items():
            if target not in known:
                label = f"{script_name} = {target} ({source.replace('-', ' ')})"
                found.entries.append(EntryCandidate(target, "", kind, source, label))


_MAX_WRAPPED = 8  # a wrapper names a few apps; more requirements than this are a library's, not a wrapper's


def _read_dependency_scripts(found: Detection) -> None:
    """The console and GUI scripts of the project's direct dependencies, read from their wheels (pip download)."""

    from kiln.source.app_wheel import read_app_metadata
    from kiln.support.errors import KilnError
    from kiln.support.tools import run

    requirements = found.requirements[:_MAX_WRAPPED]
    with tempfile.TemporaryDirectory(prefix="kiln-detect-") as temp:
        try:
            run([*pip_argv(), "download", "--no-deps", "--only-binary=:all:",
                 "--disable-pip-version-check", "--no-input", "--dest", temp, "--", *requirements],
                what="reading the dependencies' scripts")
        except KilnError as e:
            found.warnings.append(f"could not read the scripts of the dependencies: {e.message}")
            return
        for wheel in sorted(Path(temp).glob("*.whl")):
            try:
                metadata = read_app_metadata(wheel)
            except KilnError:
                continue
            groups: tuple[tuple[dict[str, str], Literal["console", "gui"], EntrySource], ...] = (
                (metadata.gui_scripts, "gui", "gui-script"), (metadata.console_scripts, "console", "console-script"),
            )
            for scripts, kind, source in groups:
                for script_name, target in scripts.items():
                    label = f"{script_name} = {target} ({source.replace('-', ' ')} of {metadata.name})"
                    found.entries.append(EntryCandidate(target, "", kind, source, label))


def _verified(folder: Path, entry: EntryCandidate) -> EntryCandidate:
    """Mark a script whose module belongs to the project (found in its folder or src/) but does not exist."""
    parts = entry.module.split(":")[0].split(".")
    for base in (folder, folder / "src"):
        top = base / parts[0]
        if top.is_dir() or top.with_suffix(".py").is_file():
            target = base.joinpath(*parts)
            if target.with_suffix(".py").is_file() or (target / "__init__.py").is_file():
                return entry
            return EntryCandidate(entry.module, entry.script, entry.kind, entry.source,
                                  f"{entry.label} — module not found in the project", verified=False)
    return entry  # a dependency's module: checked in the bundle after installing


def _read_pyproject(path: Path, found: Detection) -> dict[str, object] | None:
    """Take the static [project] table's metadata; returns the table (None when there is none)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        found.warnings.append(f"{path.name}: could not read it ({e}); nothing taken from it")
        return None
    table = data.get("project")
    if not isinstance(table, dict):
        return None
    found.name = str(table.get("name", ""))
    found.version = str(table.get("version", ""))
    found.description = str(table.get("description", ""))
    found.python_requires = str(table.get("requires-python", ""))
    authors = table.get("authors") or []
    if authors and isinstance(authors[0], dict):
        found.publisher = str(authors[0].get("name", ""))
    urls = table.get("urls") or {}
    if isinstance(urls, dict):
        found.homepage = str(urls.get("Homepage") or urls.get("homepage") or next(iter(urls.values()), ""))
    license_value = table.get("license")
    found.license = license_value if isinstance(license_value, str) else ""
    optional = table.get("optional-dependencies")
    found.extras = list(optional) if isinstance(optional, dict) else []
    for requirement in table.get("dependencies") or []:
        try:
            Requirement(str(requirement))
            found.requirements.append(str(requirement))
        except InvalidRequirement:
            found.warnings.append(f"pyproject dependency {requirement!r} is not valid PEP 508; left out")
    script_tables: tuple[tuple[str, Literal["console", "gui"], EntrySource], ...] = (
        ("gui-scripts", "gui", "gui-script"), ("scripts", "console", "console-script"),
    )
    for key, kind, source in script_tables:
        for script_name, target in (table.get(key) or {}).items():
            found.entries.append(
                EntryCandidate(str(target), "", kind, source, f"{script_name} = {target} ({source.replace('-', ' ')})")
            )
    return table


def _unconditional(requires_dist: Sequence[str]) -> tuple[list[str], list[str]]:
    """The requirements that always apply, and the extras the others belong to (`…; extra == "name"`)."""
    requirements, extras = [], []
    for text in requires_dist:
        try:
            marker = Requirement(text).marker
        except InvalidRequirement:
            continue
        names = re.findall(r"""extra\s*==\s*['"]([^'"]+)['"]""", str(marker)) if marker is not None else []
        if names:
            extras += [name for name in names if name not in extras]
        else:
            requirements.append(text)
    return requirements, extras


def _read_requirements_files(folder: Path, found: Detection) -> None:
    """A folder of scripts: the first requirements*.txt (not a dev or test one) is read when it builds."""
    for path in sorted(folder.glob("requirements*.txt")):
        if "dev" in path.name or "test" in path.name:
            continue
        found.requirements_file = path.name
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            found.warnings.append(f"{path.name}: could not read it ({e})")
            return
        for line in (raw.split(" #", 1)[0].strip() for raw in lines):
            if line and not line.startswith(("#", "-")):
                found.requirements_from_file.append(line)
        return


def _read_script_metadata(folder: Path, found: Detection) -> None:
    """A folder of scripts: the lone script, and the inline metadata (PEP 723) of the script that will run."""
    scripts = [e for e in found.entries if e.source == "script"]
    if len(scripts) == 1 and len(found.entries) == 1:
        found.lone_script = scripts[0].script
    if not found.entries or found.entries[0].source != "script":
        return
    metadata = read_inline_metadata(folder / found.entries[0].script)
    if metadata is None:
        return
    found.warnings += metadata.problems
    found.requirements += [r for r in metadata.dependencies if r not in found.requirements]
    found.python_requires = found.python_requires or metadata.requires_python


def _pick_python(found: Detection) -> None:
    if not found.python_requires:
        return
    version = pick_python(found.python_requires)
    if version is None:
        found.warnings.append(f"requires-python {found.python_requires!r} allows no Python Kiln bundles; "
                              f"[python] version stays {DEFAULT_PYTHON}")
    elif version != DEFAULT_PYTHON:
        found.python_version = version


def _skipped(child: Path, folder: Path) -> bool:
    """Whether the search for entry points leaves out `child`, a folder below `folder`."""
    return child.name in _NO_ENTRY_POINTS or child.name.startswith(".") or skipped_dir(child, folder)


def _python_files(folder: Path) -> list[Path]:
    files: list[Path] = []
    stack = [folder]
    while stack and len(files) < _MAX_FILES:
        current = stack.pop()
        try:
            children = sorted(current.iterdir())
        except OSError:
            continue
        for child in children:
            if child.is_dir() and not child.is_symlink():
                if not _skipped(child, folder):
                    stack.append(child)
            elif child.suffix == ".py":
                files.append(child)
    return files


def _top_level_packages(folder: Path, files: list[Path]) -> list[str]:
    names = set()
    for path in files:
        rel = path.relative_to(folder)
        if len(rel.parts) == 1:
            if rel.name not in {"setup.py", "conftest.py", "noxfile.py"}:
                names.add(rel.name)
        elif (folder / rel.parts[0] / "__init__.py").exists() or (folder / rel.parts[0] / "__main__.py").exists():
            names.add(rel.parts[0])
    return sorted(names)


def _main_entries(folder: Path, files: list[Path], known: list[EntryCandidate]) -> list[EntryCandidate]:
    """Packages with a __main__.py, then scripts with a main guard, then top-level scripts whose own code runs
    the program (a script other files import is their module, not a program)."""
    entries = []
    infos = {path: read_script(path) for path in files}
    for path, info in infos.items():
        rel = path.relative_to(folder)
        if path.name == "__main__.py" and len(rel.parts) >= 2:
            module = ".".join(rel.parts[:-1])
            if all(c.module.split(":")[0] != module for c in known):
                kind: Literal["console", "gui"] = info.kind if info else "console"
                entries.append(EntryCandidate(module, "", kind, "__main__", f"python -m {module} (__main__.py)"))
    # What the app's own files import is a module (tests import the program they test: they do not count).
    imported = {name for path, info in infos.items() if info and is_script_name(path.name) for name in info.imports}
    guarded, plain = [], []
    for path, info in infos.items():
        relative = path.relative_to(folder).as_posix()
        if info is None or not is_script_name(relative):
            continue
        if info.main_guard:
            guarded.append(EntryCandidate("", relative, info.kind, "script", f"{relative} (script)"))
        elif info.top_level_code and "/" not in relative and path.stem not in imported:
            plain.append(EntryCandidate("", relative, info.kind, "script", f"{relative} (script)"))
    return entries + guarded + plain


def _categories(folder: Path, found: Detection) -> list[str]:
    """The desktop file's menu categories, when they are valid ones (else a warning, and Kiln's default)."""
    from kiln.installers.appimage.categories import normalize_categories

    declared = declared_categories(folder)
    try:
        normalize_categories(declared)
    except ValueError as e:
        if declared:
            found.warnings.append(f"the desktop file's categories {';'.join(declared)} were not taken: {e}")
        return []
    return declared


# Names projects give their licence text, most usual first (GitHub's and PyPA's conventions).
_LICENSE_NAMES = ("LICENSE", "LICENCE", "COPYING", "LICENSE.txt", "LICENCE.txt", "COPYING.txt", "LICENSE.md",
                  "LICENSE.rst", "LICENSE.rtf")


def _license_file(folder: Path) -> str:
    """The first licence file at the top of the folder (matched without regard to case), or ''."""
    names = {path.name.lower(): path.name for path in folder.iterdir() if path.is_file()}
    return next((names[name.lower()] for name in _LICENSE_NAMES if name.lower() in names), "")


GUESS_COMMENT = "guessed by kiln new: check it, then delete this comment"


def mark_guesses(document: TOMLDocument, paths: list[str]) -> None:
    """Put GUESS_COMMENT beside each guessed value of a new project file (`kiln check` warns while it is there)."""
    for path in paths:
        section, _, key = path.partition(".")
        table = document.get(section)
        if table is not None and key in table:
            table[key].comment(GUESS_COMMENT)
