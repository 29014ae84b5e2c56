"""A hand-edited project with a bad value opens on the page of that value, marked, and is saved once fixed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from kiln.ui.page_ids import PageId
from kiln.ui.widgets import problem_of

BAD = '''# my notes about this app
[app]
name = "hello"
version = "one"
identifier = "org.example.hello"

[entry]
module = "hello.cli:main"

[[installer]]
kind = "portable"
'''


def test_opening_lands_on_the_bad_field_then_saves_a_valid_file(driver: Any, hello: Path) -> None:
    path = hello / "kiln.toml"
    path.write_text(BAD, encoding="utf-8")
    driver.open_project(path)
    app = driver.page(PageId.APPLICATION)
    driver.qtbot.waitUntil(lambda: app.edits["version"].text() == "one")
    assert driver.wizard.currentId() == PageId.APPLICATION
    assert problem_of(app.edits["version"]) and app.message.isVisible()
    assert "has a value Kiln cannot use" in app.message.text()
    assert "Version" in app.message.text() and "1.0" in app.message.text()  # what a good one looks like
    assert driver.wizard.isWindowModified()
    driver.type(app.edits["version"], "2.3.1")
    assert not problem_of(app.edits["version"])
    driver.qtbot.keyClick(driver.wizard, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not driver.wizard.isWindowModified()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# my notes about this app") and tomllib.loads(text)["app"]["version"] == "2.3.1"
    checked = subprocess.run([sys.executable, "-m", "kiln", "check", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_file_with_an_unfixable_shape_still_stops_on_start(driver: Any, hello: Path) -> None:
    (hello / "kiln.toml").write_text(BAD.replace('kind = "portable"', 'kind = "rpm"'), encoding="utf-8")
    start = driver.page(PageId.START)
    driver.click(start.open_radio)
    driver.type(start.file.edit, "~/hello/kiln.toml")
    driver.next()
    assert driver.wizard.currentId() == PageId.START
    assert "Installers page, installer[0]" in start.message.text()


def test_every_save_says_what_kiln_check_would_reject(driver: Any, hello: Path) -> None:
    """Ctrl+S and the Close prompt's Save take one path: the file is written, checked like `kiln check`, and
    what it rejects is shown; closing stays open to show it."""
    start = driver.page(PageId.START)
    driver.type(start.folder.edit, "~/hello")
    driver.next(PageId.APPLICATION)
    driver.go_to(PageId.ICON)
    icon = driver.page(PageId.ICON)
    driver.type(icon.path.edit, "missing.png")  # Next would refuse it; Save keeps the user's work
    driver.qtbot.keyClick(driver.wizard, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    path = hello / "kiln.toml"
    assert path.is_file() and not driver.wizard.isWindowModified()
    assert "Saved, but `kiln check` reports" in icon.message.text() and "icon.path" in icon.message.text()
    checked = subprocess.run([sys.executable, "-m", "kiln", "check", str(path)], capture_output=True, text=True)
    assert checked.returncode == 1 and "icon.path" in checked.stdout + checked.stderr

    driver.type(icon.path.edit, "also-missing.png")
    driver.wizard.ask_unsaved = lambda: "save"
    driver.wizard.close()
    assert driver.wizard.isVisible()  # stayed, to show what kiln check says
    assert "also-missing.png" in path.read_text(encoding="utf-8")
    assert "Saved, but `kiln check` reports" in icon.message.text()
    driver.wizard.close()  # nothing unsaved any more: closes
    assert not driver.wizard.isVisible()
