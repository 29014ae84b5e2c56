"""Detection reads metadata, entry points, dependencies and icons without running the app."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tomlkit
from kit.testing import REPO
from PIL import Image

from kiln.model.project_file import load_project, new_project_file
from kiln.source.checks import check_project, check_warnings
from kiln.source.detect import detect, mark_guesses

EXAMPLES = REPO / "examples"


def test_hello_example() -> None:
    found = detect(EXAMPLES / "hello")
    project = found.project()
    assert (project.app.name, project.app.version) == ("hello", "1.0.0")
    assert project.app.description.startswith("A tiny console app")
    assert project.entry.module == "hello.cli:main" and project.entry.kind == "console"
    # a Python project: the build makes its wheel, whose backend chooses the files (no include globs)
    assert found.is_project and project.dependencies.requirements == ["rich>=13"]
    assert "source" not in project.to_data()
    assert project.todo_fields() == [] and found.guessed == []


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
    Image.new("RGBA", (64, 64)).save(tmp_path / "assets" / "app-icon.png")
    found = detect(tmp_path)
    project = found.project()
    assert project.entry.script == "tool.py"
    assert project.dependencies.requirements_file == "requirements.txt"
    assert project.icon.path == "assets/app-icon.png"
    assert not found.is_project and project.source.include == ["helpers.py", "tool.py"]
    # no metadata: a name from the folder and version 0.1.0, both marked as guesses (not TODOs)
    assert project.app.version == "0.1.0" and project.app.name == tmp_path.name.lower()
    assert project.todo_fields() == [] and found.guessed == ["app.name", "app.version"]


def test_empty_folder_leaves_todos(tmp_path: Path) -> None:
    found = detect(tmp_path)
    assert found.project().todo_fields() == ["entry.module"]


@pytest.mark.parametrize(("folder", "name"), [("My Cow Äpp", "my-cow-app"), ("Ünïcødé  tool!", "unicde-tool"),
                                              ("日本", "TODO")])
def test_names_from_folders_stay_readable(tmp_path: Path, folder: str, name: str) -> None:
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "main.py").write_text("if __name__ == '__main__':\n    pass\n")
    project = detect(tmp_path / folder).project()
    assert project.app.name == name
    if name != "TODO":
        assert project.app.display_name == folder


def test_guesses_are_marked_in_the_file_and_warned_by_check(tmp_path: Path) -> None:
    (tmp_path / "Tool").mkdir()
    (tmp_path / "Tool" / "main.py").write_text("if __name__ == '__main__':\n    pass\n")
    found = detect(tmp_path / "Tool")
    project_file = new_project_file(tmp_path / "Tool" / "kiln.toml", found.project())
    project_file.save()
    mark_guesses(project_file.document, found.guessed)
    (tmp_path / "Tool" / "kiln.toml").write_text(tomlkit.dumps(project_file.document))
    text = (tmp_path / "Tool" / "kiln.toml").read_text()
    assert 'name = "tool" # guessed by kiln new' in text and 'version = "0.1.0" # guessed by kiln new' in text
    loaded = load_project(tmp_path / "Tool" / "kiln.toml")
    assert check_project(loaded) == []
    assert [w.location for w in check_warnings(loaded)] == ["app.name", "app.version"]
    # the user checks the version and deletes the comment: that warning goes away
    (tmp_path / "Tool" / "kiln.toml").write_text(text.replace('"0.1.0" # guessed by kiln new: check it, then delete '
                                                              'this comment', '"1.0"'))
    assert [w.location for w in check_warnings(load_project(tmp_path / "Tool" / "kiln.toml"))] == ["app.name"]


def test_a_script_whose_module_is_missing_is_never_preselected(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "two"\nversion = "1"\n[project.scripts]\nbroken = "two.nope:main"\n'
        'good = "two.cli:main"\nwrapped = "somedep.cli:main"\n'
    )
    (tmp_path / "src" / "two").mkdir(parents=True)
    (tmp_path / "src" / "two" / "__init__.py").write_text("")
    (tmp_path / "src" / "two" / "cli.py").write_text("def main():\n    pass\n")
    found = detect(tmp_path)
    assert [(e.module, e.verified) for e in found.entries] == [
        ("two.nope:main", False), ("two.cli:main", True), ("somedep.cli:main", True)]
    assert "module not found" in found.entries[0].label
    assert found.project().entry.module == "two.cli:main"


@pytest.mark.slow
def test_setup_py_only_metadata_comes_from_the_build_backend(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='oldie', version='0.9.1', author='Old Ltd',\n"
        "      description='only setup.py', packages=['oldie'],\n"
        "      entry_points={'console_scripts': ['oldie = oldie.cli:main'],\n"
        "                    'gui_scripts': ['oldie-gui = oldie.gui:run']})\n"
    )
    (tmp_path / "oldie").mkdir()
    (tmp_path / "oldie" / "__init__.py").write_text("")
    (tmp_path / "oldie" / "cli.py").write_text("def main():\n    pass\n")
    (tmp_path / "oldie" / "gui.py").write_text("def run():\n    pass\n")
    found = detect(tmp_path)
    project = found.project()
    assert (project.app.name, project.app.version, project.app.publisher, project.app.description) == (
        "oldie", "0.9.1", "Old Ltd", "only setup.py")
    assert [(e.module, e.kind, e.label) for e in found.entries] == [
        ("oldie.gui:run", "gui", "oldie-gui = oldie.gui:run (gui script)"),
        ("oldie.cli:main", "console", "oldie = oldie.cli:main (console script)")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["oldie", "setup.py"]  # built in a copy


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


@pytest.mark.slow
def test_a_wrapper_is_offered_the_scripts_of_the_apps_it_ships(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "moo"\nversion = "1.0"\ndependencies = ["cowsay==6.1", "pyfiglet==1.0.4"]\n'
    )
    found = detect(tmp_path)
    assert [(e.module, e.kind, e.label) for e in found.entries] == [
        ("cowsay.__main__:cli", "console", "cowsay = cowsay.__main__:cli (console script of cowsay)"),
        ("pyfiglet:main", "console", "pyfiglet = pyfiglet:main (console script of pyfiglet)"),
    ]
    assert found.project().entry.module == "cowsay.__main__:cli"


@pytest.mark.parametrize(("names", "found"), [
    pytest.param(["LICENSE"], "LICENSE", id="LICENSE"),
    pytest.param(["copying", "README.md"], "copying", id="any-case"),
    pytest.param(["LICENSE.md", "LICENSE"], "LICENSE", id="plain-first"),
    pytest.param(["README.md"], "", id="none"),
])
def test_licence_file_is_found_for_the_msi_licence_page(tmp_path: Path, names: list[str], found: str) -> None:
    for name in names:
        (tmp_path / name).write_text("Permission is hereby granted...\n")
    (tmp_path / "tool.py").write_text("if __name__ == '__main__':\n    print('hi')\n")
    assert detect(tmp_path).project().app.license_file == found
