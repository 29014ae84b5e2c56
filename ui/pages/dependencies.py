"""Dependencies page: the packages the app needs (checked as you type), the Python version and where it comes from."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiln.engine.dependencies import index_args, read_requirements
from kiln.engine.resolve import source_words
from kiln.model.project import Project
from kiln.source.detect import detect
from kiln.support.errors import KilnError, Problem
from kiln.ui.page_ids import PageId
from kiln.ui.pages.base import KilnPage, ProjectHost
from kiln.ui.plain_words import SYSTEMS, plain
from kiln.ui.python_versions import SUPPORTED, Offer, offers
from kiln.ui.resolve_runner import ResolveRunner, resolve_argv
from kiln.ui.widgets import (
    ERROR_BASE,
    ERROR_TEXT,
    Choice,
    PathField,
    add_row,
    choose_file,
    describe,
    make_form,
    note_label,
)
from kiln.ui.worker import run_in_background

RESOLVE_DELAY_MS = 1500
PYTHON_VERSIONS = SUPPORTED
SOURCES = [
    ("auto", "Automatic (recommended)"),
    ("host", "The Python running Kiln (Linux only)"),
    ("download", "Download a standalone Python"),
    ("archive", "A Python runtime archive you have"),
]


def check_requirement(text: str) -> str | None:
    """None when `text` is a valid PEP 508 requirement, else the reason, in one line."""
    try:
        Requirement(text)
    except InvalidRequirement as error:
        return str(error).splitlines()[0]
    return None


def shown_packages(result: dict[str, Any], limit: int = 6) -> str:
    """The packages of one platform's answer, each with where its version comes from: "rich 13.7.1 (from
    uv.lock), colorama 0.4.6 (resolved now) and 3 more"."""
    sources = result.get("sources") or [{"name": n, "version": ""} for n in result.get("packages") or []]
    lock = str(result.get("developer_lock", ""))
    words = [f"{s['name']} {s['version']}".strip() + (f" ({source_words(str(s['source']), lock)})" if s.get("source")
                                                        else "") for s in sources]
    shown = ", ".join(words[:limit]) + (f" and {len(words) - limit} more" if len(words) > limit else "")
    return shown or "nothing to install"


