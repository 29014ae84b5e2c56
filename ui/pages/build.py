"""Build page: a summary, then the build in a child process; progress with elapsed time per stage, the log (live
and as a file, with the previous builds' logs), each installer's outcome in plain words (with its fix as a button, and
Run / Stop, Open folder, Copy SHA-256), sizes, and where the AppImage runs.

When a project is opened, the results of its last build are read from the report in the output folder.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError
from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kiln.engine.log_history import keep_previous, previous_logs
from kiln.kinds import registry
from kiln.kinds.contract import RunHere
from kiln.model.events import Event
from kiln.model.project import Project, is_todo
from kiln.model.project_file import problems_from_validation
from kiln.ui.engine_process import EngineProcess
from kiln.ui.fix_actions import FixAction, apply_fix
from kiln.ui.linux_reach import linux_note
from kiln.ui.page_ids import PageId
from kiln.ui.pages.base import KilnPage, ProjectHost
from kiln.ui.plain_words import SYSTEMS, say
from kiln.ui.preflight import RuntimePreflight
from kiln.ui.results_list import Finding, InstallerResult, ResultsList, findings_of, kind_title
from kiln.ui.size_chart import SizeChart
from kiln.ui.widgets import DetailsBox, describe, display_path, note_label
from kiln.ui.worker import run_in_background

_SOURCE_WORDS = {"auto": "chosen for each system", "host": "this computer's", "download": "a standalone Python",
                 "embed": "python.org's embeddable Python"}
LOG_VIEW_LIMIT = 2_000_000  # characters of a log file shown in the viewer (the end, where failures are)


class BuildHost(ProjectHost, Protocol):
    def save_for_build(self) -> Path | None: ...
    def set_building(self, building: bool) -> None: ...
    def show_project_everywhere(self) -> None: ...


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setTabKeyNavigation(False)
    header = table.horizontalHeader()
    for column in range(len(headers) - 1):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


_FAILED = re.compile(r"^[\w-]+ \(([a-z0-9_-]+)\) failed: ")
"""How the engine begins an installer's failure: "msi (windows-x86_64) failed: …"."""


def _installers_of(data: dict[str, Any], message: str, stage: str, kinds: set[str], error: bool
                   ) -> list[tuple[str, str]]:
    """(kind, platform) of each installer an event is about: an error of an installer's stage (it failed), or a
    finding that names its installers (the bundle check's, per target); none when it is about the build."""
    named = data.get("installers")
    names = [str(k) for k in named] if isinstance(named, list) else [str(data.get("installer") or data.get("kind") or (
        stage if error and stage in kinds else ""))]
    platform = str(data.get("platform") or "")
    if not platform and (match := _FAILED.match(message)):
        platform = match.group(1)
    return [(kind, platform) for kind in names if kind in kinds]


def _result(kind: str, platform: str, built: bool, artifact: dict[str, Any], findings: list[Finding]
            ) -> InstallerResult:
    path = Path(str(artifact["path"])) if artifact.get("path") else None
    size = artifact.get("size")
    return InstallerResult(kind, platform or str(artifact.get("platform") or ""), built and path is not None, path,
                           int(size) if isinstance(size, int | float) else None, str(artifact.get("sha256") or ""),
                           findings)


def clock(seconds: float) -> str:
    """Elapsed time as people read it: 42 s, 3:05, 1:02:03."""
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def file_manager_available() -> bool:
    """Whether opening a folder can work here: Qt hands folders to xdg-open (or the desktop's portal)."""
    return shutil.which("xdg-open") is not None or shutil.which("gio") is not None


