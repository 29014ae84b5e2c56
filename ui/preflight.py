"""The Build page's pre-flight: which installers will get no Python runtime (`kiln preflight`, in a child process:
it may ask the network), in plain words (the commands and addresses under Details), and a button that adds a runtime
archive to Kiln's cache (`kiln runtimes add`)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from PySide6.QtCore import QProcess, QProcessEnvironment, Qt
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from kiln.model.project import Project
from kiln.ui.plain_words import SYSTEMS, plain, sentence
from kiln.ui.resolve_runner import ResolveRunner
from kiln.ui.results_list import kind_title
from kiln.ui.widgets import DetailsBox, describe


def _issue_words(issue: dict[str, Any], version: str) -> str:
    """An installer that will get no Python, in plain words, with what to do (the engine's words go to Details)."""
    system = SYSTEMS.get(str(issue["platform"]), str(issue["platform"]))
    title = kind_title(str(issue["kind"]))
    message = str(issue.get("message") or "")
    if "cannot be downloaded" in message:
        offline = " (no connection to the internet)" if "(no connection" in plain(message) else ""
        return (f"The {title} for {system} cannot be built yet: it needs Python {version} for {system}, and Kiln has "
                f"none here and cannot download one{offline}. Choose a Python file for {system} that you have, or "
                "build on a computer that reaches the internet.")
    return f"The {title} for {system} cannot be built yet: {sentence(plain(message))}"


def preflight_argv(project_file: Path, base_dir: Path) -> list[str]:
    return [sys.executable, "-P", "-m", "kiln", "preflight", str(project_file), "--base-dir", str(base_dir),
            "--events", "jsonl"]


def add_runtime_argv(archive: Path, platform: str, version: str) -> list[str]:
    return [sys.executable, "-P", "-m", "kiln", "runtimes", "add", str(archive), "--platform", platform,
            "--version", version]


class RuntimePreflight(QWidget):
    """Hidden while every installer can get its runtime; else says which cannot and offers to add an archive."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setAccessibleName("Runtimes missing")
        self.choose = QPushButton("Choose a Python &file…")
        describe(self.choose, "Choose a Python runtime file", "Give Kiln a Python runtime archive you have (a "
                 "standalone Python's install_only archive, or python.org's embeddable zip for Windows): it is kept "
                 "in Kiln's cache, and the build needs no download.")
        self.choose.setAutoDefault(False)
        self.choose.clicked.connect(self.choose_archive)
        self.details = DetailsBox()
        row = QHBoxLayout()
        row.addWidget(self.message, 1)
        row.addWidget(self.choose, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.details)
        self.runner = ResolveRunner(self)  # runs a command in a child process and reads its JSON lines
        self.runner.finished.connect(self._checked)
        self.issues: list[dict[str, Any]] = []
        self._project: Project | None = None
        self._base_dir = Path.cwd()
        self._folder = tempfile.TemporaryDirectory(prefix="kiln-preflight-")
        self.adding: QProcess | None = None
        self.hide()

    def check(self, project: Project | None, base_dir: Path) -> None:
        """Ask again, for the project as it is now (saved or not: it is written to a temporary file)."""
        if project is None:
            self.hide()
            return
        self._project, self._base_dir = project, base_dir
        path = Path(self._folder.name) / "kiln.toml"
        path.write_text(tomlkit.dumps(project.to_data()), encoding="utf-8")
        self.runner.start(preflight_argv(path, base_dir))

    def _checked(self, results: list[dict[str, Any]]) -> None:
        self.issues = [r for r in results if "kind" in r and "platform" in r]
        if not self.issues:
            self.hide()
            return
        version = self._project.python.version if self._project else ""
        self.message.setText("\n".join(_issue_words(i, version) for i in self.issues))
        self.details.set_details("\n\n".join(f"{i['kind']} ({i['platform']}): {i['message']}\nFix: {i['hint']}"
                                             for i in self.issues))
        self.show()

    def choose_archive(self) -> None:
        """Ask for a runtime archive and add it to Kiln's cache (`kiln runtimes add`, a child process)."""
        if not self.issues or self._project is None:
            return
        platform = str(self.issues[0]["platform"])
        chosen, _ = QFileDialog.getOpenFileName(self, f"Choose a Python {self._project.python.version} runtime "
                                                f"for {platform}", str(Path.home()),
                                                "Runtime archives (*.tar.gz *.tar.zst *.zip);;All files (*)")
        if not chosen:
            return
        argv = add_runtime_argv(Path(chosen), platform, self._project.python.version)
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.remove("PYTHONPATH")
        process.setProcessEnvironment(environment)
        process.setWorkingDirectory(tempfile.gettempdir())
        process.finished.connect(lambda code, _status: self._added(process, code))
        self.adding = process
        self.message.setText(f"Adding {Path(chosen).name} for {platform}…")
        process.start(argv[0], argv[1:])

    def _added(self, process: QProcess, code: int) -> None:
        self.adding = None
        error = bytes(process.readAllStandardError().data()).decode("utf-8", "replace").strip()
        process.deleteLater()
        if code != 0:
            self.message.setText(f"The archive was not added: {error[-400:] or f'exit code {code}'}")
            return
        self.check(self._project, self._base_dir)
