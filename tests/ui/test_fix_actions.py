"""The fixes the build proposes as data become buttons: a label that says what they do, and the change they make."""

from __future__ import annotations

import pytest

from kiln.model.project import AppSection, EntrySection, Project
from kiln.ui.fix_actions import apply_fix, fix_action


def _project() -> Project:
    return Project(app=AppSection(name="tip", version="1.0"), entry=EntrySection(script="tipcalc.py", kind="gui"))


@pytest.mark.parametrize(("action", "label"), [
    ({"set": {"python.source": "download"}}, "Use the standalone runtime"),
    ({"add": {"dependencies.qt_modules": "QtPrintSupport"}}, "Keep QtPrintSupport"),
    ({"add": {"dependencies.requirements": 'windows-curses; sys_platform == "win32"'}}, "Add windows-curses"),
    ({"set": {"build.keep_sources": True}}, "Ship the sources"),
])
def test_labels_say_what_the_button_does(action: dict[str, object], label: str) -> None:
    fix = fix_action(action)
    assert fix is not None and fix.label == label and fix.explain


def test_applying_sets_and_adds_once() -> None:
    project = apply_fix(_project(), fix_action({"set": {"python.source": "download"}}))  # type: ignore[arg-type]
    assert project.python.source == "download"
    add = fix_action({"add": {"dependencies.qt_modules": "QtSvg"}})
    assert add is not None
    twice = apply_fix(apply_fix(project, add), add)
    assert twice.dependencies.qt_modules == ["QtSvg"]
    assert twice.to_data()["python"] == {"source": "download"}  # only what changed is written


@pytest.mark.parametrize("action", [None, "text", {}, {"set": {"installer.kind": "msi"}}, {"set": {"nosuch.x": 1}},
                                    {"remove": {"python.source": "auto"}}])
def test_what_cannot_be_applied_gives_no_button(action: object) -> None:
    assert fix_action(action) is None