def read_requirements_from(path: Path) -> list[str]:
    """Requirement lines of a requirements.txt, or [project].dependencies of a pyproject.toml."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        dependencies = tomllib.loads(text).get("project", {}).get("dependencies", [])
        return [str(d) for d in dependencies]
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith(("#", "-"))]


class _LiveDelegate(QStyledItemDelegate):
    """The cell editor reports every keystroke, so a row is checked as you type, not only when you leave it."""

    def __init__(self, page: DependenciesPage) -> None:
        super().__init__(page)
        self._page = page

    def createEditor(
        self, parent: QWidget, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QWidget:
        editor = QLineEdit(parent)
        editor.setAccessibleName("Requirement")
        editor.textEdited.connect(lambda text: self._page.show_check(index.row(), text, editing=True))
        return editor


class DependenciesPage(KilnPage):
    page_id = PageId.DEPENDENCIES

    def __init__(self, host: ProjectHost) -> None:
        super().__init__(
            host,
            "Dependencies",
            "List the packages your app imports from PyPI and the Python version it runs on; Kiln bundles them all.",
        )
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Requirement", "Check"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.table.setTabKeyNavigation(False)  # Tab leaves the table: the page stays keyboard-navigable
        self.table.setItemDelegateForColumn(0, _LiveDelegate(self))
        self.add_button = QPushButton("&Add")
        self.remove_button = QPushButton("Re&move")
        self.import_button = QPushButton("&Import…")
        describe(self.add_button, "Add requirement", "Add a row and type a requirement, e.g. requests>=2.31.")
        describe(self.remove_button, "Remove requirement", "Remove the selected rows.")
        describe(self.import_button, "Import requirements",
                 "Add the requirements of a requirements.txt or the dependencies of a pyproject.toml.")
        buttons = QVBoxLayout()
        for button in (self.add_button, self.remove_button, self.import_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        buttons.addStretch(1)
        table_row = QWidget()
        row = QHBoxLayout(table_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.table, 1)
        row.addLayout(buttons)
        form = make_form()
        label = add_row(form, "&Requirements:", table_row, "One PEP 508 requirement per row, e.g. rich>=13 or "
                        "requests[socks]==2.31; rows that are not valid are marked with the reason.", buddy=self.table)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.requirements_file = PathField(
            "Optional requirements.txt read at build time",
            choose_file("Choose a requirements file", "Requirements (*.txt);;All files (*)"),
            base=lambda: self.host.base_dir,
        )
        add_row(form, "Requirements &file:", self.requirements_file, "A requirements.txt Kiln reads when it builds, "
                "relative to the project file (in addition to the rows above).", buddy=self.requirements_file.edit)
        self.file_note = note_label()  # what the file lists: the table above holds only the rows typed here
        self.file_note.setAccessibleName("Requirements in the file")
        form.addRow("", self.file_note)
        self.python = Choice([(v, v) for v in PYTHON_VERSIONS])
        add_row(form, "&Python version:", self.python, "The Python version bundled with the app: those your app's "
                "requires-python allows, each saying whether its runtime is here or the build downloads it.")
        self.source = Choice([(text, value) for value, text in SOURCES])
        add_row(form, "Runtime &source:", self.source, "Where the bundled Python comes from. Automatic uses this "
                "machine's Python for Linux and downloads one for Windows and macOS.")
        self.archive = PathField(
            "A standalone Python's install_only archive (.tar.gz)",
            choose_file("Choose a Python archive", "Archives (*.tar.gz *.tar.zst);;All files (*)"),
            base=lambda: self.host.base_dir,
        )
        add_row(form, "Archi&ve:", self.archive, "The archive to take Python from when the runtime source is an "
                "archive file, relative to the project file.", buddy=self.archive.edit)
        self.body.addLayout(form, 1)
        self.resolve_status = note_label("")
        self.resolve_status.setAccessibleName("Wheels for every platform")
        self.resolve_status.setTextFormat(Qt.TextFormat.PlainText)
        self.body.addWidget(self.resolve_status)
        self.resolver = ResolveRunner(self)
        self.resolver.finished.connect(self._resolved)
        self._resolve_timer = QTimer(self)
        self._resolve_timer.setSingleShot(True)
        self._resolve_timer.setInterval(RESOLVE_DELAY_MS)
        self._resolve_timer.timeout.connect(self.check_resolution)
        self.resolution: dict[str, dict[str, Any]] = {}
        self.fields = {
            "dependencies.requirements": self.table, "dependencies": self.table,
            "dependencies.requirements_file": self.requirements_file.edit, "python.version": self.python,
            "python.source": self.source, "python.archive": self.archive.edit, "python": self.python,
        }
        self.watch(self.requirements_file.edit, self.python, self.source, self.archive.edit)
        self.requirements_file.edit.textChanged.connect(self._show_file)
        self.table.itemChanged.connect(self._item_changed)
        self.add_button.clicked.connect(self.new_row)
        self.remove_button.clicked.connect(self.remove_rows)
        self.import_button.clicked.connect(self._import_clicked)
        self.source.currentIndexChanged.connect(self._sync_archive)
        self._sync_archive()
        self._requires: tuple[Path | None, str] = (None, "")
        self.offers: list[Offer] = []

    # --- does every requirement resolve for every platform, and from where? (`kiln resolve`, a child process) ------
    def on_edit(self, *args: object) -> None:
        super().on_edit(*args)
        if not self._loading:
            self._resolve_timer.start()  # once typing pauses

    def check_resolution(self) -> None:
        project = self.host.project
        if project is None:
            return
        try:
            requirements = read_requirements(project.dependencies, self.host.base_dir)
        except KilnError as error:
            self.resolve_status.setText(f"Cannot check the requirements: {error.message}")
            return
        if not requirements:
            self.resolver.stop()
            self.resolution = {}
            self.resolve_status.setText("No dependencies: nothing to download for any platform.")
            self.refresh_checks()
            return
        platforms = sorted({i.platform for i in project.active_installers()})
        self.resolution = {}
        systems = ", ".join(SYSTEMS.get(p, p) for p in platforms)
        self.resolve_status.setText(f"Asking the package index for the requirements' versions for {systems} "
                                    f"(Python {project.python.version})…")
        base = self.host.base_dir
        section = project.dependencies
        self.resolver.start(resolve_argv(
            requirements, platforms, project.python.version, index_args(section, base), lock=section.lock,
            # a lock's path is relative to the project file's folder (the first); "auto" looks in the source root first
            folders=[base / project.source.root, base][:: 1 if section.lock == "auto" else -1],
            extras=section.extras, lock_dir=base))
        self.refresh_checks()

    def _resolved(self, results: list[dict[str, Any]]) -> None:
        self.resolution = {str(r.get("platform")): r for r in results}
        self.refresh_checks()
        if [r.get("platform") for r in results] == ["all"]:  # the check itself could not run
            self.resolution = {}
            self.resolve_status.setText(f"Could not check the requirements: {plain(str(results[0].get('reason')))}")
            return
        lines = []
        for result in results:
            system = SYSTEMS.get(str(result.get("platform")), str(result.get("platform")))
            reason = plain(str(result.get("reason") or ""))
            if result.get("ok"):
                lines.append(f"✓ {system}: {shown_packages(result)}")
            elif result.get("checked") is False:  # the index could not be asked: neither ✓ nor ✗
                lines.append(f"– {system}: {reason}")
            else:
                lines.append(f"✗ {system}: {reason} — the build for it will fail; change the requirement or the "
                             "Python version, or untick that installer")
        self.resolve_status.setText("\n".join(lines))

    def missing_names(self) -> set[str]:
        """The requirement names the last check found not on the package index (canonical, as pip compares them)."""
        return {canonicalize_name(str(n)) for r in self.resolution.values() for n in r.get("missing") or []}

    def index_state(self, text: str) -> tuple[str, bool]:
        """What the package index said of one valid row: (words for the Check column, whether it is a problem)."""
        if self.resolver.running() or self._resolve_timer.isActive():
            return "✓ written correctly; asking the package index…", False
        if not self.resolution:
            return "✓ written correctly", False
        missing = self.missing_names()
        if canonicalize_name(Requirement(text).name) in missing:
            return "✗ not on the package index", True
        if missing:  # the index answered about the first names it could not find, nothing about the others
            return "– checked once the rows marked ✗ are fixed", False
        results = list(self.resolution.values())
        if any(r.get("checked") is False for r in results):
            return "– not checked (offline): the package index cannot be reached", False
        if all(r.get("ok") for r in results):
            return "✓ on the package index", False
        return "– see the answer for each system below", False

    def refresh_checks(self) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None:
                self.show_check(row, item.text())

    def cleanupPage(self) -> None:
        """Going Back keeps what was typed; a running check goes on and reports when the page is shown again."""

    # --- Python versions -------------------------------------------------------------------------------------------
    def set_requires_python(self, root: Path, requires_python: str) -> None:
        """The app's requires-python (from detection), for the folder it was read from."""
        self._requires = (root, requires_python)
        if self.host.project is not None:
            with self.loading():
                self.refresh_versions(self.host.project)

    def initializePage(self) -> None:
        project = self.host.project
        if project is None:
            return
        root = (self.host.base_dir / project.source.root).resolve()
        if self._requires[0] != root and root.is_dir():  # an opened project: read requires-python in the background
            self._requires = (root, "")
            run_in_background(self, lambda: detect(root, build_metadata=False).python_requires,
                              lambda spec: self.set_requires_python(root, spec), lambda _e: None)
        with self.loading():
            self.refresh_versions(project)
        self._resolve_timer.start()

    def refresh_versions(self, project: Project) -> None:
        """Offer the versions requires-python allows, each marked by whether the build needs a download."""
        spec = self._requires[1]
        current = project.python.version  # edits are committed as they happen: the project holds the choice
        platforms = {i.platform for i in project.active_installers()}
        self.offers = offers(spec, platforms, current)
        self.python.blockSignals(True)
        self.python.clear()
        self.python.values = [o.version for o in self.offers]
        self.python.addItems([o.label(spec) for o in self.offers])
        self.python.set_value(current)
        self.python.blockSignals(False)

    # --- model ---------------------------------------------------------------------------------------------------
    def load(self, project: Project) -> None:
        self.table.setRowCount(0)
        for requirement in project.dependencies.requirements:
            self._append(requirement)
        self.requirements_file.setText(project.dependencies.requirements_file)
        self._show_file()
        self.refresh_versions(project)
        source = project.python.source
        known = source in {value for value, _ in SOURCES[:3]}
        self.source.set_value(source if known else "archive")
        self.archive.setText("" if known else source)
        self._sync_archive()

    def requirements(self) -> list[str]:
        texts = (self.table.item(r, 0).text().strip() for r in range(self.table.rowCount()) if self.table.item(r, 0))
        return [t for t in texts if t]

    def patch(self) -> dict[str, Any]:
        source = self.source.value()
        if source == "archive":
            source = self.archive.text() or "archive"  # "archive" alone: Next asks for the file
        return {
            "dependencies": {"requirements": self.requirements(), "requirements_file": self.requirements_file.text()},
            "python": {"version": self.python.value() or PYTHON_VERSIONS[-1], "source": source},
        }

    def checks(self) -> list[Problem]:
        problems = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            text = item.text().strip() if item else ""
            if text and (reason := check_requirement(text)):
                problems.append(Problem("dependencies.requirements", f"row {row + 1} '{text}': {reason}",
                                        "fix or remove the row"))
            elif text and self.index_state(text)[1]:
                problems.append(Problem("dependencies.requirements", f"row {row + 1} '{text}': "
                                        f"{Requirement(text).name} is not on the package index",
                                        "check the spelling (the name it has on pypi.org), or remove the row"))
        if self.requirements_file.text() and not (self.host.base_dir / self.requirements_file.text()).is_file():
            problems.append(Problem("dependencies.requirements_file", "that file does not exist",
                                    "choose an existing requirements.txt or clear the field"))
        if self.source.value() == "archive":
            archive = self.archive.text()
            if not archive or not (self.host.base_dir / archive).is_file():
                problems.append(Problem("python.archive", "choose the Python archive file",
                                        "or pick another runtime source"))
        return problems

    # --- the table -----------------------------------------------------------------------------------------------
    def _append(self, text: str) -> int:
        row = self.table.rowCount()
        self.table.blockSignals(True)
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(text))
        check = QTableWidgetItem()
        check.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        self.table.setItem(row, 1, check)
        self.table.blockSignals(False)
        self.show_check(row, text)
        return row

    def show_check(self, row: int, text: str, editing: bool = False) -> None:
        """Mark a row valid or not, with the reason, as the user types.

        While a cell is being edited only the Check column changes: changing the edited item itself would make
        the view reload the editor from the model, losing what was typed.
        """
        item, check = self.table.item(row, 0), self.table.item(row, 1)
        if item is None or check is None:
            return
        text = text.strip()
        reason = check_requirement(text) if text else None
        if reason or not text:
            words, bad = (f"✗ {reason}", True) if reason else ("", False)
        elif editing:
            words, bad = "✓ written correctly", False  # the index is asked once typing pauses
        else:
            words, bad = self.index_state(text)
        self.table.blockSignals(True)
        check.setText(words)
        check.setToolTip(reason or words)
        brush = QBrush(ERROR_BASE) if bad else QBrush()
        if not editing:
            item.setBackground(brush)
        check.setBackground(brush)
        check.setForeground(QBrush(ERROR_TEXT) if bad else QBrush())
        self.table.blockSignals(False)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.show_check(item.row(), item.text())
            self.on_edit()

    def new_row(self, text: str = "") -> None:
        row = self._append(text if isinstance(text, str) else "")
        self.table.setCurrentCell(row, 0)
        self.table.setFocus()
        self.table.editItem(self.table.item(row, 0))

    def remove_rows(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)
        self.on_edit()

    def import_file(self, path: Path) -> int:
        """Add the requirements of `path` that are not listed yet; how many were added."""
        try:
            found = read_requirements_from(path)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            self.show_problems([Problem("dependencies", f"could not read {path.name}: {error}")])
            return 0
        present = set(self.requirements())
        added = [r for r in found if r not in present]
        for requirement in added:
            self._append(requirement)
        self.on_edit()
        return len(added)

    def _import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import requirements", str(self.host.base_dir),
            "Requirements or pyproject (requirements*.txt pyproject.toml);;All files (*)",
        )
        if path:
            self.import_file(Path(path))

    def _show_file(self, *_: object) -> None:
        """Say what the requirements file lists (read again at every build), or that it cannot be read."""
        text = self.requirements_file.text()
        path = self.host.base_dir / text if text else None
        if path is None or not path.is_file():
            self.file_note.setText("")
            self.file_note.hide()
            return
        try:
            listed = read_requirements_from(path)
        except (OSError, UnicodeDecodeError) as error:
            self.file_note.setText(f"{text} cannot be read: {error}")
        else:
            shown = ", ".join(listed) if listed else "nothing"
            self.file_note.setText(f"{text} lists: {shown} (read again at every build; edit the file to change them)")
        self.file_note.show()

    def _sync_archive(self) -> None:
        self.archive.setEnabled(self.source.value() == "archive")
