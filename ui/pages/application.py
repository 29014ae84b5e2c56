"""Application page: the names, version and identity people and operating systems will see."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QWidget

from kiln.model.project import Project, is_todo
from kiln.support.errors import Problem
from kiln.ui.page_ids import PageId
from kiln.ui.pages.base import KilnPage, ProjectHost
from kiln.ui.widgets import add_row, describe, make_form

_TEXT_FIELDS = ("name", "display_name", "version", "identifier", "publisher", "description")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def suggest_identifier(name: str, publisher: str) -> str:
    """`com.<publisher>.<name>` (reverse-DNS, as macOS and desktop files want); org.example when no publisher."""
    app = _slug(name) or "app"
    owner = _slug(publisher)
    if not app[0].isalpha():
        app = f"app-{app}"
    return f"com.{owner}.{app}" if owner else f"org.example.{app}"


class ApplicationPage(KilnPage):
    page_id = PageId.APPLICATION

    def __init__(self, host: ProjectHost) -> None:
        super().__init__(
            host,
            "Application",
            "How your app is named and identified; these values appear in menus, installers and file names.",
        )
        form = make_form()
        self.edits: dict[str, QLineEdit] = {key: QLineEdit() for key in _TEXT_FIELDS}
        e = self.edits
        e["name"].setPlaceholderText("e.g. my-app")
        e["display_name"].setPlaceholderText("e.g. My App (empty: the name)")
        e["version"].setPlaceholderText("e.g. 1.0.0")
        e["identifier"].setPlaceholderText("e.g. com.example.my-app")
        e["publisher"].setPlaceholderText("e.g. Example Ltd (you or your organisation)")
        e["description"].setPlaceholderText("One sentence about what the app does")
        add_row(form, "Na&me:", e["name"], "Machine name used for files and packages: letters, digits, '.', '_', '-'.")
        add_row(form, "&Display name:", e["display_name"], "The name people see in menus and window titles.")
        add_row(form, "&Version:", e["version"], "The app's version, e.g. 1.0.0, 2.1 or 1.0rc1.")
        add_row(form, "&Publisher:", e["publisher"], "Who makes the app; shown by installers.")
        self.suggest = QPushButton("&Suggest")
        self.suggest.setAutoDefault(False)
        describe(self.suggest, "Suggest identifier", "Fill the identifier from the publisher and the name.")
        identifier_row = QWidget()
        row = QHBoxLayout(identifier_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(e["identifier"], 1)
        row.addWidget(self.suggest)
        identifier_row.setFocusProxy(e["identifier"])
        add_row(
            form,
            "&Identifier:",
            identifier_row,
            "A unique reverse-DNS id (macOS bundle id, Linux desktop id), e.g. com.example.my-app. "
            "Keep it once people have installed the app.",
            buddy=e["identifier"],
        )
        add_row(form, "Descrip&tion:", e["description"], "One sentence shown by installers and app menus.")
        self.body.addLayout(form)
        self.body.addStretch(1)
        for key, edit in e.items():
            self.fields[f"app.{key}"] = edit
        self.fields["app"] = e["name"]
        self.watch(*e.values())
        self.suggest.clicked.connect(self._suggest)
        # Keep the identifier in step with name/publisher while it still is a suggestion the user did not change.
        self._last_suggestion = ""
        e["name"].textEdited.connect(self._follow)
        e["publisher"].textEdited.connect(self._follow)

    def load(self, project: Project) -> None:
        for key, edit in self.edits.items():
            value = getattr(project.app, key)
            edit.setText("" if is_todo(value) else value)
        self._last_suggestion = suggest_identifier(project.app.name, project.app.publisher)

    def patch(self) -> dict[str, Any]:
        values = {key: edit.text().strip() for key, edit in self.edits.items()}
        for required in ("name", "version"):
            if not values[required]:
                values[required] = "TODO"  # what `kiln new` writes too; Next refuses it with a message
        return {"app": values}

    def checks(self) -> list[Problem]:
        problems = []
        if not self.edits["name"].text().strip():
            problems.append(Problem("app.name", "enter a short machine name for the app, e.g. my-app"))
        if not self.edits["version"].text().strip():
            problems.append(Problem("app.version", "enter the app's version, e.g. 1.0.0"))
        if not self.edits["identifier"].text().strip():
            problems.append(Problem("app.identifier", "enter an identifier, or press Suggest"))
        return problems

    def _suggest(self) -> None:
        name, publisher = self.edits["name"].text(), self.edits["publisher"].text()
        self._last_suggestion = suggest_identifier(name, publisher)
        self.edits["identifier"].setText(self._last_suggestion)

    def _follow(self) -> None:
        current = self.edits["identifier"].text().strip()
        if not current or current == self._last_suggestion or current.startswith("org.example."):
            self._suggest()
