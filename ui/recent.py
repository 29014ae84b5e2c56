"""The recent-projects list, kept in QSettings (newest first, only files that still exist), labelled by app name."""

from __future__ import annotations

import tomllib
from pathlib import Path

from PySide6.QtCore import QSettings

_KEY = "recent_projects"
_MAX = 8
_MAX_READ = 1024 * 1024  # a project file bigger than this is labelled by its folder (kiln.toml's own limit)


def settings() -> QSettings:
    """Kiln's per-user settings (an INI file under the user's config folder)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Kiln", "wizard")


def recent_projects() -> list[Path]:
    value = settings().value(_KEY, [])
    items = [value] if isinstance(value, str) else list(value or [])
    return [Path(p) for p in items if Path(p).is_file()]


def remember_project(path: Path) -> None:
    path = path.resolve()
    items = [str(path)] + [str(p) for p in recent_projects() if p.resolve() != path]
    store = settings()
    store.setValue(_KEY, items[:_MAX])
    store.sync()


def project_label(path: Path) -> str:
    """What the list calls a project: its app's display name or name (from the file), else its folder's name."""
    try:
        if path.stat().st_size <= _MAX_READ:
            app = tomllib.loads(path.read_text(encoding="utf-8")).get("app")
            name = (app.get("display_name") or app.get("name")) if isinstance(app, dict) else ""
            if isinstance(name, str) and name.strip() and name != "TODO":
                return name.strip()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        pass
    return path.parent.name
