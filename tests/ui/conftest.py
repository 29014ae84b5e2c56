"""Wizard test fixtures: offscreen Qt, isolated settings, a copy of examples/hello, and a driver for the wizard."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported anywhere

import pytest
from kit.projects import copy_example
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLineEdit,
    QMessageBox,
    QRadioButton,
    QTableWidget,
    QWidget,
    QWizard,
)

from kiln.ui.page_ids import PageId
from kiln.ui.wizard import KilnWizard

REPO = Path(__file__).resolve().parents[2]
DOCS_IMAGES = REPO / "docs" / "images"  # the user guide's pictures, written only with --update-screenshots
NOT_SAVED = {"Arguments"}  # fields that are deliberately not part of the project


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-screenshots",
        action="store_true",
        default=False,
        help="write the wizard's screenshots into docs/images/ (the user guide's pictures); "
        "without it they go to pytest's temporary folder and the checkout is never modified",
    )


@pytest.fixture(scope="session")
def screenshot_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where Driver.screenshot saves: docs/images/ with --update-screenshots, else a temporary folder.

    The option exists when this file is loaded at start-up, i.e. when a path under tests/ui is given:
    `pytest -m "" tests/ui/test_walkthrough.py --update-screenshots` (docs/user-guide.md).
    """
    if request.config.getoption("--update-screenshots", default=False):
        return DOCS_IMAGES
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Recent projects go to a temporary INI file, never the user's real settings."""
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME is the test's folder, so paths show as ~/… (screenshots hold no path of the machine running them).

    Kiln's and pip's caches stay where they were: a build in a test must not start from a cold cache.
    """
    import platformdirs

    monkeypatch.setenv("KILN_CACHE_DIR", os.environ.get("KILN_CACHE_DIR") or platformdirs.user_cache_dir("kiln"))
    monkeypatch.setenv("PIP_CACHE_DIR", os.environ.get("PIP_CACHE_DIR") or platformdirs.user_cache_dir("pip"))
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def hello(home: Path) -> Path:
    """A fresh copy of examples/hello in the test's home (the wizard writes kiln.toml and dist/ into it)."""
    return copy_example("hello", home, project=False).parent


