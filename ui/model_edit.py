"""Applying a page's values to the project without bloating the user's file; paths relative to the project file
(made so on Save, moved on Save As)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from kiln.model.project import Project


def apply_patch(project: Project, patch: dict[str, Any]) -> Project:
    """A new, validated Project with `patch` ({section: {field: value}}, or `installer`: [tables]) applied.

    Only values that differ from the current ones, or were already in the file, are written: the file stays
    as short as the user left it. Empty values that were set are dropped (e.g. `module = ""` after switching
    to a script). Raises pydantic's ValidationError for invalid values.
    """
    data = project.to_data()
    effective = project.model_dump(mode="json")
    for section, values in patch.items():
        if section == "installer":
            if "installer" in data or values != installer_tables(project):
                data["installer"] = values
            continue
        if section == "association":  # a list of tables, replaced as a whole; none: the key goes
            if values:
                data["association"] = values
            else:
                data.pop("association", None)
            continue
        target = dict(data.get(section, {}))
        for key, value in values.items():
            if key in target or effective[section].get(key) != value:
                target[key] = value
            if key in target and target[key] in ("", [], None):
                del target[key]
        if target:
            data[section] = target
        else:
            data.pop(section, None)
    return Project.model_validate(data)


def installer_tables(project: Project) -> list[dict[str, Any]]:
    """Each installer as the table the file holds (kind always present: it picks the installer's type)."""
    return [{"kind": i.kind, **i.model_dump(mode="json", exclude_unset=True)} for i in project.installer]


def merge_options(table: dict[str, Any], defaults: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """An installer table with `options` applied by the same rule as apply_patch (set when changed or present)."""
    result = dict(table)
    for key, value in options.items():
        if key in result or defaults.get(key) != value:
            result[key] = value
        if key in result and result[key] in ("", None):
            del result[key]
    return result


_PATH_FIELDS = (
    ("app", "license_file"),
    ("source", "root"),
    ("icon", "path"),
    ("build", "output_dir"),
    ("dependencies", "requirements_file"),
)
_PYTHON_SOURCES = {"auto", "host", "download"}


def rebase_paths(project: Project, old_dir: Path, new_dir: Path) -> Project:
    """The project with relative paths rewritten so they point at the same files from `new_dir` (Save As)."""
    if old_dir.resolve() == new_dir.resolve():
        return project

    def moved(value: str) -> str:
        if not value or PurePath(value).is_absolute():
            return value
        return Path(os.path.relpath(old_dir / value, new_dir)).as_posix()

    return _map_paths(project, moved, keep_root=True)


def inside(value: str, base_dir: Path) -> str:
    """An absolute path inside `base_dir` as the relative path a project file holds (the folder can then move or be
    shared); other values as they are."""
    path = Path(value).expanduser() if value else None
    if path is None or not path.is_absolute():
        return value
    try:
        relative = path.resolve().relative_to(base_dir.resolve())
    except ValueError:
        return value  # outside the project's folder: only an absolute path finds it again
    return relative.as_posix() or "."


def relative_paths(project: Project, base_dir: Path) -> Project:
    """The project with every absolute path inside `base_dir` made relative to it (what Save writes)."""
    changed = _map_paths(project, lambda value: inside(value, base_dir), keep_root=False)
    return project if changed.to_data() == project.to_data() else changed


def _map_paths(project: Project, moved: Callable[[str], str], keep_root: bool) -> Project:
    data = project.to_data()
    if keep_root:
        # The source folder moves even when it was the default '.': the code stays where it is. (An unset output
        # folder stays the default: dist/ next to the project file.)
        data.setdefault("source", {}).setdefault("root", project.source.root)
    for section, key in _PATH_FIELDS:
        if key in data.get(section, {}):
            data[section][key] = moved(data[section][key])
    python = data.get("python", {})
    if python.get("source", "auto") not in _PYTHON_SOURCES | {"embed", "archive"}:
        python["source"] = moved(python["source"])
    for table in data.get("installer", []):
        for key in ("signing_certificate", "signing_key"):
            if table.get(key):
                table[key] = moved(table[key])
    return Project.model_validate(data)
