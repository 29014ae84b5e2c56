"""The recent-projects list, kept in QSettings (newest first, only files that still exist)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

_KEY = "recent_projects"
_MAX = 8


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
