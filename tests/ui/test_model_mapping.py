"""Pure logic behind the pages: where a problem belongs, how edits are merged, how Save As moves paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kiln.model.project import AppSection, EntrySection, Project
from kiln.model.project_file import problems_from_validation
from kiln.support.errors import Problem
from kiln.ui.field_map import describe, field_key, key_candidates, page_for
from kiln.ui.model_edit import apply_patch, rebase_paths
from kiln.ui.page_ids import PageId
from kiln.ui.qt_compat import needs_none_guard


def _project(**data: object) -> Project:
    return Project.model_validate({"app": {"name": "hello"}, "entry": {"module": "hello:main"}, **data})


@pytest.mark.parametrize(("location", "page"), [
    ("app.version", PageId.APPLICATION), ("entry", PageId.ENTRY), ("source.root", PageId.ENTRY),
    ("dependencies.requirements", PageId.DEPENDENCIES), ("python.version", PageId.DEPENDENCIES),
    ("icon.path", PageId.ICON), ("installer[2].scope", PageId.INSTALLERS), ("build.output_dir", PageId.INSTALLERS),
    ("line 3", PageId.START), ("schema_version", PageId.START), ("(top level)", PageId.START),
])
def test_page_for(location: str, page: PageId) -> None:
    assert page_for(location) == page


def test_field_keys_name_installers_by_kind() -> None:
    kinds = ["appimage", "msi"]
    assert field_key("installer[1].scope", kinds) == "installer.msi.scope"
    assert field_key("installer[0]", kinds) == "installer.appimage"
    assert field_key("installer[5].kind", kinds) == "installer"
    assert field_key("app.version", kinds) == "app.version"
    assert key_candidates("installer.msi.scope") == ["installer.msi.scope", "installer.msi", "installer"]


def test_pydantic_locations_map_back_to_pages() -> None:
    with pytest.raises(ValidationError) as caught:
        Project.model_validate({"app": {"name": "x", "version": "one"}, "entry": {"module": "m"},
                                "installer": [{"kind": "portable"}, {"kind": "msi", "scope": "everyone"}]})
    problems = problems_from_validation(caught.value)
    assert {(p.location, page_for(p.location)) for p in problems} == {
        ("app.version", PageId.APPLICATION), ("installer[1].scope", PageId.INSTALLERS)}
    assert describe(Problem("app.version", "bad", "fix it")) == "Application page — app.version: bad (fix it)"


def test_patch_writes_only_what_changed_or_was_there() -> None:
    project = _project(app={"name": "hello", "version": "1.0"})
    same = apply_patch(project, {"app": {"name": "hello", "version": "1.0", "display_name": "", "publisher": ""}})
    assert same.to_data() == project.to_data()
    changed = apply_patch(project, {"app": {"name": "hello", "version": "1.0.1", "publisher": "Me"},
                                    "python": {"version": "3.11", "source": "auto"}})
    assert changed.to_data()["app"] == {"name": "hello", "version": "1.0.1", "publisher": "Me"}
    assert "python" not in changed.to_data()


def test_patch_drops_emptied_keys_and_validates() -> None:
    project = _project()
    switched = apply_patch(project, {"entry": {"module": "", "script": "main.py", "kind": "gui"}})
    assert switched.to_data()["entry"] == {"script": "main.py", "kind": "gui"}
    with pytest.raises(ValidationError):
        apply_patch(project, {"app": {"version": "one"}})


def test_default_installers_are_not_written_until_changed() -> None:
    project = Project(app=AppSection(name="hello"), entry=EntrySection(module="hello"))
    assert "installer" not in apply_patch(project, {"installer": [{"kind": "portable"}]}).to_data()
    two = apply_patch(project, {"installer": [{"kind": "portable"}, {"kind": "dmg"}]})
    assert [i["kind"] for i in two.to_data()["installer"]] == ["portable", "dmg"]


def test_rebase_paths_for_save_as(tmp_path: Path) -> None:
    project = _project(icon={"path": "art/icon.png"}, python={"source": "py.tar.gz"},
                       dependencies={"requirements_file": "requirements.txt"})
    moved = rebase_paths(project, tmp_path / "app", tmp_path / "packaging")
    data = moved.to_data()
    assert data["icon"]["path"] == "../app/art/icon.png"
    assert data["source"]["root"] == "../app"
    assert data["python"]["source"] == "../app/py.tar.gz"
    assert data["dependencies"]["requirements_file"] == "../app/requirements.txt"
    assert rebase_paths(project, tmp_path, tmp_path) is project


def test_none_guard_applies_only_where_pyside_drops_none() -> None:
    assert needs_none_guard((3, 11), "6.12.0")
    assert not needs_none_guard((3, 12), "6.12.0")
    assert not needs_none_guard((3, 11), "6.11.3")
    assert not needs_none_guard((3, 11), "")
