"""Saving through the wizard: comments survive, the title tracks changes, close asks, Save As moves paths."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QWizard

from kiln.ui.page_ids import PageId

HAND_WRITTEN = """\
# Packaging for hello — maintained by hand, please keep these notes.
schema_version = 1

[app]
name = "hello"        # never rename: it is the file name
version = "1.0.0"
identifier = "org.example.hello"

# How the app starts
[entry]
module = "hello.cli:main"

[dependencies]
requirements = ["rich>=13"]  # keep rich pinned loosely

# Linux first
[[installer]]
kind = "portable"   # the archive for testers
"""


def _save(d: Any) -> None:
    d.qtbot.keyClick(d.wizard, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)


def test_comments_survive_edits_through_the_wizard(driver: Any, hello: Path) -> None:
    path = hello / "kiln.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    driver.open_project(path)
    app = driver.page(PageId.APPLICATION)
    driver.type(app.edits["version"], "1.1.0")
    driver.type(app.edits["publisher"], "Hello Team")
    driver.go_to(PageId.DEPENDENCIES)
    deps = driver.page(PageId.DEPENDENCIES)
    driver.click(deps.add_button)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    driver.qtbot.keyClicks(editor, "platformdirs")
    driver.qtbot.keyClick(editor, Qt.Key.Key_Return)
    driver.qtbot.waitUntil(lambda: len(deps.requirements()) == 2)
    driver.go_to(PageId.INSTALLERS)
    installers = driver.page(PageId.INSTALLERS)
    driver.choose(installers.option("portable", "platform"), "windows-x86_64")
    _save(driver)

    text = path.read_text(encoding="utf-8")
    for comment in ("# Packaging for hello — maintained by hand, please keep these notes.",
                    "# never rename: it is the file name", "# How the app starts", "# Linux first",
                    "# the archive for testers"):
        assert comment in text, text
    data = tomllib.loads(text)
    assert data["app"]["version"] == "1.1.0" and data["app"]["publisher"] == "Hello Team"
    assert data["dependencies"]["requirements"] == ["rich>=13", "platformdirs"]
    assert data["installer"] == [{"kind": "portable", "platform": "windows-x86_64"}]
    assert "display_name" not in data["app"], "untouched defaults must not be added to the user's file"
    assert "python" not in data and "icon" not in data


def test_title_shows_file_and_unsaved_state(driver: Any, hello: Path) -> None:
    path = hello / "kiln.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    driver.open_project(path)
    assert driver.wizard.windowTitle() == "hello/kiln.toml[*] — Kiln" and not driver.wizard.isWindowModified()
    app = driver.page(PageId.APPLICATION)
    driver.type(app.edits["description"], "Greets")
    assert driver.wizard.isWindowModified()
    driver.type(app.edits["description"], "")  # back to what the file says: nothing to save
    assert not driver.wizard.isWindowModified()
    driver.type(app.edits["description"], "Greets")
    _save(driver)
    assert not driver.wizard.isWindowModified()


def test_close_asks_about_unsaved_changes(driver: Any, hello: Path) -> None:
    path = hello / "kiln.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    driver.open_project(path)
    answers: list[str] = []

    def cancel() -> str:
        answers.append("asked")
        return "cancel"

    driver.wizard.ask_unsaved = cancel
    driver.type(driver.page(PageId.APPLICATION).edits["version"], "2.0")
    driver.wizard.close()
    assert answers == ["asked"] and driver.wizard.isVisible()  # Cancel keeps the window
    driver.click(driver.wizard.button(QWizard.WizardButton.CancelButton))
    assert answers == ["asked", "asked"] and driver.wizard.isVisible()
    driver.wizard.ask_unsaved = lambda: "save"
    driver.wizard.close()
    assert not driver.wizard.isVisible()
    assert tomllib.loads(path.read_text(encoding="utf-8"))["app"]["version"] == "2.0"


def test_save_refuses_a_value_the_project_cannot_take(driver: Any, hello: Path) -> None:
    path = hello / "kiln.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    driver.open_project(path)
    app = driver.page(PageId.APPLICATION)
    driver.type(app.edits["version"], "one")
    _save(driver)
    assert "Not saved: fix this first." in app.message.text()
    assert tomllib.loads(path.read_text(encoding="utf-8"))["app"]["version"] == "1.0.0"


def test_save_as_elsewhere_keeps_relative_paths_pointing_at_the_same_files(driver: Any, hello: Path) -> None:
    path = hello / "kiln.toml"
    path.write_text(HAND_WRITTEN + '\n[icon]\npath = "icon.png"\n', encoding="utf-8")
    driver.open_project(path)
    target = hello.parent / "packaging" / "hello.toml"
    assert driver.wizard.save_as(target)
    data = tomllib.loads(target.read_text(encoding="utf-8"))
    assert data["icon"]["path"] == "../hello/icon.png" and data["source"]["root"] == "../hello"
    assert "# How the app starts" in target.read_text(encoding="utf-8")
    assert driver.page(PageId.ICON).icon_error is None  # the preview still finds the icon
    assert driver.wizard.windowTitle().startswith("packaging/hello.toml")


def test_new_project_never_overwrites_an_existing_file(driver: Any, hello: Path, monkeypatch: Any) -> None:
    from kiln.source.detect import detect

    (hello / "kiln.toml").write_text(HAND_WRITTEN, encoding="utf-8")
    driver.wizard.start_new(hello, detect(hello))
    asked: list[bool] = []
    monkeypatch.setattr(driver.wizard, "save_as", lambda path=None: asked.append(True) or False)
    assert not driver.wizard.save()
    assert asked == [True] and (hello / "kiln.toml").read_text(encoding="utf-8") == HAND_WRITTEN


def test_recent_projects_are_offered_on_the_start_page(make_driver: Any, hello: Path) -> None:
    path = hello / "kiln.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    make_driver().open_project(path)
    d = make_driver()
    start = d.page(PageId.START)
    assert start.recent.count() == 1 and "~/hello/kiln.toml" in start.recent.item(0).text()
    start.recent.setCurrentRow(0)
    assert start.recent.item(0).text().startswith("hello  —  ")
    assert start.open_radio.isChecked() and start.file.text() == str(path.resolve())
    d.next(PageId.APPLICATION)


def test_recent_projects_are_named_after_their_app_not_their_folder(make_driver: Any, home: Path) -> None:
    folder = home / "app"  # ReText's checkout folder is called app: the list said "app"
    folder.mkdir()
    (folder / "main.py").write_text("print(1)\n", encoding="utf-8")
    path = folder / "kiln.toml"
    path.write_text('[app]\nname = "retext"\ndisplay_name = "ReText"\nversion = "1"\nidentifier = "org.x.y"\n'
                    '[entry]\nscript = "main.py"\n', encoding="utf-8")
    make_driver().open_project(path)
    start = make_driver().page(PageId.START)
    assert start.recent.item(0).text() == "ReText  —  ~/app/kiln.toml"
