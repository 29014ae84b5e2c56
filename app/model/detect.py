"""Read an app's source folder and suggest a project: metadata, entry points, dependencies, icon."""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement

from kiln.installers.appimage.options import AppImageOptions
from kiln.installers.portable.options import PortableOptions
from kiln.model.project import (
    TODO,
    AppSection,
    DependenciesSection,
    EntrySection,
    IconSection,
    Project,
    SourceSection,
)

EntrySource = Literal["console-script", "gui-script", "__main__", "script"]
_SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "__pycache__", "build", "dist", "node_modules", ".tox", "tests"}
_ICON_NAMES = ("icon", "logo", "app")
_MAX_FILES = 5000  # a huge folder is probably not an app root; stop scanning rather than hang


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
    python_requires: str = ""
    entries: list[EntryCandidate] = field(default_factory=list)
    icons: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    """Top-level packages (shipped whole, data files included) and modules to ship."""
    warnings: list[str] = field(default_factory=list)

    def project(self) -> Project:
        """A Project for this folder; values detection could not find are TODO placeholders."""
        name = _machine_name(self.name or self.folder.name) or TODO
        app = AppSection(
            name=name,
            version=self.version or TODO,
            identifier=f"org.example.{_identifier_part(name)}" if name != TODO else "",
        )
        for key in ("description", "publisher", "homepage", "license"):
            if getattr(self, key):
                setattr(app, key, getattr(self, key))
        if name != TODO and name != (self.name or self.folder.name):
            app.display_name = self.name or self.folder.name
        if self.entries:
            best = self.entries[0]
            entry = EntrySection(module=best.module, kind=best.kind) if best.module else EntrySection(
                script=best.script, kind=best.kind
            )
        else:
            entry = EntrySection(module=TODO)
        include = [f"{p}/**" if (self.folder / p).is_dir() else p for p in self.packages] or ["**/*.py"]
        project = Project(app=app, entry=entry, source=SourceSection(include=include))
        # Set explicitly so `kiln new` writes both [[installer]] tables into the file for the user to see.
        project.installer = [AppImageOptions(), PortableOptions()]
        if self.requirements or self.requirements_file:
            project.dependencies = DependenciesSection()
            if self.requirements:
                project.dependencies.requirements = self.requirements
            if self.requirements_file:
                project.dependencies.requirements_file = self.requirements_file
        if self.icons:
            project.icon = IconSection(path=self.icons[0])
        return project


def _machine_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-._")


def _identifier_part(name: str) -> str:
    part = re.sub(r"[^A-Za-z0-9-]", "-", name).strip("-").lower()
    return part if part and part[0].isalpha() else f"app-{part}"


def detect(folder: Path) -> Detection:
    """Inspect `folder` (never runs any of its code)."""
    found = Detection(folder=folder)
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        _read_pyproject(pyproject, found)
    if not found.requirements:
        _read_requirements_files(folder, found)
    files = _python_files(folder)
    found.packages = _top_level_packages(folder, files)
    found.entries += _main_entries(folder, files, found.entries)
    found.icons = _icons(folder)
    return found


def _read_pyproject(path: Path, found: Detection) -> None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        found.warnings.append(f"{path.name}: could not read it ({e}); nothing taken from it")
        return
    table = data.get("project", {})
    if not isinstance(table, dict):
        return
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


def _read_requirements_files(folder: Path, found: Detection) -> None:
    for path in sorted(folder.glob("requirements*.txt")):
        if "dev" in path.name or "test" in path.name:
            continue
        found.requirements_file = path.name
        return


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
                if child.name not in _SKIP_DIRS and not child.name.startswith("."):
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


def _has_main_guard(path: Path) -> bool:
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return False
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            text = ast.unparse(node.test)
            if "__name__" in text and "__main__" in text:
                return True
    return False


def _imports_gui(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(re.search(r"^\s*(from|import)\s+(PySide6|PyQt[56]|tkinter|wx|kivy|pygame)\b", text, re.M))


def _main_entries(folder: Path, files: list[Path], known: list[EntryCandidate]) -> list[EntryCandidate]:
    entries = []
    for path in files:
        rel = path.relative_to(folder)
        if path.name == "__main__.py" and len(rel.parts) >= 2:
            module = ".".join(rel.parts[:-1])
            if all(c.module.split(":")[0] != module for c in known):
                kind: Literal["console", "gui"] = "gui" if _imports_gui(path) else "console"
                entries.append(EntryCandidate(module, "", kind, "__main__", f"python -m {module} (__main__.py)"))
    for path in files:
        rel = path.relative_to(folder)
        if path.name != "__main__.py" and path.name != "setup.py" and _has_main_guard(path):
            kind = "gui" if _imports_gui(path) else "console"
            entries.append(EntryCandidate("", rel.as_posix(), kind, "script", f"{rel.as_posix()} (script)"))
    return entries


def _icons(folder: Path) -> list[str]:
    found = []
    for pattern in ("*.png", "*.svg", "*/*.png", "*/*.svg", "*/*/*.png", "*/*/*.svg"):
        for path in sorted(folder.glob(pattern)):
            if any(part in _SKIP_DIRS for part in path.relative_to(folder).parts):
                continue
            if any(word in path.stem.lower() for word in _ICON_NAMES):
                found.append(path.relative_to(folder).as_posix())
    return sorted(set(found), key=lambda p: (p.count("/"), not p.endswith(".png"), p))

