"""The Entry page's two runs, as child processes: the app as it ships (`kiln try`), and a dev run from the sources.

"As it ships": the engine (`python -P -m kiln try --events jsonl FILE`, a child process like the build) stages
the bundle the installers wrap (the same runtime, dependencies and boot; cached) and names the command in its
`done` event; this object then starts that command and shows what the app prints. "From sources": the entry
point run by the Python that runs Kiln, with the source folder on the import path (quick, but with Kiln's own
packages instead of the shipped ones).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from kiln.model.events import Event
from kiln.ui.engine_process import EngineProcess


def try_argv(project: Path, args: list[str]) -> list[str]:
    """The engine's command that prepares the shipped bundle (the app's args are only echoed back in `argv`)."""
    return [sys.executable, "-P", "-m", "kiln", "try", "--events", "jsonl", str(project.resolve()), "--", *args]


class TryRunner(QObject):
    """One run at a time; `output(text)` as the app (or the preparation) prints, `ended(summary)` once."""

    output = Signal(str)
    ended = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = EngineProcess(self)
        self.engine.events.connect(self._engine_events)
        self.engine.finished.connect(self._prepared)
        self.process: QProcess | None = None
        self._ready: dict[str, object] = {}

    def running(self) -> bool:
        return self.engine.is_running() or (
            self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning)

    # --- as it ships ---------------------------------------------------------------------------------------------
    def run_shipped(self, project: Path, args: list[str]) -> None:
        self._ready = {}
        self.engine.start(project, try_argv(project, args))

    def _engine_events(self, events: list[Event]) -> None:
        lines = []
        for event in events:
            if event.kind == "done":
                self._ready = dict(event.data)
            elif event.kind == "stage-start":
                lines.append(f"… {event.message}")
            elif event.kind == "warning":
                lines.append(f"warning: {event.message}")
            elif event.kind == "error":
                hint = event.data.get("hint")
                problems = [f"  {p}" for p in event.data.get("problems") or []]
                lines += [f"Cannot prepare the app: {event.message}", *problems] + ([f"What to do: {hint}"]
                                                                                    if hint else [])
        if lines:
            self.output.emit("\n".join(lines) + "\n")

    def _prepared(self, status: str, _report: str) -> None:
        argv = self._ready.get("argv")
        if status != "ok" or not isinstance(argv, list):
            self.ended.emit("— not run: the app could not be prepared (see above) —"
                            if status != "cancelled" else "— stopped —")
            return
        reused = " (unchanged since the last try: reused)" if self._ready.get("reused") else ""
        self.output.emit(f"▶ the app as it ships{reused}\n")
        extra = self._ready.get("env")
        self._start([str(a) for a in argv], None, dict(extra) if isinstance(extra, dict) else {}, clean=False)

    # --- from sources --------------------------------------------------------------------------------------------
    def run_sources(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self._start(argv, cwd, env, clean=True)

    # --- the app's process ---------------------------------------------------------------------------------------
    def _start(self, argv: list[str], cwd: Path | None, env: dict[str, str], clean: bool) -> None:
        process = QProcess(self)
        environment = QProcessEnvironment() if clean else QProcessEnvironment.systemEnvironment()
        for key, value in env.items():
            environment.insert(str(key), str(value))
        process.setProcessEnvironment(environment)
        if cwd is not None:
            process.setWorkingDirectory(str(cwd))
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._read)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._failed_to_start)
        self.process = process
        process.start(argv[0], argv[1:])

    def _read(self) -> None:
        if self.process is not None:
            self.output.emit(bytes(self.process.readAllStandardOutput().data()).decode("utf-8", errors="replace"))

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read()
        ended = "stopped" if status == QProcess.ExitStatus.CrashExit else f"exited with code {code}"
        self._drop()
        self.ended.emit(f"— the app {ended} —")

    def _failed_to_start(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._drop()
            self.ended.emit("— could not start Python —")

    def _drop(self) -> None:
        if self.process is not None:
            self.process.deleteLater()
            self.process = None

    def stop(self) -> bool:
        """Stop the preparation or kill the app (never waits on the GUI thread); True when something ran."""
        if self.engine.is_running():
            self.engine.cancel()
            return True
        process, self.process = self.process, None
        if process is not None and process.state() != QProcess.ProcessState.NotRunning:
            process.readyReadStandardOutput.disconnect(self._read)
            process.finished.disconnect(self._finished)
            process.finished.connect(process.deleteLater)
            process.kill()
            return True
        return False
