"""The Build page's results: one row per installer, readable at any window size — the file's name and size, or why
it was not built (in plain words, with a button for the fix where there is one) — with Run / Open folder / Copy
SHA-256 beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from kiln.kinds import registry
from kiln.support.errors import KilnError
from kiln.support.sizes import human_size
from kiln.ui.fix_actions import FixAction, fix_action
from kiln.ui.plain_words import SYSTEMS, say, sentence
from kiln.ui.widgets import ERROR_TEXT, DetailsBox, describe


@dataclass
class Finding:
    """A problem the build found with one installer (the bundle check's findings, or its failure)."""

    message: str
    hint: str = ""
    fix: FixAction | None = None
    blocking: bool = True
    """False for a warning: the installer was built, but something deserves a look."""


@dataclass
class InstallerResult:
    """One installer of a build: made or not, its file, and what the build found."""

    kind: str
    platform: str
    built: bool
    path: Path | None = None
    size: int | None = None
    sha256: str = ""
    findings: list[Finding] = field(default_factory=list)

    @property
    def title(self) -> str:
        return kind_title(self.kind)

    @property
    def system(self) -> str:
        return SYSTEMS.get(self.platform, self.platform)

    @property
    def runs_here(self) -> bool:
        return self.built and self.kind in registry.runnable_kinds() and self.path is not None and self.path.is_file()


def kind_title(kind: str) -> str:
    """'AppImage', 'MSI', 'DMG', 'Portable archive (.tar.zst)': the kind's own title, without its pitch."""
    try:
        return registry.spec(kind).title.replace("&", "").split(":")[0]
    except KilnError:  # a kind this Kiln does not know (an old report): its name is all there is
        return kind


def findings_of(data: dict[str, Any]) -> list[Finding]:
    """The findings an installer's outcome or event carries: its failure message and hint, and each finding of the
    bundle check (`findings`/`problems`: text, or objects with message, fix and a machine-readable action)."""
    found: list[Finding] = []
    for item in [*(data.get("findings") or []), *(data.get("problems") or [])]:
        if isinstance(item, dict):
            message = str(item.get("message") or "")
            if message and all(message != f.message for f in found):
                found.append(Finding(message, str(item.get("fix") or item.get("hint") or ""),
                                     fix_action(item.get("action"), str(item.get("label") or "")),
                                     item.get("severity", "error") != "warning"))
        elif str(item):
            found.append(Finding(str(item)))
    message = str(data.get("message") or "")
    if message and all(message != f.message for f in found) and data.get("status") not in ("ok", "built"):
        found.insert(0, Finding(message, str(data.get("hint") or ""), fix_action(data.get("action"), "")))
    return found


class InstallerRow(QFrame):
    """One installer: name and size (or why not), its buttons, its findings with their fixes and Details."""

    run_clicked = Signal(object)
    """The InstallerResult to run (or stop, when it runs)."""
    open_clicked = Signal()
    fix_clicked = Signal(object)
    """A FixAction."""

    def __init__(self, result: InstallerResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        self.setFrameShape(QFrame.Shape.StyledPanel)
        system = SYSTEMS.get(result.platform, result.platform)
        self.name = QLabel(result.path.name if result.built and result.path else f"{result.title} for {system}")
        bold = QFont(self.name.font())
        bold.setBold(True)
        self.name.setFont(bold)
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.name.setWordWrap(True)
        self.name.setToolTip(str(result.path or ""))
        blocking = [f for f in result.findings if f.blocking]
        warned = ", with a warning" if result.findings else ""
        state = f"✓ built{warned}" if result.built else "✗ not built"
        facts = [state, f"{result.title} for {system}"]
        if result.built and result.size is not None:
            facts.append(human_size(float(result.size)))
        self.status = QLabel(" · ".join(facts))
        self.status.setAccessibleName("Result")
        self.run_button = QPushButton("Run")
        self.open_button = QPushButton("Open folder")
        self.copy_button = QPushButton("Copy SHA-256")
        describe(self.run_button, f"Run the {result.title}", "Start it here as your users will, and show what it "
                 "prints in the App output tab; press again to stop it.")
        describe(self.open_button, "Open folder", "Show the output folder in your file manager.")
        describe(self.copy_button, "Copy SHA-256", f"Copy the file's SHA-256 checksum ({result.sha256 or 'none'}) "
                 "to share with your users, so they can check their download.")
        for button in (self.run_button, self.open_button, self.copy_button):
            button.setAutoDefault(False)
        self.run_button.setVisible(result.runs_here)
        self.copy_button.setVisible(result.built and bool(result.sha256))
        self.open_button.setVisible(result.built)
        self.run_button.clicked.connect(lambda: self.run_clicked.emit(self.result))
        self.open_button.clicked.connect(self.open_clicked.emit)
        self.copy_button.clicked.connect(self.copy_sha256)

        top = QHBoxLayout()
        names = QVBoxLayout()
        names.setSpacing(2)
        names.addWidget(self.name)
        names.addWidget(self.status)
        top.addLayout(names, 1)
        for button in (self.run_button, self.open_button, self.copy_button):
            top.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem.setAccessibleName("What the build found")
        if blocking:
            palette = self.problem.palette()
            palette.setColor(QPalette.ColorRole.WindowText, ERROR_TEXT)
            self.problem.setPalette(palette)
        self.fix_buttons: list[QPushButton] = []
        self.details = DetailsBox()
        lines, details = [], []
        for finding in result.findings:
            said = say(finding.message, finding.hint)
            lines.append(sentence(said.text))
            if said.todo and not finding.fix:
                lines.append(f"What to do: {said.todo}")
            if said.details:
                details.append(said.details)
            if finding.fix is not None:
                button = QPushButton(finding.fix.label)
                button.setAutoDefault(False)
                describe(button, finding.fix.label, f"{finding.fix.explain} Then build again.")
                button.clicked.connect(lambda _=False, fix=finding.fix: self.fix_clicked.emit(fix))
                self.fix_buttons.append(button)
        self.problem.setText("\n".join(lines))
        self.problem.setVisible(bool(lines))
        layout.addWidget(self.problem)
        if self.fix_buttons:
            fixes = QHBoxLayout()
            for button in self.fix_buttons:
                fixes.addWidget(button)
            fixes.addStretch(1)
            layout.addLayout(fixes)
        if result.built:
            details.append(f"File: {result.path}\nSHA-256: {result.sha256}")
        self.details.set_details("\n\n".join(details))
        layout.addWidget(self.details)

    def set_running(self, running: bool) -> None:
        self.run_button.setText("Stop" if running else "Run")
        describe(self.run_button, "Stop the app" if running else f"Run the {self.result.title}",
                 "Stop the app started from this installer." if running else "Start it here as your users will.")

    def copy_sha256(self) -> None:
        QGuiApplication.clipboard().setText(self.result.sha256)
        self.copy_button.setText("Copied")


class ResultsList(QWidget):
    """The rows, top to bottom in the build's order; a line of text when there are none."""

    run_clicked = Signal(object)
    open_clicked = Signal()
    fix_clicked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Installers built")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.empty = QLabel("No installers yet: press Build installers.")
        self._layout.addWidget(self.empty)
        self._layout.addStretch(1)
        self.rows: list[InstallerRow] = []

    def set_results(self, results: list[InstallerResult]) -> None:
        for row in self.rows:
            self._layout.removeWidget(row)
            row.deleteLater()
        self.rows = []
        for index, result in enumerate(results):
            row = InstallerRow(result)
            row.run_clicked.connect(self.run_clicked.emit)
            row.open_clicked.connect(self.open_clicked.emit)
            row.fix_clicked.connect(self.fix_clicked.emit)
            self._layout.insertWidget(index, row)
            self.rows.append(row)
        self.empty.setVisible(not results)

    def results(self) -> list[InstallerResult]:
        return [row.result for row in self.rows]

    def row_for(self, kind: str) -> InstallerRow | None:
        return next((row for row in self.rows if row.result.kind == kind), None)

    def count(self) -> int:
        return len(self.rows)
