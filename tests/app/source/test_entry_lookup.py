"""A typed entry whose module is missing from the project's own package is caught before any build."""

from __future__ import annotations

from pathlib import Path

from kiln.source.entry_lookup import missing_in_project


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
