"""The Start page says plainly when a folder holds no Python app, checks paths as they are typed, and clears
the marks of a path that was wrong once it is right (typed or chosen with Browse…)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog

from kiln.ui.page_ids import PageId
from kiln.ui.widgets import problem_of


def test_a_folder_without_python_says_so_and_stays(driver: Any, home: Path) -> None:
    (home / "photos").mkdir()
    (home / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    start = driver.page(PageId.START)
    driver.type(start.folder.edit, "~/photos")
    driver.next()
    driver.qtbot.waitUntil(lambda: "holds no Python app" in start.message.text(), timeout=15000)
    assert driver.wizard.currentId() == PageId.START
    assert "choose the folder that holds your app's code" in start.message.text()
    assert "Found" not in start.status.text() and driver.wizard.project is None


def test_paths_are_checked_as_typed_and_marks_clear(driver: Any, hello: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    start = driver.page(PageId.START)
    driver.type(start.folder.edit, "~/hel")  # typing on the way to ~/hello
    assert "there is no folder ~/hel" in start.message.text() and start.message.isVisible()
    assert problem_of(start.folder.edit)
    driver.qtbot.keyClicks(start.folder.edit, "lo")
    assert not start.message.isVisible() and not problem_of(start.folder.edit)
    driver.type(start.folder.edit, "~/hello/pyproject.toml")
    assert "is a file: choose the folder" in start.message.text()
    # Browse… to a valid folder clears the red mark too (the dialog is answered by the test).
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(hello))
    driver.click(start.folder.button)
    assert not problem_of(start.folder.edit) and not start.message.isVisible()
    driver.click(start.open_radio)
    driver.type(start.file.edit, "~/hello")
    assert "is a folder: choose the kiln.toml inside it" in start.message.text()
    driver.type(start.file.edit, "~/nothing.toml")
    assert "there is no file ~/nothing.toml" in start.message.text()


def test_a_lone_script_is_shown_as_your_script(driver: Any, home: Path) -> None:
    folder = home / "tipcopy2"
    folder.mkdir()
    (folder / "main.py").write_text("import tkinter as tk\n\nroot = tk.Tk()\nroot.mainloop()\n", encoding="utf-8")
    (folder / "requirements.txt").write_text("requests>=2\n", encoding="utf-8")
    start = driver.page(PageId.START)
    driver.type(start.folder.edit, "~/tipcopy2")
    driver.next()
    driver.qtbot.waitUntil(lambda: driver.wizard.project is not None, timeout=15000)
    assert start.status.text().startswith("Your script main.py (a window app), 1 dependency.")
    project = driver.wizard.project
    assert (project.entry.script, project.entry.kind) == ("main.py", "gui")
    assert project.dependencies.requirements_file == "requirements.txt"


def test_kiln_wizard_folder_reads_it_and_next_goes_on(driver: Any, hello: Path) -> None:
    """`kiln wizard FOLDER`: the folder is the new project's, read at once; Next is all it takes."""
    start = driver.page(PageId.START)
    driver.wizard.start_page.offer_folder(hello)
    assert start.new_radio.isChecked() and start.folder.text() == "~/hello"
    driver.qtbot.waitUntil(lambda: "Found hello 1.0.0" in start.status.text(), timeout=15000)
    driver.next(PageId.APPLICATION)
