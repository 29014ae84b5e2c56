"""Small building blocks every page uses: labelled fields, path pickers, the problem banner, error marking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kiln.ui.model_edit import inside

ERROR_TEXT = QColor("#a4262c")
ERROR_BASE = QColor("#fde7e9")


def display_path(path: Path | str) -> str:
    """A path as people like to read it: inside the home folder it starts with ~."""
    path = Path(path)
    try:
        return f"~/{path.relative_to(Path.home()).as_posix()}"
    except ValueError:
        return str(path)


def describe(widget: QWidget, name: str, tip: str) -> None:
    """Tooltip, accessible name and description in one place, so no field goes without them."""
    widget.setToolTip(tip)
    widget.setAccessibleName(name)
    widget.setAccessibleDescription(tip)


def add_row(form: QFormLayout, text: str, field: QWidget, tip: str, buddy: QWidget | None = None) -> QLabel:
    """A form row: `text` has a &mnemonic that focuses `buddy` (default: the field itself)."""
    label = QLabel(text)
    target = buddy or field
    label.setBuddy(target)
    label.setToolTip(tip)
    describe(target, text.replace("&", "").rstrip(":"), tip)
    form.addRow(label, field)
    return label


def make_form() -> QFormLayout:
    """A form with the same spacing on every page; labels never truncate (they take what they need)."""
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    form.setHorizontalSpacing(12)
    form.setVerticalSpacing(8)
    return form


class PathField(QWidget):
    """A line edit with a Browse… button; the edit is the focus and accessibility target."""

    def __init__(
        self,
        placeholder: str,
        choose: Callable[[QWidget, str], str],
        parent: QWidget | None = None,
        base: Callable[[], Path] | None = None,
    ) -> None:
        """`base`: the project file's folder, when the field holds a path of the project (a chosen file inside it
        is shown and saved relative to it)."""
        super().__init__(parent)
        self._base = base
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        self.button = QPushButton("Browse…")
        describe(self.button, f"Browse for {placeholder[:1].lower()}{placeholder[1:]}",
                 "Choose it in a file dialog instead of typing the path.")
        self.button.setAutoDefault(False)  # Enter still means Next, not Browse
        self._choose = choose
        self.button.clicked.connect(self._browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.button)
        self.setFocusProxy(self.edit)

    def _browse(self) -> None:
        current = self.edit.text()
        if self._base is not None and current:
            current = str(self._base() / current)
        chosen = self._choose(self, current)
        if chosen and self._base is not None:
            chosen = inside(chosen, self._base())
        if chosen:
            self.edit.setText(chosen)
            self.edit.editingFinished.emit()

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:
        self.edit.setText(text)


def choose_folder(title: str) -> Callable[[QWidget, str], str]:
    return lambda parent, current: QFileDialog.getExistingDirectory(parent, title, current)


def choose_file(title: str, filters: str) -> Callable[[QWidget, str], str]:
    return lambda parent, current: QFileDialog.getOpenFileName(parent, title, current, filters)[0]


class Choice(QComboBox):
    """A combo box of (text, value) items whose values live in Python.

    Qt item data is avoided on purpose: PySide 6.12 drops a reference to None whenever it returns an empty
    QVariant (no current item, unset data), which eventually crashes the interpreter.
    """

    def __init__(self, items: list[tuple[str, Any]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values = [value for _, value in items]
        self.addItems([text for text, _ in items])

    def value(self) -> Any:
        index = self.currentIndex()
        return self.values[index] if 0 <= index < len(self.values) else ""

    def set_value(self, value: Any) -> None:
        self.setCurrentIndex(self.values.index(value) if value in self.values else 0)


def message_label() -> QLabel:
    """The banner at the bottom of a page that says what is wrong and what to do."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, ERROR_TEXT)
    label.setPalette(palette)
    label.setAccessibleName("Problem")
    label.hide()
    return label


def note_label(text: str = "") -> QLabel:
    """A secondary, wrapping explanation (status lines, warnings that do not block)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def problem_of(widget: QWidget) -> str | None:
    """The problem a field is marked with (see `mark`), or None."""
    return getattr(widget, "_kiln_problem", None)


def mark(widget: QWidget, problem: str | None) -> None:
    """Tint a field that has a problem and put the reason in its tooltip; `None` clears it.

    State is kept in Python attributes, not Qt properties: PySide 6.12 drops a reference to None each time it
    returns an unset property (or any empty QVariant), which eventually crashes the interpreter.
    """
    current: str | None = getattr(widget, "_kiln_problem", None)
    if problem is None:
        if current is not None:
            widget.setPalette(QPalette())
            widget.setToolTip(getattr(widget, "_kiln_tip", ""))
            widget._kiln_problem = None  # type: ignore[attr-defined]
        return
    if current is None:
        widget._kiln_tip = widget.toolTip()  # type: ignore[attr-defined]
    widget._kiln_problem = problem  # type: ignore[attr-defined]
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.Base, ERROR_BASE)
    palette.setColor(QPalette.ColorRole.Button, ERROR_BASE)
    widget.setPalette(palette)
    widget.setToolTip(f"{problem}\n\n{getattr(widget, '_kiln_tip', '')}".strip())


class DetailsBox(QWidget):
    """A "Details" disclosure: technical text (addresses, commands, error numbers) kept out of the sentence above it,
    one click away; hidden altogether when there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton()
        self.toggle.setText("Details")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        describe(self.toggle, "Details", "Show the technical details (for a bug report, or a developer).")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAccessibleName("Technical details")
        self.text.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.text)
        self.toggle.toggled.connect(self._toggled)
        self.hide()

    def set_details(self, text: str) -> None:
        self.text.setText(text)
        self.setVisible(bool(text))
        if not text:
            self.toggle.setChecked(False)

    def details(self) -> str:
        return str(self.text.text())

    def _toggled(self, shown: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.text.setVisible(shown)
