"""Installers page: which installers to build, each with its options, and where they are written.

Every kind comes from the installer registry and describes its own options (kiln.kinds.spec.OptionSpec);
this page turns those descriptions into widgets, so it has no code for any particular kind.
"""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import ValidationError
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLineEdit, QVBoxLayout, QWidget

from kiln.kinds import registry
from kiln.kinds.options import InstallerOptions
from kiln.kinds.spec import KindSpec, OptionSpec
from kiln.model.project import Project
from kiln.support.errors import Problem
from kiln.ui.model_edit import installer_tables, merge_options
from kiln.ui.page_ids import PageId
from kiln.ui.pages.base import KilnPage, ProjectHost
from kiln.ui.pages.file_types import FileTypesBox
from kiln.ui.widgets import Choice, PathField, add_row, choose_folder, describe, make_form


class OptionWidget:
    """One option's widget, chosen from its description and its field's type; reads and writes plain values."""

    def __init__(self, option: OptionSpec, model: type[InstallerOptions]) -> None:
        self.option = option
        annotation = model.model_fields[option.field].annotation
        self.is_list = typing.get_origin(annotation) is list
        self.widget: QWidget
        if option.choices:
            self.widget = Choice(list(option.choices))
        elif annotation is bool:
            self.widget = QCheckBox(option.label)
            describe(self.widget, option.label.replace("&", ""), option.help)
        else:
            edit = QLineEdit()
            edit.setPlaceholderText(option.placeholder)
            self.widget = edit

    @property
    def is_check_box(self) -> bool:
        return isinstance(self.widget, QCheckBox)

    def value(self) -> Any:
        if isinstance(self.widget, Choice):
            return self.widget.value()
        if isinstance(self.widget, QCheckBox):
            return self.widget.isChecked()
        assert isinstance(self.widget, QLineEdit)
        text = self.widget.text().strip()
        return [part for part in re.split(r"[;,\s]+", text) if part] if self.is_list else text

    def set_value(self, value: Any) -> None:
        if isinstance(self.widget, Choice):
            self.widget.set_value(value)
        elif isinstance(self.widget, QCheckBox):
            self.widget.setChecked(bool(value))
        else:
            assert isinstance(self.widget, QLineEdit)
            self.widget.setText("; ".join(value) if self.is_list else str(value or ""))