@pytest.fixture(autouse=True)
def _no_modal_dialogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A modal dialog would hang an offscreen test: any that opens fails the test instead."""

    def unexpected(*args: object, **kwargs: object) -> object:
        raise AssertionError(f"unexpected modal dialog: {args[1:3]}")

    for name in ("getOpenFileName", "getSaveFileName", "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, unexpected)
    for name in ("question", "warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, unexpected)


def shown(path: Path) -> str:
    """A path as a person types it: ~/… inside the home folder."""
    try:
        return f"~/{path.relative_to(Path.home()).as_posix()}"
    except ValueError:
        return str(path)


class Driver:
    """Drives a wizard the way a person does: key clicks into fields, mouse clicks on buttons."""

    def __init__(self, qtbot: Any, wizard: KilnWizard, screenshot_dir: Path) -> None:
        self.qtbot = qtbot
        self.wizard = wizard
        self.screenshot_dir = screenshot_dir

    def page(self, page_id: PageId) -> Any:
        return self.wizard.page(page_id)

    def click(self, button: QAbstractButton) -> None:
        assert button.isEnabled(), f"{button.text()} is disabled"
        if isinstance(button, QCheckBox | QRadioButton):
            # the centre of a stretched check box is empty space: click its box, near the left edge
            self.qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(4, button.height() // 2))
        else:
            self.qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    def tick(self, box: QAbstractButton, checked: bool = True) -> None:
        """Make a check box ticked (or not) by clicking it when needed."""
        if box.isChecked() != checked:
            self.click(box)
        assert box.isChecked() == checked

    def type(self, edit: QLineEdit, text: str) -> None:
        """Replace the field's text by typing, as a person would (select all, then type)."""
        edit.setFocus()
        self.qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        self.qtbot.keyClick(edit, Qt.Key.Key_Backspace)
        if text:
            self.qtbot.keyClicks(edit, text)

    def choose(self, combo: QComboBox, data: object) -> None:
        """Pick an item with the keyboard: focus the combo and press Down/Up until it is current."""
        values = getattr(combo, "values", None)  # ui.widgets.Choice keeps its values in Python
        index = values.index(data) if values and data in values else combo.findText(str(data))
        assert index >= 0, f"{data!r} not in {combo.accessibleName()}"
        combo.setFocus()
        key = Qt.Key.Key_Down if index > combo.currentIndex() else Qt.Key.Key_Up
        for _ in range(combo.count()):
            if combo.currentIndex() == index:
                break
            self.qtbot.keyClick(combo, key)
        assert combo.currentIndex() == index, f"could not pick {data!r} in {combo.accessibleName()} with the keyboard"

    def next(self, expect: PageId | None = None) -> None:
        self.click(self.wizard.button(QWizard.WizardButton.NextButton))
        if expect is not None:
            self.qtbot.waitUntil(lambda: self.wizard.currentId() == expect, timeout=15000)

    def open_project(self, path: Path) -> None:
        start = self.page(PageId.START)
        self.click(start.open_radio)
        self.type(start.file.edit, shown(path))
        self.next(PageId.APPLICATION)

    def go_to(self, page_id: PageId) -> None:
        while self.wizard.currentId() < page_id:
            current = self.wizard.currentId()
            self.next()
            assert self.wizard.currentId() == current + 1, self.wizard.currentPage().message.text()

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Every saved field of the project pages, by page and accessible name."""
        result: dict[str, dict[str, object]] = {}
        for page_id in PageId:
            if page_id in (PageId.START, PageId.BUILD):
                continue
            values: dict[str, object] = {}
            for widget in self.page(page_id).findChildren(QWidget):
                name = widget.accessibleName()
                if not name or name in NOT_SAVED:
                    continue
                if isinstance(widget, QLineEdit):
                    values[name] = widget.text()
                elif isinstance(widget, QComboBox):  # a Choice: its saved value (the text may say more)
                    values[name] = widget.value() if hasattr(widget, "value") else widget.currentText()
                elif isinstance(widget, QCheckBox | QRadioButton):
                    values[name] = widget.isChecked()
                elif isinstance(widget, QTableWidget) and name == "Requirements":
                    values[name] = [widget.item(r, 0).text() for r in range(widget.rowCount())]
            result[page_id.name] = values
        return result

    def screenshot(self, name: str) -> Path:
        """Save the window as wizard-<name>.png in the screenshot folder (see `screenshot_dir`), at 800×600: the
        smallest window every page is made for."""
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        self.wizard.resize(800, 600)
        self.qtbot.wait(30)  # let layouts settle before grabbing
        path = self.screenshot_dir / f"wizard-{name}.png"
        assert self.wizard.grab().save(str(path))
        return path


def _make_wizard(qtbot: Any) -> KilnWizard:
    wizard = KilnWizard()
    qtbot.addWidget(wizard)
    wizard.ask_unsaved = lambda: "discard"  # type: ignore[method-assign]  # tests answer prompts themselves
    wizard.ask_cancel_build = lambda: True  # type: ignore[method-assign]
    wizard.resize(1024, 700)
    with qtbot.waitExposed(wizard):
        wizard.show()
    with qtbot.waitActive(wizard):  # focus moves (Tab, editingFinished) only happen in the active window
        wizard.activateWindow()
    return wizard


@pytest.fixture
def make_driver(qtbot: Any, screenshot_dir: Path) -> Iterator[Any]:
    """A factory: each call opens a fresh wizard window and returns its Driver."""
    made: list[KilnWizard] = []

    def make() -> Driver:
        wizard = _make_wizard(qtbot)
        made.append(wizard)
        return Driver(qtbot, wizard, screenshot_dir)

    yield make
    for wizard in made:
        wizard.stop_build()
        wizard.entry_page.stop()


@pytest.fixture
def driver(make_driver: Any) -> Any:
    return make_driver()
