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


TIPCALC = """import tkinter as tk

import requests

root = tk.Tk()
tk.Label(root, text="tip").pack()
root.mainloop()
"""


def test_a_lone_script_without_a_main_guard_is_the_entry(tmp_path: Path) -> None:
    (tmp_path / "tipcopy2").mkdir()
    folder = tmp_path / "tipcopy2"
    (folder / "main.py").write_text(TIPCALC)
    (folder / "requirements.txt").write_text("# what it needs\nrequests>=2  # the web\n\n-i https://example.org\n")
    found = detect(folder)
    assert found.lone_script == "main.py" and found.requirements_from_file == ["requests>=2"]
    project = found.project()
    assert (project.entry.script, project.entry.kind) == ("main.py", "gui")
    assert project.dependencies.requirements_file == "requirements.txt" and project.todo_fields() == []


def test_modules_the_script_imports_are_not_programs(tmp_path: Path) -> None:
    (tmp_path / "game.py").write_text("import pygame\n\nimport levels\n\nlevels.start()\n")
    (tmp_path / "levels.py").write_text("import random\n\nrandom.seed(1)\n\n\ndef start():\n    print(1)\n")
    (tmp_path / "test_game.py").write_text("import game\n\ngame.run()\n")
    (tmp_path / "notes.py").write_text("X = 1\n")
    found = detect(tmp_path)
    assert [(e.script, e.kind) for e in found.entries] == [("game.py", "gui")]
    assert found.lone_script == "game.py"


def test_a_guarded_script_comes_before_one_with_top_level_code_and_neither_is_lone(tmp_path: Path) -> None:
    (tmp_path / "a_tool.py").write_text("print('runs when imported too')\n")
    (tmp_path / "main.py").write_text("def main():\n    pass\n\n\nif __name__ == '__main__':\n    main()\n")
    found = detect(tmp_path)
    assert [e.script for e in found.entries] == ["main.py", "a_tool.py"] and found.lone_script == ""
    assert found.project().entry.script == "main.py"


def test_a_pep_723_script_gives_dependencies_and_python(tmp_path: Path) -> None:
    (tmp_path / "moo.py").write_text(
        '# /// script\n# requires-python = ">=3.12"\n# dependencies = ["cowsay==6.1"]\n# ///\n'
        "import cowsay\n\ncowsay.cow('moo')\n")
    found = detect(tmp_path)
    assert (found.lone_script, found.requirements, found.python_requires) == ("moo.py", ["cowsay==6.1"], ">=3.12")
    project = found.project()
    assert project.dependencies.requirements == ["cowsay==6.1"] and project.python.version == "3.12"
    assert project.to_data()["python"] == {"version": "3.12"}


def test_a_pep_723_block_nothing_fits_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "old.py").write_text('# /// script\n# requires-python = "<3.6"\n# dependencies = ["x y"]\n# ///\n'
                                     "print('py2 days')\n")
    found = detect(tmp_path)
    assert found.requirements == [] and "python" not in found.project().to_data()
    assert [w.split(":")[0] for w in found.warnings] == ["old.py", "requires-python '<3.6' allows no Python Kiln "
                                                                   "bundles; [python] version stays 3.11"]


def test_requires_python_of_a_project_picks_the_python(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "new"\nversion = "1"\nrequires-python = ">=3.13"\n'
                                             '[project.scripts]\nnew = "new:main"\n')
    (tmp_path / "new.py").write_text("def main():\n    pass\n")
    assert detect(tmp_path).project().python.version == "3.13"


def test_a_new_project_lists_every_kind(tmp_path: Path) -> None:
    (tmp_path / "tool.py").write_text("print('hi')\n")
    project = detect(tmp_path).project()
    assert [i.kind for i in project.installer] == ["appimage", "portable", "msi", "dmg"]
    assert [table["kind"] for table in project.to_data()["installer"]] == ["appimage", "portable", "msi", "dmg"]


@pytest.mark.slow
def test_optional_requirements_are_not_copied_into_requirements(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "opt"\ndynamic = ["version"]\ndependencies = ["six>=1"]\n'
        '[project.optional-dependencies]\nfast = ["ujson"]\nweb = ["requests", "six>=1.16"]\n'
        '[project.scripts]\nopt = "opt:main"\n[tool.setuptools.dynamic]\nversion = {attr = "opt.__version__"}\n')
    (tmp_path / "opt.py").write_text("__version__ = '2.0'\n\n\ndef main():\n    pass\n")
    found = detect(tmp_path)
    assert found.version == "2.0" and found.requirements == ["six>=1"] and found.extras == ["fast", "web"]
    assert found.project().dependencies.requirements == ["six>=1"]


def test_check_warns_when_the_scripts_block_lists_what_the_project_does_not(tmp_path: Path) -> None:
    script = tmp_path / "moo.py"
    script.write_text('# /// script\n# dependencies = ["cowsay==6.1"]\n# ///\nimport cowsay\ncowsay.cow("x")\n')
    project_file = new_project_file(tmp_path / "kiln.toml", detect(tmp_path).project())
    project_file.save()
    assert check_warnings(load_project(tmp_path / "kiln.toml")) == []
    script.write_text(script.read_text().replace("cowsay==6.1", "cowsay==6.2"))  # the script moved on
    warnings = check_warnings(load_project(tmp_path / "kiln.toml"))
    assert warnings[0].location == "dependencies.requirements" and "cowsay==6.2" in warnings[0].message
