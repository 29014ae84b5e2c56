"""Detection reads metadata, entry points, dependencies and icons without running the app."""

from __future__ import annotations

import shutil
from pathlib import Path

from kiln_testing import REPO

from kiln.model.detect import detect

EXAMPLES = REPO / "examples"


def test_hello_example() -> None:
    found = detect(EXAMPLES / "hello")
    project = found.project()
    assert (project.app.name, project.app.version) == ("hello", "1.0.0")
    assert project.app.description.startswith("A tiny console app")
    assert project.entry.module == "hello.cli:main" and project.entry.kind == "console"
    assert project.dependencies.requirements == ["rich>=13"]
    assert project.source.include == ["hello/**"]
    assert project.todo_fields() == []


def test_gui_scripts_are_gui() -> None:
    project = detect(EXAMPLES / "qt-hello").project()
    assert project.entry.module == "qt_hello.window:main" and project.entry.kind == "gui"


def test_plain_folder_with_script_requirements_and_icon(tmp_path: Path) -> None:
    (tmp_path / "tool.py").write_text("import sys\nif __name__ == '__main__':\n    print('hi')\n")
    (tmp_path / "helpers.py").write_text("X = 1\n")
    (tmp_path / "requirements.txt").write_text("requests>=2\n")
    (tmp_path / "requirements-dev.txt").write_text("pytest\n")
    shutil.copy(Path(__file__), tmp_path / "not-an-icon.txt")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app-icon.png").write_bytes(b"\x89PNG")
    found = detect(tmp_path)
    project = found.project()
    assert project.entry.script == "tool.py"
    assert project.dependencies.requirements_file == "requirements.txt"
    assert project.icon.path == "assets/app-icon.png"
    assert project.app.version == "TODO"
    assert project.todo_fields() == ["app.version"]


def test_empty_folder_leaves_todos(tmp_path: Path) -> None:
    project = detect(tmp_path).project()
    assert set(project.todo_fields()) == {"app.version", "entry.module"}


def test_package_main_is_a_candidate(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "__main__.py").write_text("import tkinter\nprint('x')\n")
    found = detect(tmp_path)
    assert found.entries[0].module == "pkg" and found.entries[0].kind == "gui"


def test_broken_pyproject_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    found = detect(tmp_path)
    assert found.warnings and "pyproject.toml" in found.warnings[0]
