"""Entry point page: what starts the app (detected or typed), GUI or console, and "Try it": the app as it ships.

"Try it" runs the bundle a build ships for this machine (staged by the engine in a child process, cached); "Run
from sources" is the quick developer run from the source folder, with the app's requirements in a virtual
environment Kiln keeps. Both can be stopped. Arguments are split like a shell does.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Protocol

import tomlkit
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QWidget,
)

from kiln.model.project import Project, is_todo
from kiln.model.project_file import ProjectFile
from kiln.source.checks import check_project
from kiln.source.detect import Detection, EntryCandidate, detect
from kiln.source.entry_lookup import missing_function, missing_in_project
from kiln.support.errors import Problem
from kiln.ui.field_map import page_for
from kiln.ui.page_ids import PageId
from kiln.ui.pages.base import KilnPage, ProjectHost
from kiln.ui.tryout_runner import TryRunner
from kiln.ui.widgets import DetailsBox, PathField, add_row, choose_folder, describe, display_path, make_form
from kiln.ui.worker import run_in_background


class EntryHost(ProjectHost, Protocol):
    def save_for_build(self) -> Path | None: ...


def split_args(text: str) -> list[str]:
    """The Arguments field split like a POSIX shell does (quotes group words); ValueError on an open quote."""
    return shlex.split(text)


def is_script(text: str) -> bool:
    return text.endswith(".py") or "/" in text or "\\" in text


class EntryPage(KilnPage):
    page_id = PageId.ENTRY

    def __init__(self, host: EntryHost) -> None:
        super().__init__(
            host,
            "Entry point",
            "Tell Kiln what starts your app; pick one Kiln found or type it, then try it before you build.",
        )
        self.entry_host = host
        form = make_form()
        self.root = PathField("The folder with your app's code", choose_folder("Choose the source folder"),
                              base=lambda: self.host.base_dir)
        add_row(form, "&Source folder:", self.root, "Where your code is, relative to the project file ('.' is the "
                "project file's folder).", buddy=self.root.edit)
        self.candidates = QListWidget()
        self.candidates.setMaximumHeight(96)
        add_row(form, "&Detected entry points:", self.candidates, "Ways to start the app that Kiln found in the "
                "source folder; pick one.")
        self.target = QLineEdit()
        self.target.setPlaceholderText("e.g. myapp.main:run, myapp (like python -m), or main.py")
        add_row(form, "&Module or script:", self.target, "A function (package.module:function), a package or module "
                "run like 'python -m', or a script file inside the source folder.")
        self.console = QRadioButton("&Console app (runs in a terminal)")
        self.gui = QRadioButton("&GUI app (opens windows, no terminal)")
        describe(self.console, "Console app", "The app prints to a terminal; installers open one for it.")
        describe(self.gui, "GUI app", "The app opens its own windows; no terminal or console window is shown.")
        group = QButtonGroup(self)
        group.addButton(self.console)
        group.addButton(self.gui)
        kinds = QWidget()
        row = QHBoxLayout(kinds)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.console)
        row.addWidget(self.gui)
        row.addStretch(1)
        form.addRow(QLabel("Kind:"), kinds)  # no buddy: each choice has its own mnemonic
        self.args = QLineEdit()
        self.args.setPlaceholderText('Optional arguments, split like a shell: -t "Hello from Kiln"')
        self.try_button = QPushButton("&Try it (as it ships)")
        self.try_button.setAutoDefault(False)
        describe(self.try_button, "Try it as it ships", "Save the project, prepare the app exactly as the installers "
                 "ship it for this computer (its Python, its dependencies; kept for the next try), run it with the "
                 "arguments and show what it prints.")
        self.dev_button = QPushButton("Run from s&ources")
        self.dev_button.setAutoDefault(False)
        describe(self.dev_button, "Run from sources", "Quick developer run: the entry point from the source folder, "
                 "with this computer's Python and your app's requirements (installed once in an environment Kiln "
                 "keeps; your edits show at the next run). Not what the installers ship: Try it runs that.")
        self.stop_button = QPushButton("Sto&p")
        self.stop_button.setAutoDefault(False)
        self.stop_button.setEnabled(False)
        describe(self.stop_button, "Stop", "Stop the run: the preparation, or the app.")
        try_row = QWidget()
        row = QHBoxLayout(try_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.args, 1)
        row.addWidget(self.try_button)
        row.addWidget(self.dev_button)
        row.addWidget(self.stop_button)
        add_row(form, "&Arguments:", try_row, "Arguments passed to the app when you press Try it (not saved).",
                buddy=self.args)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setMaximumBlockCount(2000)
        self.output.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.output.setPlaceholderText("What the app prints when you press Try it appears here.")
        add_row(form, "O&utput:", self.output, "Output of the last try run.")
        self.output_details = DetailsBox()  # what went wrong in technical terms (addresses, commands)
        form.addRow("", self.output_details)
        self.body.addLayout(form, 1)
        self.fields = {
            "source.root": self.root.edit, "source": self.root.edit, "entry.module": self.target,
            "entry.script": self.target, "entry": self.target, "entry.kind": self.console,
        }
        self.watch(self.root.edit, self.target, self.gui)
        self.candidates.currentItemChanged.connect(self._candidate_chosen)
        self.candidates.itemClicked.connect(self._candidate_chosen)  # the highlighted row, clicked again after an edit
        self.target.textEdited.connect(self._select_matching)
        self.root.edit.editingFinished.connect(self.refresh_candidates)
        self.try_button.clicked.connect(self.try_it)
        self.dev_button.clicked.connect(self.run_from_sources)
        self.stop_button.clicked.connect(self.stop)
        self.runner = TryRunner(self)
        self.runner.output.connect(self._append)
        self.runner.details.connect(self._details)
        self.runner.ended.connect(self._ended)
        self._candidates_for: Path | None = None
        self.found_entries: list[EntryCandidate] = []

    # --- model ---------------------------------------------------------------------------------------------------
    def load(self, project: Project) -> None:
        self.root.setText(project.source.root)
        text = project.entry.script or project.entry.module
        self.target.setText("" if is_todo(text) else text)
        (self.gui if project.entry.kind == "gui" else self.console).setChecked(True)
        self._select_matching()
        # Another project (Open…): the list is read again for its folder, at once when this page is showing; the
        # project's own entry is kept (it is not a pick from the old list).
        self._candidates_for = None
        self.found_entries = []
        wizard = self.wizard()
        if wizard is not None and wizard.currentPage() is self:
            self.refresh_candidates()

    def patch(self) -> dict[str, Any]:
        text = self.target.text().strip()
        script = text if text and is_script(text) else ""
        module = "" if script else (text or "TODO")
        entry = {"module": module, "script": script, "kind": "gui" if self.gui.isChecked() else "console"}
        return {"entry": entry, "source": {"root": self.root.text() or "."}}

    def source_root(self) -> Path:
        return (self.host.base_dir / (self.root.text() or ".")).resolve()

    def checks(self) -> list[Problem]:
        root = self.source_root()
        if not root.is_dir():
            return [Problem("source.root", f"the folder {root} does not exist", "choose the folder with your code")]
        text = self.target.text().strip()
        if not text:
            return [Problem("entry", "choose a detected entry point or type one, e.g. myapp.main:run or main.py")]
        if is_script(text) and not (root / text).is_file():
            return [Problem("entry.script", f"there is no file {text} in the source folder", "check the path")]
        if not is_script(text) and missing_in_project(root, text):
            module = text.split(":")[0]
            return [Problem("entry.module", f"there is no module {module} in your app's code",
                            "check the spelling, or pick one Kiln found")]
        if not is_script(text) and (function := missing_function(root, text)):
            return [Problem("entry.module", f"{text.split(':')[0]} has no function {function} (Kiln read the file "
                            "without running it)", "check the name after the ':', or pick one Kiln found")]
        return self.core_problems()

    def core_problems(self) -> list[Problem]:
        """What `kiln check` says about this page's fields: the core's own rules (a Python project's entry point is
        found in its wheel, e.g. under src/; loose files are looked up in the source folder)."""
        project = self.host.project
        if project is None:
            return []
        where = ProjectFile(path=self.host.base_dir / "kiln.toml", project=project, document=tomlkit.document())
        return [p for p in check_project(where) if page_for(p.location) == PageId.ENTRY]

    # --- detected candidates (detection reads files: always in the background) ----------------------------------
    def initializePage(self) -> None:
        self.refresh_candidates()

    def refresh_candidates(self) -> None:
        root = self.source_root()
        if root == self._candidates_for or not root.is_dir():
            return
        self._candidates_for = root
        self.candidates.blockSignals(True)
        self.candidates.clear()
        self.candidates.addItem(QListWidgetItem("(reading the source folder…)"))
        self.candidates.blockSignals(False)
        run_in_background(self, lambda: detect(root), lambda found: self._show_candidates(root, found), lambda _e: None)

    def use_detection(self, root: Path, found: Detection) -> None:
        """The Start page's detection, so the list is there without reading the folder again."""
        self._candidates_for = root
        self._show_candidates(root, found)

    def _show_candidates(self, root: Path, found: Detection) -> None:
        if root != self._candidates_for:
            return
        self.candidates.blockSignals(True)
        self.candidates.clear()
        # Candidates are kept in a Python list by row, not as item data (PySide mishandles empty item data).
        previous = {c.module or c.script for c in self.found_entries}
        self.found_entries = list(found.entries)
        for candidate in found.entries:
            # Detection's own label (from the metadata: console/GUI script, -m package, script); an entry whose
            # module is missing says so in its label and is never preselected.
            self.candidates.addItem(QListWidgetItem(candidate.label))
        if not found.entries:
            self.candidates.addItem(QListWidgetItem("(nothing found: type the entry point below)"))
        self.candidates.blockSignals(False)
        text = self.target.text().strip()
        names = {c.module or c.script for c in found.entries}
        if (not text or text in previous) and text not in names:
            # The entry came from the previous folder's list (or is empty): take this folder's best one instead
            # of keeping a name that no longer exists here.
            best = next((c for c in found.entries if c.verified), None)
            self.target.setText(best.module or best.script if best else "")
            if best is not None:
                (self.gui if best.kind == "gui" else self.console).setChecked(True)
        self._select_matching()

    def _select_matching(self, *_: object) -> None:
        text = self.target.text().strip()
        self.candidates.blockSignals(True)
        self.candidates.setCurrentRow(-1)
        for row, candidate in enumerate(self.found_entries):
            if text in (candidate.module, candidate.script):
                self.candidates.setCurrentRow(row)
        self.candidates.blockSignals(False)

    def _candidate_chosen(self, item: QListWidgetItem | None) -> None:
        row = self.candidates.row(item) if item is not None else -1
        candidate = self.found_entries[row] if 0 <= row < len(self.found_entries) else None
        if candidate is not None:
            self.target.setText(candidate.module or candidate.script)
            (self.gui if candidate.kind == "gui" else self.console).setChecked(True)

    # --- Try it ----------------------------------------------------------------------------------------------------
    def _args(self) -> list[str] | None:
        try:
            return split_args(self.args.text())
        except ValueError as error:
            self.output.setPlainText(f"Cannot read the arguments: {error} (close the quote, or put a \\ before it)")
            return None

    def try_it(self) -> None:
        """The app as it ships: the project is saved (the engine reads the file), then the engine stages and runs."""
        self.stop()
        args = self._args()
        if args is None or not self.validatePage():
            return
        path = self.entry_host.save_for_build()
        if path is None:
            self.output.setPlainText("Not run: the project could not be saved (see the message on the page).")
            return
        shown = " ".join([self.target.text().strip(), *map(shlex.quote, args)])
        self.output.setPlainText(f"Preparing {shown} as the installers ship it (the first time takes a while)…\n")
        self.output_details.set_details("")
        self._busy()
        self.runner.run_shipped(path, args)

    def run_from_sources(self) -> None:
        """The entry point from the source folder, with the app's requirements (installed once, kept by Kiln)."""
        self.stop()
        args = self._args()
        if args is None or not self.validatePage():
            return
        path = self.entry_host.save_for_build()
        if path is None:
            self.output.setPlainText("Not run: the project could not be saved (see the message on the page).")
            return
        shown = " ".join([self.target.text().strip(), *map(shlex.quote, args)])
        self.output.setPlainText(f"Preparing {shown} to run from {display_path(self.source_root())} with its "
                                 "requirements (the first time installs them)…\n")
        self.output_details.set_details("")
        self._busy()
        self.runner.run_sources(path, args)

    def _append(self, text: str) -> None:
        self.output.moveCursor(self.output.textCursor().MoveOperation.End)
        self.output.insertPlainText(text)
        self.output.ensureCursorVisible()

    def _details(self, text: str) -> None:
        earlier = self.output_details.details()
        self.output_details.set_details(f"{earlier}\n\n{text}" if earlier else text)

    def _ended(self, summary: str) -> None:
        if not self.output.toPlainText().endswith("\n"):
            self._append("\n")
        self._append(summary)
        self._idle()

    def _busy(self) -> None:
        self.try_button.setEnabled(False)
        self.dev_button.setEnabled(False)
        self.stop_button.setEnabled(True)

    def _idle(self) -> None:
        self.try_button.setEnabled(True)
        self.dev_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def stop(self) -> None:
        """Stop the preparation or the app (never waits on the GUI thread)."""
        if self.runner.stop() and not self.runner.engine.is_running():
            self._append("\n— stopped —")
            self._idle()

    def running(self) -> bool:
        return self.runner.running()
