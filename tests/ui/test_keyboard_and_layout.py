"""Every field can be reached and understood: mnemonics, tooltips, accessible names, Tab, Enter, no truncation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QTabWidget,
    QWidget,
    QWizard,
)

from kiln.source.detect import detect
from kiln.ui.page_ids import PageId

FIELDS = (QLineEdit, QComboBox, QAbstractButton, QAbstractItemView, QPlainTextEdit)
NAVIGATION = {"b", "n"}  # < &Back and &Next >


def _show(driver: Any, hello: Path, page_id: PageId, size: tuple[int, int] = (1024, 700)) -> QWidget:
    driver.wizard.start_new(hello, detect(hello))
    driver.wizard.setStartId(page_id)
    driver.wizard.restart()
    driver.wizard.resize(*size)
    driver.qtbot.wait(20)
    return driver.page(page_id)


def _part_of_another_widget(widget: QWidget) -> bool:
    """Qt's own sub-widgets: a line edit's clear button, table headers, scroll bars, a combo's popup, tab bars."""
    parent = widget.parentWidget()
    return (isinstance(parent, QLineEdit | QComboBox) or widget.inherits("QHeaderView") or widget.inherits("QScrollBar")
            or (parent is not None and parent.inherits("QTabBar")) or widget.inherits("QTabBar"))


def _visible(page: QWidget, kind: type | tuple[type, ...]) -> list[Any]:
    return [w for w in page.findChildren(QWidget)
            if isinstance(w, kind) and w.isVisibleTo(page) and not _part_of_another_widget(w)]


def _mnemonic(text: str) -> str | None:
    match = re.search(r"&([^&\s])", text)
    return match.group(1).lower() if match else None


@pytest.mark.parametrize("page_id", list(PageId))
def test_every_field_is_named_explained_and_reachable(driver: Any, hello: Path, page_id: PageId) -> None:
    page = _show(driver, hello, page_id)
    for widget in _visible(page, FIELDS):
        assert widget.accessibleName(), f"{type(widget).__name__} {widget.text() if hasattr(widget, 'text') else ''}"
        assert widget.toolTip(), f"{widget.accessibleName()} has no tooltip"
        if isinstance(widget, QRadioButton) and not widget.isChecked():
            continue  # Qt's radio groups: Tab reaches the checked one, arrows and mnemonics the others
        assert widget.focusPolicy() & Qt.FocusPolicy.TabFocus, f"{widget.accessibleName()} cannot be tabbed to"
    letters: list[str] = []
    for label in _visible(page, QLabel):
        if label.buddy() is not None:
            letter = _mnemonic(label.text())
            assert letter, f"label {label.text()!r} has no mnemonic"
            letters.append(letter)
    for button in _visible(page, QAbstractButton):
        if (letter := _mnemonic(button.text())) is not None:
            letters.append(letter)
    for tabs in _visible(page, QTabWidget):
        letters += [m for i in range(tabs.count()) if (m := _mnemonic(tabs.tabText(i)))]
    reserved = NAVIGATION | ({"c"} if page_id == PageId.BUILD else set())  # &Close on the last page
    assert not reserved & set(letters), f"mnemonics clash with the wizard's buttons: {reserved & set(letters)}"
    assert len(letters) == len(set(letters)), f"duplicate mnemonics on {page_id.name}: {sorted(letters)}"


@pytest.mark.parametrize("size", [(800, 600), (1024, 700)], ids=["800x600", "1024x700"])
@pytest.mark.parametrize("page_id", list(PageId))
def test_every_page_fits_the_window_and_nothing_is_truncated(driver: Any, hello: Path, page_id: PageId,
                                                              size: tuple[int, int]) -> None:
    """At 800×600 every page is usable: the window takes that size (no page forces more), the wizard's buttons are
    in it, the page's fields scroll up and down (never sideways), and no text is cut off."""
    page = _show(driver, hello, page_id, size)
    window = driver.wizard.rect()
    assert (window.width(), window.height()) == size
    for which in (QWizard.WizardButton.BackButton, QWizard.WizardButton.NextButton,
                  QWizard.WizardButton.CancelButton, QWizard.WizardButton.FinishButton):
        button = driver.wizard.button(which)
        if button.isVisible():
            assert window.contains(button.geometry().bottomRight()), f"{button.text()!r} is outside the window"
    assert page.scroll.horizontalScrollBar().maximum() == 0, "the page scrolls sideways"
    content = page.scroll.widget()
    for widget in _visible(page, (QLabel, QAbstractButton)):
        if isinstance(widget, QLabel) and widget.wordWrap():
            assert widget.heightForWidth(widget.width()) <= widget.height() + 1 or not widget.text(), widget.text()
        else:
            assert widget.width() >= widget.minimumSizeHint().width(), f"{widget.text()!r} is cut off"
        if content.isAncestorOf(widget):  # reachable by scrolling: within the content, left to right
            right = widget.mapTo(content, widget.rect().topRight())
            assert right.x() <= content.width(), f"{widget.text()!r} is outside the page"


def test_enter_means_next(driver: Any, hello: Path) -> None:
    page = _show(driver, hello, PageId.APPLICATION)
    page.edits["version"].setFocus()
    driver.qtbot.keyClick(page.edits["version"], Qt.Key.Key_Return)
    assert driver.wizard.currentId() == PageId.ENTRY


def test_mnemonics_and_tab_order(driver: Any, hello: Path) -> None:
    page = _show(driver, hello, PageId.APPLICATION)
    page.edits["name"].setFocus()
    driver.qtbot.keyClick(page.edits["name"], Qt.Key.Key_V, Qt.KeyboardModifier.AltModifier)
    assert QApplication.focusWidget() is page.edits["version"]
    order = [page.edits["version"]]
    for _ in range(4):
        driver.qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        order.append(QApplication.focusWidget())
    assert order[1:] == [page.edits["publisher"], page.edits["identifier"], page.suggest, page.edits["description"]]
