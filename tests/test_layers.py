"""The rules between folders (docs/architecture.md), checked on the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from kit.testing import REPO

# Folder → the `kiln` packages its modules may import (besides themselves and the standard library).
RULES = {
    "app/support": ("kiln.support", "kiln.resources"),
    "runtimes": ("kiln.runtimes", "kiln.support", "kiln.model"),
}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def python_files(folder: str) -> list[Path]:
    """The repository's own modules under `folder` (not a virtual environment or a cache someone left there)."""
    return sorted(p for p in (REPO / folder).rglob("*.py")
                  if not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(REPO).parts))


def core_modules() -> list[Path]:
    return python_files("app") + python_files("runtimes")


@pytest.mark.parametrize("folder", sorted(RULES))
def test_lower_layers_import_only_what_they_may(folder: str) -> None:
    allowed = RULES[folder]
    broken = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in python_files(folder)
        for module in imported_modules(path)
        if module.startswith("kiln.") and not module.startswith(allowed)  # `kiln` itself holds only the version
    ]
    assert broken == []


def test_the_core_never_imports_qt_or_the_wizard() -> None:
    # The one exception: `kiln wizard` opens the wizard, importing it only when that command runs.
    wizard_command = ("app/cli/main.py", "kiln.ui.main")
    broken = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in core_modules()
        for module in imported_modules(path)
        if (module.split(".")[0] in {"PySide6", "shiboken6", "PyQt5", "PyQt6"} or module.startswith("kiln.ui"))
        and (path.relative_to(REPO).as_posix(), module) != wizard_command
    ]
    assert broken == []


def test_nothing_imports_the_old_top_level_names() -> None:
    """Everything is `kiln.…`; an `import app` or `from ui import …` would only work from a checkout."""
    old = {"app", "ui", "runtimes", "resources"}
    broken = [
        f"{path.relative_to(REPO)} imports {module}"
        for folder in ("app", "ui", "runtimes", "tests", "bench")
        for path in python_files(folder)
        for module in imported_modules(path)
        if module.split(".")[0] in old
    ]
    assert broken == []