class BuildPage(KilnPage):
    page_id = PageId.BUILD

    def __init__(self, host: BuildHost) -> None:
        super().__init__(host, "Build", "Check the summary, then build: Kiln saves the project and makes every "
                         "installer you chose.")
        self.build_host = host
        self.setFinalPage(True)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Summary")
        self.body.addWidget(self.summary)
        self.preflight = RuntimePreflight(self)  # installers that will get no runtime, before the build says so
        self.body.addWidget(self.preflight)

        self.build_button = QPushButton("B&uild installers")
        self.cancel_button = QPushButton("Cancel bui&ld")
        self.show_log_button = QPushButton("Show lo&g")
        self.open_button = QPushButton("Open &folder")
        describe(self.build_button, "Build installers", "Save the project and build every installer (Ctrl+B).")
        describe(self.cancel_button, "Cancel build", "Stop the build; nothing half-written is left behind.")
        describe(self.show_log_button, "Show log", "Show the build's log file here, and where it is.")
        describe(self.open_button, "Open folder", "Show the output folder in your file manager.")
        for button in (self.build_button, self.cancel_button, self.show_log_button, self.open_button):
            button.setAutoDefault(False)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p%")
        self.progress.setValue(0)  # a fresh bar has no value and shows no text: it looked like an empty field
        describe(self.progress, "Overall progress", "How far the whole build is.")
        self.elapsed = QLabel("")
        describe(self.elapsed, "Elapsed time", "How long the build has been running.")
        self.status = QLabel("Not built yet.")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Build status")
        row = QHBoxLayout()
        row.addWidget(self.build_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.elapsed)
        row.addWidget(self.show_log_button)
        row.addWidget(self.open_button)
        self.body.addLayout(row)
        self.body.addWidget(self.status)

        self.stages = _table(["Stage", "Time", "Status"])
        describe(self.stages, "Stages", "Each step of the build, with how long it took (the running one counts up).")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setPlaceholderText("What the build does appears here, as it happens.")
        describe(self.log, "Build events", "What the build engine reports, as it happens.")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.stages)
        splitter.addWidget(self.log)
        splitter.setSizes([330, 600])
        self.results = ResultsList()
        self.results.run_clicked.connect(self.run_app)
        self.results.open_clicked.connect(self.open_folder)
        self.results.fix_clicked.connect(self.apply_fix)
        self.linux = note_label()
        self.linux.setAccessibleName("Where the AppImage runs")
        self.linux_details = DetailsBox()
        self.chart = SizeChart()
        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.addWidget(self.results)
        layout.addWidget(self.linux)
        layout.addWidget(self.linux_details)
        layout.addWidget(note_label("What takes the space in the app (by distribution):"))
        layout.addWidget(self.chart)
        layout.addStretch(1)
        results = QScrollArea()  # one row per installer, each as tall as its words need: the tab scrolls
        results.setWidget(inner)
        results.setWidgetResizable(True)
        results.setFrameShape(QFrame.Shape.NoFrame)
        self.log_path = note_label()
        self.log_path.setAccessibleName("Log file")
        self.log_choice = QComboBox()
        describe(self.log_choice, "Which build's log", "The log of this build, or of one of the builds before.")
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log_view.setPlaceholderText("The build's log file appears here after a build.")
        describe(self.log_view, "Log file contents", "Everything the build did, with the output of every tool.")
        log_tab = QWidget()
        layout = QVBoxLayout(log_tab)
        top = QHBoxLayout()
        top.addWidget(self.log_path, 1)
        top.addWidget(self.log_choice)
        layout.addLayout(top)
        layout.addWidget(self.log_view, 1)
        self.run_output = QPlainTextEdit()
        self.run_output.setReadOnly(True)
        self.run_output.setMaximumBlockCount(5000)
        self.run_output.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.run_output.setPlaceholderText("What the built app prints when you press Run appears here.")
        describe(self.run_output, "Output of the app", "What the built app printed when you pressed Run.")
        self.tabs = QTabWidget()
        self.tabs.addTab(splitter, "&Progress")
        self.tabs.addTab(results, "Re&sults")
        self.tabs.addTab(log_tab, "Log f&ile")
        self.tabs.addTab(self.run_output, "App &output")
        self.body.addWidget(self.tabs, 1)

        self.engine = EngineProcess(self)
        self.engine.events.connect(self.on_events)
        self.engine.finished.connect(self.on_finished)
        self.build_button.clicked.connect(self.start_build)
        self.cancel_button.clicked.connect(self.cancel_build)
        self.show_log_button.clicked.connect(self.show_log)
        self.open_button.clicked.connect(self.open_folder)
        self.log_choice.currentIndexChanged.connect(self._log_chosen)
        self.ticker = QTimer(self)
        self.ticker.setInterval(1000)
        self.ticker.timeout.connect(self._tick)
        self.result_status = ""
        self.report: dict[str, Any] = {}
        self.done_data: dict[str, Any] = {}
        self.installers: list[dict[str, Any]] = []
        self._built: list[dict[str, Any]] = []
        """The artifact events of the running build."""
        self._findings: dict[tuple[str, str], list[dict[str, Any]]] = {}
        """Findings events of the running build, by (kind, platform)."""
        self._started = 0.0
        self._stage_started: dict[str, float] = {}
        self._logs: list[Path] = []
        self.app_process: QProcess | None = None
        self.app_running: InstallerResult | None = None

    def initializePage(self) -> None:
        self.refresh_summary()
        if not self.engine.is_running():
            self.preflight.check(self.host.project, self.host.base_dir)

    def load(self, project: Project) -> None:
        self.refresh_summary()
        if not self.engine.is_running():
            self.show_last_build()

    def refresh_summary(self) -> None:
        project = self.host.project
        if project is None:
            self.summary.setText("")
            return
        entry = project.entry.module or project.entry.script
        deps = ", ".join(project.dependencies.requirements) or "none"
        if project.dependencies.requirements_file:
            deps += f" + {project.dependencies.requirements_file}"
        rows = [
            ("App", f"{project.app.title} {project.app.version}"
             + (" — has values still to fill in" if project.todo_fields() else "")),
            ("Starts with", f"{'' if is_todo(entry) else entry} ({project.entry.kind})"),
            ("Dependencies", deps),
            ("Python", f"{project.python.version} ({_SOURCE_WORDS.get(project.python.source, project.python.source)})"),
            ("Icon", project.icon.path or "Kiln's default icon"),
            ("Installers", ", ".join(f"{kind_title(i.kind)} for {SYSTEMS.get(i.platform, i.platform)}"
                                     for i in project.active_installers())),
            ("Written to", display_path(self.output_dir())),
        ]
        cells = "".join(f"<tr><td style='padding-right:12px'><b>{html.escape(k)}</b></td>"
                        f"<td>{html.escape(v)}</td></tr>" for k, v in rows)
        self.summary.setText(f"<table>{cells}</table>")

    def output_dir(self) -> Path:
        project = self.host.project
        return (self.host.base_dir / (project.build.output_dir if project else "dist")).resolve()

    def log_file(self) -> Path | None:
        project = self.host.project
        return self.output_dir() / f"{project.app.name}-build.log" if project is not None else None

    def report_file(self) -> Path | None:
        project = self.host.project
        return self.output_dir() / f"{project.app.name}-report.json" if project is not None else None

    # --- the build ---------------------------------------------------------------------------------------------
    def start_build(self) -> None:
        if self.engine.is_running():
            return
        path = self.build_host.save_for_build()
        if path is None:
            self.status.setText("Not built: save the project first (the build reads the saved file).")
            return
        self.stop_app()
        self.refresh_summary()
        self.stages.setRowCount(0)
        self.results.set_results([])
        self.log.clear()
        self.chart.set_sizes({})
        self.show_linux(None)
        self.progress.setValue(0)
        self.show_problems([])
        self.result_status, self.report, self.done_data, self.installers = "", {}, {}, []
        self._built, self._findings = [], {}
        self.tabs.setCurrentIndex(0)
        self.status.setText("Building…")
        self.build_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.build_host.set_building(True)
        log = self.log_file()
        if log is not None:
            try:
                keep_previous(log)  # the last builds' logs stay readable (NAME-build.1.log, …)
            except OSError as error:
                self.log.appendPlainText(f"could not keep the previous log: {error}")
        self._started = time.monotonic()
        self._stage_started = {}
        self.elapsed.setText(clock(0))
        self.ticker.start()
        self.engine.start(path)

    def cancel_build(self) -> None:
        if self.engine.is_running():
            self.status.setText("Cancelling… (removing what was half-written)")
            self.cancel_button.setEnabled(False)
            self.engine.cancel()

    def _tick(self) -> None:
        """Once a second: the build's elapsed time, and the running stages' time counting up."""
        now = time.monotonic()
        self.elapsed.setText(clock(now - self._started))
        for stage, started in self._stage_started.items():
            self._stage_row(stage, None, clock(now - started))

    def on_events(self, events: list[Event]) -> None:
        """One update per chunk of engine output; log lines are appended in one go."""
        lines: list[str] = []
        kinds = set(registry.kind_names())
        for event in events:
            if event.fraction is not None:
                self.progress.setValue(round(event.fraction * 1000))
            if event.kind == "stage-start" and event.stage:
                self._stage_started[event.stage] = time.monotonic()
                self._stage_row(event.stage, "running…", clock(0))
                self.status.setText(f"{event.message[:1].upper()}{event.message[1:]}…")
            elif event.kind == "stage-end" and event.stage:
                self._stage_started.pop(event.stage, None)
                self._stage_row(event.stage, "done", clock(float(event.data.get("seconds", 0))))
            elif event.kind == "progress" and event.stage:
                self._stage_row(event.stage, event.message or "running…", None)
            elif event.kind == "artifact":
                self._built.append(dict(event.data))
            elif event.kind == "done":
                self.done_data = dict(event.data)
            elif event.kind in ("error", "warning") and (
                    installers := _installers_of(event.data, event.message, event.stage, kinds, event.kind == "error")):
                # An installer's problem: said in its row of the results (the others go on).
                message = str(event.data.get("message") or event.message)
                finding = {"severity": event.kind, **event.data, "message": _FAILED.sub("", message)}
                for installer in installers:
                    self._findings.setdefault(installer, []).append(finding)
                if event.kind == "error" and event.stage:
                    self._stage_started.pop(event.stage, None)
                    self._stage_row(event.stage, "failed", None)
            elif event.kind == "error":
                if event.stage:
                    self._stage_started.pop(event.stage, None)
                    self._stage_row(event.stage, "failed", None)
                self._say_failure(event.message, str(event.data.get("hint") or ""),
                                  [str(p) for p in event.data.get("problems") or []])
            if event.kind in ("log", "warning", "error") or event.kind.startswith("stage"):
                prefix = {"warning": "warning: ", "error": "error: "}.get(event.kind, "")
                lines.append(f"{prefix}{event.message}")
        if lines:
            self.log.appendPlainText("\n".join(lines))

    def _say_failure(self, message: str, hint: str, problems: list[str]) -> None:
        """A failure of the whole build, in plain words below the page (the engine's words under Details)."""
        said = say(message, hint)
        lines = [f"Build failed: {said.text}", *problems] + ([f"What to do: {said.todo}"] if said.todo else [])
        previous = self.message.text() + "\n" if self.message.isVisible() and self.message.text() else ""
        self.message.setText(previous + "\n".join(lines))
        self.message.show()
        earlier = self.message_details.details()
        self.message_details.set_details("\n\n".join(d for d in (earlier, said.details) if d))

    def _stage_row(self, stage: str, status: str | None, seconds: str | None) -> None:
        found = self.stages.findItems(stage, Qt.MatchFlag.MatchExactly)
        rows = [item.row() for item in found if item.column() == 0]
        row = rows[0] if rows else self.stages.rowCount()
        if not rows:
            self.stages.insertRow(row)
            self.stages.setItem(row, 0, QTableWidgetItem(stage))
            self.stages.setItem(row, 1, QTableWidgetItem(""))
            self.stages.setItem(row, 2, QTableWidgetItem(""))
        if status is not None:
            self.stages.item(row, 2).setText(status)
        if seconds is not None:
            self.stages.item(row, 1).setText(seconds)

    def _show_results(self, outcomes: list[dict[str, Any]], artifacts: list[dict[str, Any]]) -> None:
        """One row per installer, built or not: the outcome joined with its artifact and what the build found."""
        by_path = {str(a.get("path")): a for a in artifacts}
        results = []
        for outcome in outcomes:
            artifact = by_path.pop(str(outcome.get("artifact")), {}) if outcome.get("artifact") else {}
            kind, platform = str(outcome.get("kind", "")), str(outcome.get("platform", ""))
            data = {**outcome, "findings": [*(outcome.get("findings") or []),
                                            *self._findings.get((kind, platform), [])]}
            results.append(_result(kind, platform, outcome.get("status") == "ok", artifact, findings_of(data)))
        for artifact in by_path.values():  # built, though no outcome names it (an older engine, missed events)
            results.append(_result(str(artifact.get("kind", "")), str(artifact.get("platform", "")), True, artifact,
                                   []))
        self.results.set_results(results)

    def on_finished(self, status: str, report: str) -> None:
        self.ticker.stop()
        if self._started:
            self.elapsed.setText(clock(time.monotonic() - self._started))
        self.result_status = status
        self.build_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.build_host.set_building(False)
        for row in range(self.stages.rowCount()):
            if self.stages.item(row, 2).text() not in ("done", "failed"):
                self.stages.item(row, 2).setText(status if status != "ok" else "done")
        self._stage_started = {}
        outcomes = [o for o in self.done_data.get("installers") or [] if isinstance(o, dict)]
        self.installers = outcomes
        if report:
            self._read_report(report)
        reported = [a for a in self.report.get("artifacts") or [] if isinstance(a, dict)]
        self._show_results(outcomes or self.report.get("installers") or [], reported or self._built)
        built = sum(r.built for r in self.results.results())
        total = self.results.count()
        folder = display_path(self.output_dir())
        if status == "ok":
            self.progress.setValue(1000)
            self.status.setText(f"Build finished: {built} installer(s) in {folder}.")
            self.tabs.setCurrentIndex(1)
        elif status == "cancelled":
            self.progress.setValue(0)
            if self.engine.finished_cleanly:
                self.status.setText("Build cancelled: nothing half-written was left behind.")
            else:  # the engine did not get to clean up: say so rather than promise a clean folder
                self.status.setText("Build cancelled, but the build engine stopped abruptly: temporary files "
                                    f"may be left in {folder}.")
        elif built:
            self.status.setText(f"Build partly failed: {built} of {total} installers built in {folder}; "
                                "the Results tab says why for the others, and what to do.")
            self.tabs.setCurrentIndex(1)
        elif total:
            self.status.setText("Build failed: no installer was built; the Results tab says why, and what to do.")
            self.tabs.setCurrentIndex(1)
        else:
            self.status.setText("Build failed: see the message below and the log (Show log).")
        self._refresh_logs(str(self.done_data.get("log") or ""))

    def _read_report(self, report: str) -> bool:
        try:
            self.report = json.loads(Path(report).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            self.log.appendPlainText(f"could not read the build report {report}: {error}")
            return False
        self.chart.set_report(self.report)  # sizes by distribution; pruned Qt also shows its unpruned size
        runtimes = self.report.get("runtimes") or {}
        linux = runtimes.get("linux-x86_64") if isinstance(runtimes, dict) else None
        kinds = {str(a.get("kind")) for a in self.report.get("artifacts") or [] if isinstance(a, dict)}
        runs_here = kinds & set(registry.runnable_kinds())
        self.show_linux(linux if isinstance(linux, dict) and runs_here else None)
        return True

    def show_linux(self, runtime: dict[str, Any] | None) -> None:
        """Where the AppImage runs, in plain words; the glibc version it needs under Details."""
        text, details = linux_note(runtime) if runtime is not None else ("", "")
        self.linux.setText(text)
        self.linux_details.set_details(details)

    def show_last_build(self) -> None:
        """A reopened project shows its last build: the report and log in the output folder, if any."""
        self.results.set_results([])
        self.chart.set_sizes({})
        self.show_linux(None)
        self.report, self.installers = {}, []
        self._built, self._findings = [], {}
        self.message.hide()
        self.message_details.set_details("")
        report = self.report_file()
        if report is None or not report.is_file() or not self._read_report(str(report)):
            self.status.setText("Not built yet.")
            self._refresh_logs("")
            return
        outcomes = [o for o in self.report.get("installers") or [] if isinstance(o, dict)]
        self.installers = outcomes
        self._show_results(outcomes, [a for a in self.report.get("artifacts") or [] if isinstance(a, dict)])
        when = datetime.fromtimestamp(report.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        built = sum(r.built for r in self.results.results())
        total = self.results.count()
        state = "finished" if self.report.get("status") == "ok" else "failed"
        self.status.setText(f"Last build ({when}) {state}: {built} of {total} installer(s) in "
                            f"{display_path(self.output_dir())}. Build again to refresh them.")
        self._refresh_logs("")
        self.tabs.setCurrentIndex(1)

    # --- a fix the build proposed --------------------------------------------------------------------------------
    def apply_fix(self, fix: FixAction) -> None:
        """Change the project as the fix says (saved with the next build), and say so."""
        project = self.host.project
        if project is None or self.engine.is_running():
            return
        try:
            changed = apply_fix(project, fix)
        except ValidationError as error:
            problems = problems_from_validation(error)
            self.status.setText(f"Could not apply “{fix.label}”: {problems[0] if problems else error}")
            return
        self.host.commit(changed)
        self.build_host.show_project_everywhere()
        self.status.setText(f"Done: {fix.explain} Press Build installers to build with it.")

    # --- the log file ------------------------------------------------------------------------------------------
    def _refresh_logs(self, current: str) -> None:
        log = Path(current) if current else self.log_file()
        self._logs = previous_logs(log) if log is not None else []
        self.log_choice.blockSignals(True)
        self.log_choice.clear()
        for number, path in enumerate(self._logs):
            when = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            self.log_choice.addItem(f"{'This build' if number == 0 else 'Earlier build'} ({when})")
        self.log_choice.blockSignals(False)
        self.log_choice.setEnabled(bool(self._logs))
        self.show_log_button.setEnabled(bool(self._logs))
        if self._logs:
            self._log_chosen(0)
        else:
            self.log_path.setText("No build log yet: it is written into the output folder by each build.")
            self.log_view.clear()

    def _log_chosen(self, index: int) -> None:
        if not 0 <= index < len(self._logs):
            return
        path = self._logs[index]
        self.log_path.setText(f"Log file: {display_path(path)}")
        self.log_path.setToolTip(str(path))
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            text = f"could not read {path}: {error.strerror or error}"
        self.log_view.setPlainText(text[-LOG_VIEW_LIMIT:])
        self.log_view.moveCursor(self.log_view.textCursor().MoveOperation.End)

    def show_log(self) -> None:
        if not self._logs:
            self._refresh_logs("")
        self.tabs.setCurrentIndex(2)
        if self._logs:
            self._log_chosen(self.log_choice.currentIndex() if self.log_choice.currentIndex() >= 0 else 0)

    # --- Run the built app -------------------------------------------------------------------------------------
    def runnable(self) -> InstallerResult | None:
        """The built installer that runs here, of the first kind in the registry's order whose artifacts do (the
        AppImage, else the portable folder's archive)."""
        results = [r for r in self.results.results() if r.runs_here]
        order = registry.runnable_kinds()
        return min(results, key=lambda r: order.index(r.kind), default=None)

    def run_app(self, result: InstallerResult | None = None) -> None:
        """Start what `result` built (the first runnable one by default); pressed again while it runs: stop it."""
        result = result or self.runnable()
        if result is None or result.path is None:
            return
        if self.app_running is not None:
            running = self.app_running
            self.stop_app()
            if running is result:
                return
        runner = registry.runner_for(result.kind)
        if runner is None:
            return
        path = result.path
        self.tabs.setCurrentIndex(3)
        self.app_running = result
        self._show_running()
        self.run_output.setPlainText(f"▶ {display_path(path)}\n")
        scratch = Path(tempfile.mkdtemp(prefix="kiln-run-"))  # for a kind that unpacks its artifact to run it
        run_in_background(self, lambda: runner(path, scratch), lambda run: self._start_app(run, path, scratch),
                          self._run_failed)

    def _show_running(self) -> None:
        for row in self.results.rows:
            row.set_running(row.result is self.app_running)

    def _run_failed(self, error: Exception) -> None:
        self.run_output.appendPlainText(f"could not get it ready to run: {error}")
        self.app_running = None
        self._show_running()

    def _start_app(self, run: RunHere, artifact: Path, scratch: Path) -> None:
        with contextlib.suppress(OSError):
            scratch.rmdir()  # only when nothing was unpacked into it
        if self.app_running is None or self.app_running.path != artifact:
            return  # stopped (or another one started) while it was being readied
        program, extra = run.program, run.env
        if program != artifact:
            self.run_output.appendPlainText(f"▶ {display_path(program)}")
        os.chmod(program, os.stat(program).st_mode | 0o100)
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        for key, value in extra.items():
            environment.insert(key, value)
        process.setProcessEnvironment(environment)
        process.setWorkingDirectory(str(Path.home()))
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._app_output)
        process.finished.connect(self._app_finished)
        process.errorOccurred.connect(self._app_error)
        self.app_process = process
        process.start(str(program), [])

    def _app_output(self) -> None:
        if self.app_process is not None:
            text = bytes(self.app_process.readAllStandardOutput().data()).decode("utf-8", errors="replace")
            self.run_output.moveCursor(self.run_output.textCursor().MoveOperation.End)
            self.run_output.insertPlainText(text)

    def _app_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._app_output()
        ended = "stopped" if status == QProcess.ExitStatus.CrashExit else f"exited with code {code}"
        self.run_output.appendPlainText(f"— the app {ended} —")
        self._drop_app()

    def _app_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.app_process is not None:
            self.run_output.appendPlainText(f"— could not start it: {self.app_process.errorString()} —")
            self._drop_app()

    def _drop_app(self) -> None:
        if self.app_process is not None:
            self.app_process.deleteLater()
            self.app_process = None
        self.app_running = None
        self._show_running()

    def stop_app(self) -> None:
        """Stop the app started with Run (its window, or a console app that does not end by itself)."""
        process, self.app_process = self.app_process, None
        was_running = self.app_running is not None
        self.app_running = None
        self._show_running()
        if process is not None and process.state() != QProcess.ProcessState.NotRunning:
            process.finished.disconnect(self._app_finished)
            process.finished.connect(process.deleteLater)
            process.kill()
        if was_running:
            self.run_output.appendPlainText("— stopped —")

    # --- the output folder -------------------------------------------------------------------------------------
    def open_folder(self) -> None:
        folder = self.output_dir()
        if not folder.is_dir():
            self.status.setText(f"{display_path(folder)} does not exist yet: build first.")
        elif not file_manager_available() or not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.status.setText(f"No file manager could be opened here. The installers are in {folder}")
        else:
            self.status.setText(f"Opened {display_path(folder)} in the file manager.")