class InstallersPage(KilnPage):
    page_id = PageId.INSTALLERS

    def __init__(self, host: ProjectHost) -> None:
        super().__init__(
            host,
            "Installers",
            "Tick the installers you want; Kiln builds all of them on this machine, for every platform.",
        )
        self.kinds: list[KindSpec] = registry.kinds()
        self.enabled: dict[str, QCheckBox] = {}
        self.boxes: dict[str, QWidget] = {}
        self.option_widgets: dict[str, dict[str, OptionWidget]] = {}
        # One fresh table per kind for this session: values a kind generates once (the MSI upgrade code) stay the
        # same when its box is unticked and ticked again.
        self._fresh = {entry.kind: entry.options() for entry in self.kinds}
        self._ticked: set[str] = set()
        self._defaults = {kind: options.model_dump(mode="json") for kind, options in self._fresh.items()}

        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(12)
        self.grid.setVerticalSpacing(12)
        self.groups = [self._group(entry) for entry in self.kinds]
        self.columns = 0
        self._lay_out(2)
        self.body.addLayout(self.grid)
        # Licence file and file associations: project-wide, below the kinds.
        self.file_types = FileTypesBox(base=lambda: self.host.base_dir)
        self.body.addWidget(self.file_types)
        form = make_form()
        self.output = PathField("dist", choose_folder("Choose the output folder"), base=lambda: self.host.base_dir)
        add_row(form, "&Output folder:", self.output, "Where the installers are written, relative to the project "
                "file.", buddy=self.output.edit)
        self.body.addLayout(form)
        self.body.addStretch(1)
        first_kind = self.kinds[0].kind
        self.fields = {"installer": self.enabled[first_kind], "build.output_dir": self.output.edit,
                       "build": self.output.edit}
        self.fields |= {f"installer.{kind}": box for kind, box in self.enabled.items()}
        self.fields |= {f"installer.{kind}.{name}": option.widget
                        for kind, options in self.option_widgets.items() for name, option in options.items()}
        self.fields |= {"app.license_file": self.file_types.license.edit, "association": self.file_types.table}
        self.watch(*self.enabled.values(), *(o.widget for opts in self.option_widgets.values() for o in opts.values()),
                   self.output.edit, self.file_types.license.edit)
        self.file_types.table.itemChanged.connect(self.on_edit)
        self.file_types.table.model().rowsRemoved.connect(self.on_edit)
        self._loaded: list[dict[str, Any]] = []
        self._tables: list[dict[str, Any]] = []

    def _lay_out(self, columns: int) -> None:
        """The kinds' boxes in one or two columns (one when two would not fit the window's width)."""
        if columns == self.columns:
            return
        self.columns = columns
        for group in self.groups:
            self.grid.removeWidget(group)
        for index, group in enumerate(self.groups):
            self.grid.addWidget(group, index // columns, index % columns)
        for column in range(2):
            self.grid.setColumnStretch(column, 1 if column < columns else 0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        two = sum(sorted((g.minimumSizeHint().width() for g in self.groups), reverse=True)[:2])
        self._lay_out(2 if self.scroll.viewport().width() >= two + self.grid.horizontalSpacing() + 8 else 1)
        super().resizeEvent(event)

    def option(self, kind: str, name: str) -> QWidget:
        """The widget of one option, e.g. option("msi", "scope")."""
        return self.option_widgets[kind][name].widget

    def _group(self, entry: KindSpec) -> QGroupBox:
        group = QGroupBox(entry.system)
        layout = QVBoxLayout(group)
        check = QCheckBox(entry.title)
        plain = entry.title.replace("&", "")
        describe(check, plain.split(":")[0], f"Build the {plain}.")
        self.enabled[entry.kind] = check
        layout.addWidget(check)
        options = QWidget()
        form = make_form()
        form.setContentsMargins(22, 0, 0, 0)
        options.setLayout(form)
        self.option_widgets[entry.kind] = {}
        for option in entry.wizard_options:
            widget = OptionWidget(option, entry.options)
            self.option_widgets[entry.kind][option.field] = widget
            if widget.is_check_box:
                form.addRow(widget.widget)
            else:
                add_row(form, option.label, widget.widget, option.help)
        layout.addWidget(options)
        layout.addStretch(1)
        self.boxes[entry.kind] = options
        check.toggled.connect(options.setEnabled)
        options.setEnabled(False)
        return group

    # --- model ---------------------------------------------------------------------------------------------------
    def load(self, project: Project) -> None:
        self._loaded = installer_tables(project)
        first: dict[str, InstallerOptions] = {}
        for installer in sorted(project.installer, key=lambda i: not i.enabled):  # an enabled table first
            first.setdefault(installer.kind, installer)
        for entry in self.kinds:
            self.enabled[entry.kind].setChecked(entry.kind in first and first[entry.kind].enabled)
            shown = first.get(entry.kind) or self._fresh[entry.kind]
            for name, widget in self.option_widgets[entry.kind].items():
                widget.set_value(getattr(shown, name))
        self.output.setText(project.build.output_dir)
        self.file_types.load(project)

    def options(self, kind: str) -> dict[str, Any]:
        return {name: widget.value() for name, widget in self.option_widgets[kind].items()}

    def patch(self) -> dict[str, Any]:
        # Start from the installers as loaded, so unticking and ticking again keeps e.g. the MSI upgrade code.
        tables: list[dict[str, Any]] = []
        seen: set[str] = set()
        for table in self._loaded:
            kind = table["kind"]
            if kind not in self.enabled:
                continue
            if not self.enabled[kind].isChecked():
                # A table holding values generated once (the MSI upgrade code) is kept, switched off, so ticking
                # the kind again, even after saving and reopening, gives the same identity back.
                if self._fresh[kind].generated_fields():
                    tables.append(table | {"enabled": False})
                continue
            if kind in seen:
                tables.append(table)  # more of one kind (hand-written): kept as they are, the first is edited
                continue
            seen.add(kind)
            table = {key: value for key, value in table.items() if key != "enabled"}  # ticked: built again
            tables.append(merge_options(table, self._defaults[kind], self.options(kind)))
        for entry in self.kinds:
            kind = entry.kind
            fresh = self._fresh[kind]
            generated = {name: getattr(fresh, name) for name in fresh.generated_fields()}
            if self.enabled[kind].isChecked() and kind not in seen:
                self._ticked.add(kind)
                tables.append(merge_options({"kind": kind} | generated, self._defaults[kind], self.options(kind)))
            elif kind in self._ticked and generated and kind not in {table["kind"] for table in self._loaded}:
                # Ticked earlier in this session (maybe saved): its generated values are kept like a loaded table's.
                tables.append({"kind": kind} | generated | {"enabled": False})
        self._tables = tables
        return {"installer": tables, "build": {"output_dir": self.output.text() or "dist"}} | self.file_types.patch()

    def installer_kinds(self) -> list[str]:
        """The kind of each table the page writes, in order (a problem's `installer[i]` is the i-th)."""
        return [t["kind"] for t in self._tables]

    def checks(self) -> list[Problem]:
        if not any(check.isChecked() for check in self.enabled.values()):
            return [Problem("installer", "choose at least one installer to build")]
        if problems := self.file_types.checks():
            return problems
        # Each ticked kind's options are checked by the kind's own model, so the page needs no rules of its own.
        for entry in self.kinds:
            if not self.enabled[entry.kind].isChecked():
                continue
            try:
                entry.options.model_validate({"kind": entry.kind, **self.options(entry.kind)})
            except ValidationError as e:
                error = e.errors()[0]
                field = ".".join(str(part) for part in error["loc"][:1])
                return [Problem(f"installer.{entry.kind}.{field}", _plain(error))]
        return []


def _plain(error: Any) -> str:
    """The kind's own message, without pydantic's prefix."""
    return str(error["msg"]).removeprefix("Value error, ")
