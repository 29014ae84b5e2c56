"""What every page shares: load from the project, write edits back as you type, and refuse Next with a message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QFrame,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from kiln.model.project import Project
from kiln.model.project_file import problems_from_validation
from kiln.support.errors import Problem
from kiln.ui.field_map import field_key, key_candidates, page_for
from kiln.ui.model_edit import apply_patch
from kiln.ui.page_ids import PageId
from kiln.ui.widgets import DetailsBox, mark, message_label


class ProjectHost(Protocol):
    """What a page needs from the wizard (kept small so pages do not depend on the wizard class)."""

    project: Project | None

    @property
    def base_dir(self) -> Path: ...

    def commit(self, project: Project) -> None: ...


class KilnPage(QWizardPage):
    """A page that edits part of the project.

    Subclasses build their widgets into `self.body`, register them in `self.fields` by field key (see
    field_map), and implement `load`, `patch` and optionally `checks`.
    """

    page_id: PageId
    edited = Signal()

    def __init__(self, host: ProjectHost, title: str, subtitle: str) -> None:
        super().__init__()
        self.host = host
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.fields: dict[str, QWidget] = {}
        self.problems: list[Problem] = []
        self._loading = False
        outer = QVBoxLayout(self)
        outer.setSpacing(10)
        outer.setContentsMargins(0, 0, 0, 0)
        # The page's fields scroll when the window is small (800×600 fits every page); the problem banner stays
        # below them, always in view.
        content = QWidget()
        self.body = QVBoxLayout(content)
        self.body.setSpacing(10)
        self.body.setContentsMargins(0, 0, 6, 0)
        self.scroll = QScrollArea()
        self.scroll.setWidget(content)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        outer.addWidget(self.scroll, 1)
        self.message = message_label()
        outer.addWidget(self.message)
        self.message_details = DetailsBox()  # the message's technical side (addresses, commands), one click away
        outer.addWidget(self.message_details)

    # --- what subclasses provide -------------------------------------------------------------------------------
    def load(self, project: Project) -> None:
        """Show the project's values (called inside `loading()`, so no edit is reported)."""

    def patch(self) -> dict[str, Any]:
        """The page's values as {section: {field: value}} (see model_edit.apply_patch); {} if it edits nothing."""
        return {}

    def checks(self) -> list[Problem]:
        """Problems only Next cares about (missing values, files that do not exist), beyond the model's own."""
        return []

    # --- shared behaviour --------------------------------------------------------------------------------------
    @contextmanager
    def loading(self) -> Iterator[None]:
        self._loading = True
        try:
            yield
        finally:
            self._loading = False

    def show_project(self, project: Project) -> None:
        with self.loading():
            self.load(project)
        self.show_problems([])

    def watch(self, *widgets: QWidget) -> None:
        """Report user edits of these widgets (typing, picking, ticking) as project changes."""
        for widget in widgets:
            if isinstance(widget, QLineEdit):
                widget.textChanged.connect(self.on_edit)
            elif isinstance(widget, QComboBox):
                widget.currentIndexChanged.connect(self.on_edit)
                if widget.isEditable():
                    widget.editTextChanged.connect(self.on_edit)
            elif isinstance(widget, QAbstractButton):
                widget.toggled.connect(self.on_edit)
            elif isinstance(widget, QPlainTextEdit):
                widget.textChanged.connect(self.on_edit)

    def on_edit(self, *_: object) -> None:
        if self._loading or self.host.project is None:
            return
        self.show_problems(self.apply())
        self.edited.emit()

    def apply(self) -> list[Problem]:
        """Write the page's values into the host's project; the model's problems with them, if any."""
        patch = self.patch()
        if not patch or self.host.project is None:
            return []
        try:
            project = apply_patch(self.host.project, patch)
        except ValidationError as error:
            problems = problems_from_validation(error)
            return [p for p in problems if page_for(p.location) == self.page_id] or problems
        self.host.commit(project)
        return []

    def validatePage(self) -> bool:
        if self.host.project is None:
            return True
        problems = self.apply()
        problems += [] if problems else self.checks()
        self.show_problems(problems)
        if problems:
            widget = self.widget_for(problems[0])
            if widget is not None:
                widget.setFocus()
        return not problems

    def cleanupPage(self) -> None:
        """Going Back keeps what was typed (the default would reset registered fields)."""

    def installer_kinds(self) -> list[str]:
        return []

    def widget_for(self, problem: Problem) -> QWidget | None:
        key = field_key(problem.location, self.installer_kinds())
        return next((self.fields[k] for k in key_candidates(key) if k in self.fields), None)

    def problem_label(self, problem: Problem, widget: QWidget | None) -> str:
        """How the banner names the field: its accessible name (what its label says)."""
        return widget.accessibleName() if widget is not None else problem.location

    def show_problems(self, problems: list[Problem]) -> None:
        """Mark the fields that own the problems and say what to do in the banner."""
        self.problems = problems
        owners = {id(w): w for p in problems if (w := self.widget_for(p)) is not None}
        for widget in self.fields.values():
            if id(widget) not in owners:
                mark(widget, None)
        lines = []
        for problem in problems:
            widget = self.widget_for(problem)
            text = problem.message if not problem.hint else f"{problem.message} ({problem.hint})"
            if widget is not None:
                mark(widget, text)
            lines.append(f"{self.problem_label(problem, widget)}: {text}")
        self.message.setText("\n".join(lines))
        self.message.setVisible(bool(lines))
