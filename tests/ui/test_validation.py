"""Every page refuses Next on invalid input, with a message that says what to do, and marks the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from kiln.source.detect import detect
from kiln.ui.page_ids import PageId


@pytest.fixture
def at(driver: Any, hello: Path) -> Any:
    """A driver whose wizard holds a new project for examples/hello, able to jump to a page."""

    def go(page_id: PageId) -> Any:
        driver.wizard.start_new(hello, detect(hello))
        driver.wizard.setStartId(page_id)
        driver.wizard.restart()
        assert driver.wizard.currentId() == page_id
        return driver.page(page_id)

    driver.go = go
    return driver


def refused(d: Any, page_id: PageId, *expected: str) -> str:
    """Press Next: the wizard stays on the page and the banner says each expected thing."""
    d.next()
    assert d.wizard.currentId() == page_id
    page = d.page(page_id)
    text = page.message.text()
    assert page.message.isVisible()
    for part in expected:
        assert part in text, text
    return str(text)


def test_start_needs_a_folder_or_a_file(driver: Any, home: Path) -> None:
    start = driver.page(PageId.START)
    refused(driver, PageId.START, "choose the folder that holds your app's code")
    driver.type(start.folder.edit, "~/no-such-folder")
    refused(driver, PageId.START, "is not a folder")
    driver.click(start.open_radio)
    refused(driver, PageId.START, "choose a kiln.toml file")
    driver.type(start.file.edit, "~/missing.toml")
    refused(driver, PageId.START, "no such project file")


def test_start_names_the_page_of_each_problem_in_a_broken_file(driver: Any, hello: Path) -> None:
    (hello / "kiln.toml").write_text('[app]\nname = "hello"\nversion = "one"\n[entry]\nmodule = "hello.cli:main"\n'
                                     '[[installer]]\nkind = "rpm"\n')
    start = driver.page(PageId.START)
    driver.click(start.open_radio)
    driver.type(start.file.edit, "~/hello/kiln.toml")
    refused(driver, PageId.START, "Application page, app.version", "is not a version", "Installers page, installer[0]",
            "unknown installer kind 'rpm'")


def test_application(at: Any) -> None:
    page = at.go(PageId.APPLICATION)
    at.type(page.edits["version"], "1.0.x")
    assert "is not a version; use one like 1.0" in page.message.text()  # said as you type, before Next
    refused(at, PageId.APPLICATION, "Version: '1.0.x' is not a version")
    assert at.wizard.focusWidget() is page.edits["version"]
    at.type(page.edits["version"], "1.0")
    at.type(page.edits["name"], "")
    refused(at, PageId.APPLICATION, "Name: enter a short machine name")
    at.type(page.edits["name"], "my app")
    refused(at, PageId.APPLICATION, "use letters, digits")
    at.type(page.edits["name"], "my-app")
    at.type(page.edits["identifier"], "myapp")
    refused(at, PageId.APPLICATION, "Identifier: use reverse-DNS form")
    at.click(page.suggest)
    at.next(PageId.ENTRY)


def test_entry(at: Any) -> None:
    page = at.go(PageId.ENTRY)
    at.type(page.target, "")
    refused(at, PageId.ENTRY, "choose a detected entry point or type one")
    at.type(page.target, "hello.nosuch:run")
    refused(at, PageId.ENTRY, "there is no module hello.nosuch in your app's code")
    at.type(page.target, "missing.py")
    refused(at, PageId.ENTRY, "there is no file missing.py")
    at.type(page.target, "hello.cli:ma in")
    refused(at, PageId.ENTRY, "use 'package.module:function'")
    at.type(page.target, "hello/cli.py")
    at.type(page.root.edit, "elsewhere")
    refused(at, PageId.ENTRY, "does not exist")
    at.type(page.root.edit, ".")
    at.next(PageId.DEPENDENCIES)


def test_dependencies(at: Any) -> None:
    page = at.go(PageId.DEPENDENCIES)
    at.click(page.add_button)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    at.qtbot.keyClicks(editor, "requests>=>2")
    assert page.table.item(1, 1).text().startswith("✗")  # marked while typing, before the edit is committed
    at.qtbot.keyClick(editor, Qt.Key.Key_Return)
    at.qtbot.waitUntil(lambda: page.requirements() == ["rich>=13", "requests>=>2"])
    refused(at, PageId.DEPENDENCIES, "requirement 2 'requests>=>2' is not valid PEP 508")
    page.table.setCurrentCell(1, 0)
    at.click(page.remove_button)
    at.choose(page.source, "archive")
    refused(at, PageId.DEPENDENCIES, "choose the Python archive file")
    at.type(page.archive.edit, "python.tar.gz")
    refused(at, PageId.DEPENDENCIES, "choose the Python archive file")
    at.choose(page.source, "auto")
    at.type(page.requirements_file.edit, "requirements.txt")
    refused(at, PageId.DEPENDENCIES, "Requirements file: that file does not exist")
    at.type(page.requirements_file.edit, "")
    at.next(PageId.ICON)


def test_dependencies_import(at: Any, hello: Path) -> None:
    page = at.go(PageId.DEPENDENCIES)
    (hello / "requirements.txt").write_text("# pinned\nrich>=13\nclick==8.1.7  # cli\n-e .\n\nplatformdirs\n")
    assert page.import_file(hello / "requirements.txt") == 2
    assert page.requirements() == ["rich>=13", "click==8.1.7", "platformdirs"]
    assert at.wizard.project.dependencies.requirements == page.requirements()


def test_icon(at: Any, hello: Path) -> None:
    page = at.go(PageId.ICON)
    at.type(page.path.edit, "nothere.png")
    refused(at, PageId.ICON, "Icon file: the file", "does not exist", "use Kiln's default icon")
    (hello / "broken.png").write_text("not a picture")
    at.type(page.path.edit, "broken.png")
    refused(at, PageId.ICON, "broken.png is plain text, not an image")
    at.click(page.default_button)
    at.next(PageId.INSTALLERS)


def test_icon_warns_about_small_and_non_square(at: Any, hello: Path) -> None:
    from PySide6.QtGui import QColor, QImage

    image = QImage(120, 60, QImage.Format.Format_ARGB32)
    image.fill(QColor("teal"))
    assert image.save(str(hello / "wide.png"))
    page = at.go(PageId.ICON)
    at.type(page.path.edit, "wide.png")
    at.qtbot.waitUntil(lambda: "not square" in page.status.text())
    assert "not square" in page.status.text() and "blurry" in page.status.text()
    assert page.preview.rendered(256) is not None
    at.next(PageId.INSTALLERS)  # warnings do not block


def test_installers(at: Any) -> None:
    page = at.go(PageId.INSTALLERS)
    for box in page.enabled.values():
        at.tick(box, False)
    refused(at, PageId.INSTALLERS, "choose at least one installer to build")
    at.tick(page.enabled["appimage"])
    at.type(page.option("appimage", "categories"), "")
    refused(at, PageId.INSTALLERS, "Categories: enter at least one menu category")
    at.type(page.option("appimage", "categories"), "WordProcessor; Utility")
    refused(at, PageId.INSTALLERS, "'WordProcessor' goes with Office: add it, e.g. Office; WordProcessor")
    at.type(page.option("appimage", "categories"), "Office; WordProcessor")  # ReText's own, from the specification
    at.next(PageId.BUILD)


def test_model_problem_lands_on_the_owning_field(at: Any) -> None:
    """A pydantic location (installer[i].field) is mapped back to the widget that holds it."""
    page = at.go(PageId.INSTALLERS)
    at.tick(page.enabled["dmg"], False)  # a new project lists the DMG already: off and on again is an edit
    at.tick(page.enabled["dmg"])
    from kiln.support.errors import Problem

    kinds = page.installer_kinds()
    problem = Problem(f"installer[{kinds.index('dmg')}].volume_name", "too long")
    assert page.widget_for(problem) is page.option("dmg", "volume_name")


def test_dependencies_show_what_the_requirements_file_lists(at: Any, hello: Path) -> None:
    (hello / "requirements.txt").write_text("humanize>=4  # numbers in words\n-r other.txt\n\nrequests\n")
    page = at.go(PageId.DEPENDENCIES)
    assert not page.file_note.isVisible()
    at.type(page.requirements_file.edit, "requirements.txt")
    assert page.file_note.text() == ("requirements.txt lists: humanize>=4, requests (read again at every build; edit "
                                     "the file to change them)")
    at.next(PageId.ICON)
