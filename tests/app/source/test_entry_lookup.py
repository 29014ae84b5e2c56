"""A typed entry whose module is missing from the project's own package is caught before any build."""

from __future__ import annotations

from pathlib import Path

from kiln.source.entry_lookup import missing_function, missing_in_project


def test_missing_modules_of_the_projects_own_packages(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text("")
    (tmp_path / "src" / "pkg" / "cli.py").write_text("")
    (tmp_path / "tool.py").write_text("")
    assert not missing_in_project(tmp_path, "pkg.cli:main")
    assert not missing_in_project(tmp_path, "pkg")
    assert not missing_in_project(tmp_path, "tool:main")
    assert missing_in_project(tmp_path, "pkg.nosuch:main")
    assert not missing_in_project(tmp_path, "rich.console:main")  # not the project's: a dependency may bring it
    assert not missing_in_project(tmp_path, "pkg.cli:ma in")  # malformed: the model reports it


def test_a_function_the_projects_own_module_does_not_define(tmp_path: Path) -> None:
    (tmp_path / "ReText").mkdir()
    (tmp_path / "ReText" / "__init__.py").write_text("from .tools import *\n")
    (tmp_path / "ReText" / "__main__.py").write_text("import sys\n\ndef main():\n    pass\n\nrun = main\n")
    assert missing_function(tmp_path, "ReText.__main__:nosuch") == "nosuch"
    assert missing_function(tmp_path, "ReText.__main__:main") is None
    assert missing_function(tmp_path, "ReText.__main__:run") is None  # bound by assignment
    assert missing_function(tmp_path, "ReText.__main__:sys.exit") is None  # an imported name
    assert missing_function(tmp_path, "ReText:anything") is None  # a star import may bind it: not certain
    assert missing_function(tmp_path, "rich.console:main") is None  # not the project's module
    assert missing_function(tmp_path, "ReText.__main__") is None  # no function named
