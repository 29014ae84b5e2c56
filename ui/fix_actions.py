"""The fixes the build proposes as data (the bundle check's machine-readable actions), as buttons: a label that
says what the button does, and the change it makes to the project.

An action is `{"set": {"python.source": "download"}}` (a field takes a value) or
`{"add": {"dependencies.qt_modules": "QtPrintSupport"}}` (a value joins a list); several may be given at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kiln.model.project import Project
from kiln.ui.model_edit import apply_patch


@dataclass(frozen=True)
class FixAction:
    label: str
    """The button's text, e.g. 'Use the standalone runtime'."""
    explain: str
    """One sentence: what the project becomes."""
    set: tuple[tuple[str, Any], ...] = ()
    add: tuple[tuple[str, str], ...] = ()


def fix_action(action: Any, label: str = "") -> FixAction | None:
    """The FixAction an event's `action` describes (None when it describes none Kiln can apply)."""
    if not isinstance(action, dict):
        return None
    changes_set = tuple((str(k), v) for k, v in (action.get("set") or {}).items() if _field(str(k)))
    changes_add = tuple((str(k), str(v)) for k, v in (action.get("add") or {}).items() if _field(str(k)))
    if not changes_set and not changes_add:
        return None
    words = [_set_words(k, v) for k, v in changes_set] + [_add_words(k, v) for k, v in changes_add]
    return FixAction(label or words[0][0], " ".join(w[1] for w in words), changes_set, changes_add)


def _field(path: str) -> bool:
    """A `section.field` path of the project file (installer tables are not addressed this way)."""
    section, _, name = path.partition(".")
    return bool(name) and section in Project.model_fields and section not in ("installer", "association")


def _set_words(path: str, value: Any) -> tuple[str, str]:
    if (path, value) == ("python.source", "download"):
        return ("Use the standalone runtime", "The installers then get a standalone Python, downloaded once and "
                "kept (it has tkinter, which python.org's embeddable Windows Python lacks).")
    if path == "build.keep_sources" and value is True:
        return ("Ship the sources", "The app's .py files then ship beside their compiled form.")
    return (f"Set {path} to {value}", f"The project then has {path} = {value!r}.")


def _add_words(path: str, value: str) -> tuple[str, str]:
    if path == "dependencies.qt_modules":
        return (f"Keep {value}", f"Qt's {value} then ships even though Kiln saw no import of it.")
    if path == "dependencies.requirements":
        name = re.split(r"[\s;<>=!~\[(]", value.strip(), maxsplit=1)[0]
        return (f"Add {name}", f"{value} is then one of the app's requirements (the Dependencies page lists it).")
    return (f"Add {value} to {path}", f"{value} is then added to {path}.")


def apply_fix(project: Project, fix: FixAction) -> Project:
    """The project with the fix applied (validated; raises pydantic's ValidationError if the result is invalid)."""
    patch: dict[str, dict[str, Any]] = {}
    for path, value in fix.set:
        section, _, name = path.partition(".")
        patch.setdefault(section, {})[name] = value
    for path, value in fix.add:
        section, _, name = path.partition(".")
        current = list(getattr(getattr(project, section), name, []) or [])
        patch.setdefault(section, {})[name] = current + ([value] if value not in current else [])
    return apply_patch(project, patch)
