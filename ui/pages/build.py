"""Build page: a summary, then the build in a child process with progress, log, Cancel, artifacts and sizes."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kiln.model.events import Event
from kiln.model.project import Project, is_todo
from kiln.support.sizes import human_size
from kiln.ui.engine_process import EngineProcess
from kiln.ui.page_ids import PageId
from kiln.ui.pages.base import KilnPage, ProjectHost
from kiln.ui.size_chart import SizeChart
from kiln.ui.widgets import describe, display_path, note_label


class BuildHost(ProjectHost, Protocol):
    def save_for_build(self) -> Path | None: ...
    def set_building(self, building: bool) -> None: ...


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

        self.build_button = QPushButton("B&uild installers")
        self.cancel_button = QPushButton("Cancel bui&ld")
        self.open_button = QPushButton("Open &folder")
        describe(self.build_button, "Build installers", "Save the project and build every installer (Ctrl+B).")
        describe(self.cancel_button, "Cancel build", "Stop the build; nothing half-written is left behind.")
        describe(self.open_button, "Open folder", "Show the output folder in your file manager.")
        for button in (self.build_button, self.cancel_button, self.open_button):
            button.setAutoDefault(False)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p%")
        self.progress.setValue(0)  # a fresh bar has no value and shows no text: it looked like an empty field
        describe(self.progress, "Overall progress", "How far the whole build is.")
        self.status = QLabel("Not built yet.")
        self.status.setAccessibleName("Build status")
        row = QHBoxLayout()
        row.addWidget(self.build_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.open_button)
        self.body.addLayout(row)
        self.body.addWidget(self.status)

        self.stages = _table(["Stage", "Time", "Status"])
        describe(self.stages, "Stages", "Each step of the build, with how long it took.")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setPlaceholderText("What the build does appears here, as it happens.")
        describe(self.log, "Build log", "What the build engine reports, as it happens.")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.stages)
        splitter.addWidget(self.log)
        splitter.setSizes([330, 600])
        self.artifacts = _table(["Installer", "File", "Size", "SHA-256"])
        describe(self.artifacts, "Artifacts", "The installers the build wrote, with size and SHA-256 checksum.")
        self.chart = SizeChart()
        results = QWidget()
        layout = QVBoxLayout(results)
        layout.addWidget(self.artifacts, 1)
        layout.addWidget(note_label("What takes the space in the app bundle:"))
        layout.addWidget(self.chart)
        self.tabs = QTabWidget()
        self.tabs.addTab(splitter, "&Progress")
        self.tabs.addTab(results, "&Results")
        self.body.addWidget(self.tabs, 1)

        self.engine = EngineProcess(self)
        self.engine.events.connect(self.on_events)
        self.engine.finished.connect(self.on_finished)
        self.build_button.clicked.connect(self.start_build)
        self.cancel_button.clicked.connect(self.cancel_build)
        self.open_button.clicked.connect(self.open_folder)
        self.result_status = ""
        self.report: dict[str, object] = {}

    def initializePage(self) -> None:
        self.refresh_summary()

    def load(self, project: Project) -> None:
        self.refresh_summary()

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
            ("Python", f"{project.python.version} ({project.python.source})"),
            ("Icon", project.icon.path or "Kiln's default icon"),
            ("Installers", ", ".join(i.kind for i in project.installer)),
            ("Written to", display_path(self.output_dir())),
        ]
        cells = "".join(f"<tr><td style='padding-right:12px'><b>{html.escape(k)}</b></td>"
                        f"<td>{html.escape(v)}</td></tr>" for k, v in rows)
        self.summary.setText(f"<table>{cells}</table>")

    def output_dir(self) -> Path:
        project = self.host.project
        return (self.host.base_dir / (project.build.output_dir if project else "dist")).resolve()

    # --- the build ---------------------------------------------------------------------------------------------
    def start_build(self) -> None:
        if self.engine.is_running():
            return
        path = self.build_host.save_for_build()
        if path is None:
            self.status.setText("Not built: save the project first (the build reads the saved file).")
            return
        self.refresh_summary()
        self.stages.setRowCount(0)
        self.artifacts.setRowCount(0)
        self.log.clear()
        self.chart.set_sizes({})
        self.progress.setValue(0)
        self.show_problems([])
        self.result_status, self.report = "", {}
        self.tabs.setCurrentIndex(0)
        self.status.setText("Building…")
        self.build_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.build_host.set_building(True)
        self.engine.start(path)

    def cancel_build(self) -> None:
        if self.engine.is_running():
            self.status.setText("Cancelling… (removing what was half-written)")
            self.cancel_button.setEnabled(False)
            self.engine.cancel()

    def on_events(self, events: list[Event]) -> None:
        """One update per chunk of engine output; log lines are appended in one go."""
        lines: list[str] = []
        for event in events:
            if event.fraction is not None:
                self.progress.setValue(round(event.fraction * 1000))
            if event.kind == "stage-start" and event.stage:
                self._stage_row(event.stage, "running…", "")
                self.status.setText(f"{event.message[:1].upper()}{event.message[1:]}…")
            elif event.kind == "stage-end" and event.stage:
                self._stage_row(event.stage, "done", f"{float(event.data.get('seconds', 0)):.1f} s")
            elif event.kind == "progress" and event.stage:
                self._stage_row(event.stage, event.message or "running…", None)
            elif event.kind == "artifact":
                self._add_artifact(event.data)
            elif event.kind == "error":
                hint = event.data.get("hint")
                problems = event.data.get("problems") or []
                self.message.setText("\n".join([f"Build failed: {event.message}", *map(str, problems)]
                                               + ([f"What to do: {hint}"] if hint else [])))
                self.message.show()
            if event.kind in ("log", "warning", "error") or event.kind.startswith("stage"):
                prefix = {"warning": "warning: ", "error": "error: "}.get(event.kind, "")
                lines.append(f"{prefix}{event.message}")
        if lines:
            self.log.appendPlainText("\n".join(lines))

    def _stage_row(self, stage: str, status: str, seconds: str | None) -> None:
        found = self.stages.findItems(stage, Qt.MatchFlag.MatchExactly)
        rows = [item.row() for item in found if item.column() == 0]
        row = rows[0] if rows else self.stages.rowCount()
        if not rows:
            self.stages.insertRow(row)
            self.stages.setItem(row, 0, QTableWidgetItem(stage))
            self.stages.setItem(row, 1, QTableWidgetItem(""))
            self.stages.setItem(row, 2, QTableWidgetItem(""))
        self.stages.item(row, 2).setText(status)
        if seconds is not None:
            self.stages.item(row, 1).setText(seconds)

    def _add_artifact(self, data: dict[str, object]) -> None:
        path = Path(str(data.get("path", "")))
        row = self.artifacts.rowCount()
        self.artifacts.insertRow(row)
        values = [str(data.get("kind", "")), path.name, human_size(float(str(data.get("size", 0)))),
                  str(data.get("sha256", ""))]
        for column, value in enumerate(values):
            item = QTableWidgetItem(value)
            item.setToolTip(str(path) if column == 1 else value)
            self.artifacts.setItem(row, column, item)

    def on_finished(self, status: str, report: str) -> None:
        self.result_status = status
        self.build_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.build_host.set_building(False)
        for row in range(self.stages.rowCount()):
            if self.stages.item(row, 2).text() not in ("done",):
                self.stages.item(row, 2).setText(status if status != "ok" else "done")
        if status == "ok":
            self.progress.setValue(1000)
            count = self.artifacts.rowCount()
            self.status.setText(f"Build finished: {count} installer(s) in {display_path(self.output_dir())}.")
            self._read_report(report)
            self.tabs.setCurrentIndex(1)
        elif status == "cancelled":
            self.progress.setValue(0)
            if self.engine.finished_cleanly:
                self.status.setText("Build cancelled: nothing half-written was left behind.")
            else:  # the engine did not get to clean up: say so rather than promise a clean folder
                self.status.setText("Build cancelled, but the build engine stopped abruptly: temporary files "
                                    f"may be left in {display_path(self.output_dir())}.")
        else:
            self.status.setText("Build failed: see the message below and the log.")

    def _read_report(self, report: str) -> None:
        if not report:
            return
        try:
            self.report = json.loads(Path(report).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            self.log.appendPlainText(f"could not read the build report {report}: {error}")
            return
        sizes = self.report.get("size_by_component")
        if isinstance(sizes, dict):
            self.chart.set_sizes({str(k): int(v) for k, v in sizes.items()})
        if self.artifacts.rowCount() == 0:  # the report is the reference when events were missed
            for artifact in self.report.get("artifacts") or []:  # type: ignore[attr-defined]
                self._add_artifact(artifact)

    def open_folder(self) -> None:
        folder = self.output_dir()
        if folder.is_dir():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        else:
            self.status.setText(f"{display_path(folder)} does not exist yet: build first.")
