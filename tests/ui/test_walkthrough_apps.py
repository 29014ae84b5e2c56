"""Two real apps packaged through the wizard by clicking and typing only, as a new user would, then run:
a src-layout PySide6 app (console and GUI scripts, package data) and a setup.py-only console app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kit.apps import SETUP_PY, SRC_LAYOUT, write_app

from kiln.ui.page_ids import PageId

LONG = 900_000  # a cold cache downloads Qt's wheels


def start(d: Any, folder: Path) -> None:
    page = d.page(PageId.START)
    d.type(page.folder.edit, f"~/{folder.name}")
    d.next()
    d.qtbot.waitUntil(lambda: d.wizard.currentId() == PageId.APPLICATION, timeout=120_000)


def try_it(d: Any, args: str, expect: str) -> str:
    entry = d.page(PageId.ENTRY)
    d.type(entry.args, args)
    d.click(entry.try_button)
    d.qtbot.waitUntil(lambda: "— the app" in entry.output.toPlainText() or "— not run" in entry.output.toPlainText(),
                      timeout=LONG)
    output = str(entry.output.toPlainText())
    assert expect in output and "— the app exited with code 0 —" in output, output
    return output


def build_and_run(d: Any, expect: str) -> Any:
    d.go_to(PageId.BUILD)
    build = d.page(PageId.BUILD)
    d.click(build.build_button)
    d.qtbot.waitUntil(lambda: build.result_status != "", timeout=LONG)
    assert build.result_status == "ok", build.log.toPlainText()[-3000:]
    d.click(build.results.row_for(build.runnable().kind).run_button)
    d.qtbot.waitUntil(lambda: "— the app" in build.run_output.toPlainText(), timeout=120_000)
    output = build.run_output.toPlainText()
    assert expect in output and "— the app exited with code 0 —" in output, output
    return build


@pytest.mark.slow
def test_src_layout_pyside6_app_by_clicking(driver: Any, home: Path) -> None:
    folder = write_app(home / "srcgui", SRC_LAYOUT)
    start(driver, folder)
    app = driver.page(PageId.APPLICATION)
    assert (app.edits["name"].text(), app.edits["version"].text()) == ("srcgui", "1.4.0")
    assert app.edits["publisher"].text() == "Src Person"
    driver.next(PageId.ENTRY)
    entry = driver.page(PageId.ENTRY)
    assert entry.target.text() == "srcgui.app:main" and entry.gui.isChecked()
    entry.candidates.setCurrentRow(1)  # the console script, clicked in the list
    assert entry.target.text() == "srcgui.cli:main"
    try_it(driver, '-t "Hello from Kiln"', "hello from package data ['-t', 'Hello from Kiln']")
    entry.candidates.setCurrentRow(0)  # back to the GUI script: that is what ships
    try_it(driver, "", "srcgui window on offscreen hello")  # Qt from the bundle, offscreen like this test
    driver.screenshot("entry-try")
    driver.go_to(PageId.INSTALLERS)
    installers = driver.page(PageId.INSTALLERS)
    driver.tick(installers.enabled["appimage"])
    driver.tick(installers.enabled["portable"], False)
    driver.tick(installers.enabled["msi"], False)  # a new project lists every platform: this machine's only here
    driver.tick(installers.enabled["dmg"], False)
    build = build_and_run(driver, "srcgui window on offscreen hello")  # the AppImage
    assert [r.kind for r in build.results.results()] == ["appimage"]
    assert "The AppImage runs on Linux systems from about" in build.linux.text()
    driver.screenshot("build-run")


@pytest.mark.slow
def test_setup_py_app_by_clicking(driver: Any, home: Path) -> None:
    folder = write_app(home / "setuptool", SETUP_PY)
    start(driver, folder)
    app = driver.page(PageId.APPLICATION)
    assert (app.edits["name"].text(), app.edits["version"].text()) == ("setuptool", "0.3.1")
    assert app.edits["publisher"].text() == "Setup Person"  # from setup.py, through its build backend
    assert app.edits["description"].text() == "A setup.py-only console app"
    driver.next(PageId.ENTRY)
    entry = driver.page(PageId.ENTRY)
    assert entry.target.text() == "setuptool.main:run" and entry.console.isChecked()
    try_it(driver, "'quoted words' x", "setuptool says quoted words x")
    driver.go_to(PageId.INSTALLERS)
    installers = driver.page(PageId.INSTALLERS)
    assert installers.enabled["portable"].isChecked()
    driver.tick(installers.enabled["appimage"], False)
    driver.tick(installers.enabled["msi"], False)
    driver.tick(installers.enabled["dmg"], False)
    build_and_run(driver, "setuptool says")  # the portable folder, unpacked and started by its launcher
