"""The Installers page's settings for every installer: the licence file and the file types the app opens.

`[app] license_file` (the MSI's wizard asks the user to accept it) and the `[[association]]` tables (each installer
registers the types its own way) are project-wide, so they sit below the kinds' own options.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from kiln.model.associations import Association, duplicate_extensions
from kiln.model.project import Project
from kiln.support.errors import Problem
from kiln.ui.widgets import PathField, add_row, choose_file, describe, make_form

COLUMNS = (("extension", "Extension"), ("description", "Description"), ("mime_type", "MIME type (optional)"),
           ("icon", "Icon (optional)"))


class FileTypesBox(QGroupBox):
    """Licence file and file associations, edited as plain values."""

    def __init__(self, base: Callable[[], Path] | None = None) -> None:
        super().__init__("For every installer")
        layout = QVBoxLayout(self)
        form = make_form()
        self.license = PathField("", choose_file("Choose the licence file", "Licence (*.txt *.rtf *.md LICENSE*);;"
                                                                            "All files (*)"), base=base)
        add_row(form, "L&icence file:", self.license, "A licence the user must accept before installing (the MSI "
                "shows it). Plain text or RTF, relative to the project file. Empty: no licence page.",
                buddy=self.license.edit)
        layout.addLayout(form)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([title for _, title in COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(90)
        self.table.verticalHeader().setVisible(False)  # no row numbers (and no corner button without a name)
        describe(self.table, "File types", "File types the app opens: double-clicking such a file starts the app "
                 "with it (extension without the dot, e.g. tally; a description such as Tally document).")
        layout.addWidget(self.table)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add &file type")
        self.remove_button = QPushButton("Remove file t&ype")
        describe(self.add_button, "Add file type", "Add a row for a file type the app opens.")
        describe(self.remove_button, "Remove file type", "Remove the selected file type.")
        self.add_button.clicked.connect(lambda: self.add_row({}))
        self.remove_button.clicked.connect(self._remove_selected)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

    def add_row(self, values: dict[str, str]) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, (name, _) in enumerate(COLUMNS):
            self.table.setItem(row, column, QTableWidgetItem(values.get(name, "")))

    def _remove_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        for row in rows or ([self.table.rowCount() - 1] if self.table.rowCount() else []):
            self.table.removeRow(row)

    def load(self, project: Project) -> None:
        self.license.setText(project.app.license_file)
        self.table.setRowCount(0)
        for association in project.association:
            self.add_row(association.model_dump(exclude_defaults=True))

    def associations(self) -> list[dict[str, str]]:
        """One table per non-empty row; optional columns left out when empty (the file stays short)."""
        tables: list[dict[str, str]] = []
        for row in range(self.table.rowCount()):
            values = {name: (item.text().strip() if (item := self.table.item(row, column)) else "")
                      for column, (name, _) in enumerate(COLUMNS)}
            if any(values.values()):
                tables.append({name: value for name, value in values.items() if value or name in ("extension",
                                                                                                   "description")})
        return tables

    def patch(self) -> dict[str, Any]:
        return {"app": {"license_file": self.license.text()}, "association": self.associations()}

    def checks(self) -> list[Problem]:
        parsed: list[Association] = []
        for index, table in enumerate(self.associations()):
            try:
                parsed.append(Association.model_validate(table))
            except ValidationError as e:
                error = e.errors()[0]
                return [Problem("association", f"file type {index + 1}, {error['loc'][0]}: "
                                               f"{str(error['msg']).removeprefix('Value error, ')}")]
        repeated = duplicate_extensions(parsed)
        if repeated:
            return [Problem("association", f"the extension {', '.join(repeated)} is listed more than once")]
        return []
