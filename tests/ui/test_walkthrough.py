"""The whole wizard, driven with key and button clicks: new project from examples/hello, save, reopen, build."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from kiln.ui.page_ids import PageId

REPO = Path(__file__).resolve().parents[2]


def walk(d: Any, folder: Path, full: bool) -> Path:
    """New project from `folder`, edit every page (more of them when `full`), save; the saved file's path."""
    start = d.page(PageId.START)
    d.click(start.new_radio)
    d.type(start.folder.edit, f"~/{folder.relative_to(Path.home()).as_posix()}")
    d.qtbot.keyClick(start.folder.edit, Qt.Key.Key_Tab)  # leaving the field starts detection in the background
    d.qtbot.waitUntil(lambda: "Found" in start.status.text(), timeout=15000)
    if full:
        d.screenshot("start")
    d.next(PageId.APPLICATION)

    app = d.page(PageId.APPLICATION)
    assert app.edits["name"].text() == "hello"  # pre-filled from pyproject.toml
    assert app.edits["publisher"].text() == "Kiln Examples"
    d.type(app.edits["display_name"], "Hello World")
    d.type(app.edits["version"], "1.2.0")
    d.click(app.suggest)
    assert app.edits["identifier"].text() == "com.kiln-examples.hello"
    if full:
        d.type(app.edits["description"], "Says hello, politely")
        d.screenshot("application")
    d.next(PageId.ENTRY)

    entry = d.page(PageId.ENTRY)
    d.qtbot.waitUntil(lambda: entry.candidates.count() >= 2)
    assert entry.target.text() == "hello.cli:main"
    assert entry.console.isChecked()
    if full:
        d.type(entry.args, "--exit 0")
        d.click(entry.dev_button)  # the quick run; "Try it" (the app as it ships) is tests/ui/test_tryout_runner.py
        d.qtbot.waitUntil(lambda: "exited with code 0" in entry.output.toPlainText(), timeout=30000)
        assert "args: [\"--exit\", \"0\"]" in entry.output.toPlainText()
        d.screenshot("entry")
    d.next(PageId.DEPENDENCIES)

    deps = d.page(PageId.DEPENDENCIES)
    assert deps.requirements() == ["rich>=13"]
    if full:
        d.click(deps.add_button)
        editor = QApplication.focusWidget()
        assert isinstance(editor, QLineEdit)
        d.qtbot.keyClicks(editor, "click>=8.1")
        d.qtbot.keyClick(editor, Qt.Key.Key_Return)  # the view commits the edit on its next event loop pass
        d.qtbot.waitUntil(lambda: deps.requirements() == ["rich>=13", "click>=8.1"])
        assert deps.table.item(1, 1).text().startswith("✓ written correctly")
        d.choose(deps.python, "3.12")
        d.choose(deps.source, "download")
        d.screenshot("dependencies")
    d.next(PageId.ICON)

    icon = d.page(PageId.ICON)
    detected = icon.path.text()
    assert detected == ("icon.png" if (folder / "icon.png").exists() else "")  # detection found the app's icon
    if full:
        d.click(icon.default_button)
        assert "default icon" in icon.status.text()
        shutil.copy(REPO / "resources" / "icons" / "kiln-default.png", folder / "logo.png")
        d.type(icon.path.edit, "logo.png")
        d.qtbot.waitUntil(lambda: "logo.png: 1024×1024 px" in icon.status.text())  # redrawn once typing pauses
        assert icon.preview.rendered(16) is not None and icon.icon_error is None
        d.screenshot("icon")
    d.next(PageId.INSTALLERS)

    inst = d.page(PageId.INSTALLERS)
    assert all(inst.enabled[kind].isChecked() for kind in ("appimage", "portable", "msi", "dmg"))  # a new project's
    d.tick(inst.enabled["appimage"])
    d.type(inst.option("appimage", "categories"), "Utility; Development")
    if full:
        d.choose(inst.option("appimage", "terminal"), True)
        d.tick(inst.enabled["msi"])
        d.choose(inst.option("msi", "scope"), "per-machine")
        d.tick(inst.option("msi", "desktop_shortcut"))
        d.tick(inst.enabled["dmg"])
        d.type(inst.option("dmg", "volume_name"), "Hello")
        d.choose(inst.option("dmg", "platform"), "macos-x86_64")
        d.type(inst.output.edit, "out")
        d.screenshot("installers")
    else:  # this machine's installers only
        d.tick(inst.enabled["msi"], False)
        d.tick(inst.enabled["dmg"], False)
    d.next(PageId.BUILD)

    assert d.wizard.isWindowModified()
    if full:
        d.screenshot("build")
    d.qtbot.keyClick(d.wizard, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    path = folder / "kiln.toml"
    assert path.is_file() and not d.wizard.isWindowModified()
    return path


def test_walk_save_and_reopen_restores_every_field(hello: Path, make_driver: Any) -> None:
    first = make_driver()
    path = walk(first, hello, full=True)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["app"]["version"] == "1.2.0"
    assert data["dependencies"]["requirements"] == ["rich>=13", "click>=8.1"]
    # installers already in the project keep their place; newly ticked ones follow
    assert [i["kind"] for i in data["installer"]] == ["appimage", "portable", "msi", "dmg"]
    assert data["installer"][0]["terminal"] is True and data["installer"][0]["categories"] == ["Utility", "Development"]
    assert data["installer"][2]["scope"] == "per-machine" and data["installer"][2]["desktop_shortcut"] is True
    assert data["installer"][3] == {"kind": "dmg", "volume_name": "Hello", "platform": "macos-x86_64"}
    assert data["build"]["output_dir"] == "out"
    expected = first.snapshot()

    second = make_driver()
    second.open_project(path)
    assert second.snapshot() == expected
    assert second.wizard.project == first.wizard.project
    assert not second.wizard.isWindowModified()


@pytest.mark.slow
def test_walk_then_build_portable_and_appimage(hello: Path, make_driver: Any) -> None:
    first = make_driver()
    path = walk(first, hello, full=False)
    expected = first.snapshot()
    d = make_driver()
    d.open_project(path)
    assert d.snapshot() == expected
    d.go_to(PageId.BUILD)
    build = d.page(PageId.BUILD)
    d.click(build.build_button)
    d.qtbot.waitUntil(lambda: build.result_status != "", timeout=600_000)
    assert build.result_status == "ok", build.log.toPlainText()[-3000:]
    assert build.progress.value() == build.progress.maximum()
    results = build.results.results()
    files = {r.path.name: r.kind for r in results}
    assert all(r.built for r in results)
    assert sorted(files.values()) == ["appimage", "portable"]
    for name in files:
        assert (hello / "dist" / name).is_file()
    rows = dict(build.chart.rows())
    assert "app" in rows and "hello" not in rows, rows  # the app's own wheel is its layer (app/), not a dependency
