"""The build engine as a child process: `python -P -m kiln build FILE --events jsonl`, its events as Qt signals."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from kiln.model.events import Event, JsonLinesReader

KILL_AFTER_MS = 5000  # how long a cancelled engine gets to clean up before it is killed


def engine_argv(project: Path) -> list[str]:
    """The engine's command line (the wizard never builds in its own process).

    `-P` keeps the working directory off sys.path, so an `app/`, `kiln.py` or `kiln/` in the user's folder can
    never be imported in place of Kiln; the project is passed as an absolute path because the engine does not
    run in the project's folder either (see `EngineProcess.start`).
    """
    return [sys.executable, "-P", "-m", "kiln", "build", str(project.resolve()), "--events", "jsonl"]


class EngineProcess(QObject):
    """Runs one build at a time; emits each event as it arrives, and exactly one `finished(status, report)`."""

    event = Signal(object)
    """A kiln.model.events.Event."""
    events = Signal(list)
    """All events of one chunk of output, for views that update once per chunk (cheaper with many log lines)."""
    finished = Signal(str, str)
    """status ok|failed|cancelled, and the build report's path ('' when there is none)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process: QProcess | None = None
        self._reader = JsonLinesReader()
        self._stderr = b""
        self._done: Event | None = None
        self._cancelled = False
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)

    @property
    def finished_cleanly(self) -> bool:
        """Whether the last build ended with the engine's own `done` event (not a crash or a kill)."""
        return self._done is not None

    def is_running(self) -> bool:
        return self._process is not None

    def pid(self) -> int:
        return int(self._process.processId()) if self._process is not None else 0

    def start(self, project: Path, argv: list[str] | None = None) -> None:
        """Build `project`; `argv` replaces the engine's command line (tests use a stand-in engine)."""
        if self._process is not None:
            raise RuntimeError("a build is already running")
        self._reader, self._stderr, self._done, self._cancelled = JsonLinesReader(), b"", None, False
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        # Kiln is installed (or installed editable); a PYTHONPATH naming the user's folder must not shadow it.
        environment.remove("PYTHONPATH")
        environment.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(environment)
        # Not the project's folder: the engine resolves every path from the project file, never from here.
        process.setWorkingDirectory(tempfile.gettempdir())
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self._process = process
        argv = argv or engine_argv(project)
        process.start(argv[0], argv[1:])

    def cancel(self) -> None:
        """SIGTERM (the engine removes partial output and reports `cancelled`), then kill if it lingers."""
        if self._process is None:
            return
        self._cancelled = True
        self._process.terminate()
        self._kill_timer.start(KILL_AFTER_MS)

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if event.kind == "done":
                self._done = event
            self.event.emit(event)
        if events:
            self.events.emit(events)

    def _read_stdout(self) -> None:
        if self._process is not None:
            self._dispatch(self._reader.feed(bytes(self._process.readAllStandardOutput().data())))

    def _read_stderr(self) -> None:
        if self._process is None:
            return
        # Python warnings or a crash: shown in the log, and the tail explains a failure without a `done` event.
        self._stderr += bytes(self._process.readAllStandardError().data())
        *lines, self._stderr = self._stderr.split(b"\n")
        self._dispatch([Event("log", line.decode("utf-8", "replace")) for line in lines if line.strip()])

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._dispatch([Event("error", f"could not start the build engine ({self._process.errorString()})")])
            self._end("failed", "")

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        self._read_stderr()
        rest = self._reader.flush()
        if self._stderr.strip():
            rest.append(Event("log", self._stderr.decode("utf-8", "replace")))
        self._dispatch(rest)
        if self._done is not None:
            result = str(self._done.data.get("status", "failed"))
            self._end(result, str(self._done.data.get("report", "") or ""))
            return
        if self._cancelled:
            self._end("cancelled", "")
        else:
            ended = "crashed" if status == QProcess.ExitStatus.CrashExit else f"exited with code {code}"
            self._dispatch([Event("error", f"the build engine {ended} without finishing the build")])
            self._end("failed", "")

    def _end(self, status: str, report: str) -> None:
        self._kill_timer.stop()
        process, self._process = self._process, None
        if process is not None:
            process.deleteLater()
        self.finished.emit(status, report)
