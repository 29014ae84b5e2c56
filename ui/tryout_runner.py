"""The Entry page's two runs, as child processes: the app as it ships (`kiln try`), and a dev run from the sources
(`kiln try --from-sources`).

"As it ships": the engine (`python -P -m kiln try --events jsonl FILE`, a child process like the build) stages
the bundle the installers wrap (the same runtime, dependencies and boot; cached) and names the command in its
`done` event; this object then starts that command and shows what the app prints. When nothing changed since the
last try, the check is made here, on a worker thread, and the app starts at once (no engine to start on a busy
machine). "From sources": the entry point run from the source folder with the app's requirements, in a virtual
environment the engine makes once and keeps (kiln.engine.devenv).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from kiln.engine.engine import default_cache_dir
from kiln.engine.tryout import TryBundle, reusable
from kiln.model.events import Event
from kiln.model.project_file import load_project
from kiln.ui.engine_process import EngineProcess
from kiln.ui.plain_words import say
from kiln.ui.worker import run_in_background


def try_argv(project: Path, args: list[str], from_sources: bool = False) -> list[str]:
    """The engine's command that prepares the shipped bundle, or the sources' environment (the app's args are only
    echoed back in `argv`)."""
    mode = ["--from-sources"] if from_sources else []
    return [sys.executable, "-P", "-m", "kiln", "try", *mode, "--events", "jsonl", str(project.resolve()), "--",
            *args]


def _reusable(project: Path) -> TryBundle | None:
    """The last try's bundle when nothing changed (asked on a worker thread; any doubt: None, and the engine
    decides)."""
    try:
        return reusable(load_project(project), default_cache_dir())
    except Exception:  # an unreadable project: the engine says what is wrong with it, in its words
        return None


class TryRunner(QObject):
    """One run at a time; `output(text)` as the app (or the preparation) prints, `details(text)` for what went wrong
    in technical terms, and `ended(summary)` once."""

    output = Signal(str)
    details = Signal(str)
    ended = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = EngineProcess(self)
        self.engine.events.connect(self._engine_events)
        self.engine.finished.connect(self._prepared)
        self.process: QProcess | None = None
        self._ready: dict[str, object] = {}
        self._from_sources = False
        self._checking: tuple[Path, list[str]] | None = None

    def running(self) -> bool:
        return self._checking is not None or self.engine.is_running() or (
            self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning)

    # --- as it ships ---------------------------------------------------------------------------------------------
    def run_shipped(self, project: Path, args: list[str]) -> None:
        self._ready, self._from_sources = {}, False
        request = (project, args)
        self._checking = request
        run_in_background(self, lambda: _reusable(project), lambda found: self._checked(request, found),
                          lambda _e: self._checked(request, None))

    def _checked(self, request: tuple[Path, list[str]], bundle: TryBundle | None) -> None:
        if self._checking is not request:
            return  # stopped meanwhile
        self._checking = None
        project, args = request
        if bundle is None:
            self.engine.start(project, try_argv(project, args))
            return
        self.output.emit("▶ the app as it ships (unchanged since the last try: reused)\n")
        self._start(bundle.argv(args), None, bundle.env(base={}), clean=False)

    # --- from sources --------------------------------------------------------------------------------------------
    def run_sources(self, project: Path, args: list[str]) -> None:
        self._ready, self._from_sources = {}, True
        self.engine.start(project, try_argv(project, args, from_sources=True))

    # --- the engine's preparation --------------------------------------------------------------------------------
    def _engine_events(self, events: list[Event]) -> None:
        lines, details = [], []
        for event in events:
            if event.kind == "done":
                self._ready = dict(event.data)
            elif event.kind == "stage-start":
                lines.append(f"… {event.message}")
            elif event.kind == "warning":  # about the installers (e.g. which Linux versions the bundle reaches)
                details.append(f"warning: {event.message}")
            elif event.kind == "error":
                said = say(event.message, str(event.data.get("hint") or ""))
                problems = [f"  {p}" for p in event.data.get("problems") or []]
                lines += [f"Cannot prepare the app: {said.text}", *problems]
                lines += [f"What to do: {said.todo}"] if said.todo else []
                details += [said.details] if said.details else []
        if lines:
            self.output.emit("\n".join(lines) + "\n")
        if details:
            self.details.emit("\n\n".join(details))

    def _prepared(self, status: str, _report: str) -> None:
        argv = self._ready.get("argv")
        if status != "ok" or not isinstance(argv, list):
            self.ended.emit("— not run: the app could not be prepared (see above) —"
                            if status != "cancelled" else "— stopped —")
            return
        reused = self._ready.get("reused")
        if self._from_sources:
            python = self._ready.get("python", "")
            kept = " (its requirements unchanged: reused)" if reused else ""
            self.output.emit(f"▶ from sources, with Python {python} and the app's requirements{kept}\n")
        else:
            self.output.emit(f"▶ the app as it ships{' (unchanged since the last try: reused)' if reused else ''}\n")
        extra = self._ready.get("env")
        cwd = self._ready.get("cwd")
        self._start([str(a) for a in argv], Path(str(cwd)) if cwd else None,
                    dict(extra) if isinstance(extra, dict) else {}, clean=False)

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
        if self._checking is not None:
            self._checking = None
            return True
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
