"""The Dependencies page's background check: `kiln resolve` in a child process (uv never runs in the wizard's
process), one result per target platform."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal


def resolve_argv(requirements: list[str], platforms: list[str], python: str, index: list[str], *,
                 lock: str = "none", folders: Sequence[Path] = (), extras: Sequence[str] = (),
                 lock_dir: Path | None = None) -> list[str]:
    """`kiln resolve` for the page: `lock` and `folders` find the developer's lock, `lock_dir` holds Kiln's."""
    argv = [sys.executable, "-P", "-m", "kiln", "resolve", "--events", "jsonl", "--python", python]
    for platform in platforms:
        argv += ["--platform", platform]
    argv += ["--lock", lock, *(a for f in folders for a in ("--folder", str(f))),
             *(a for e in extras for a in ("--extra", e))]
    if lock_dir is not None:
        argv += ["--lock-dir", str(lock_dir)]
    return [*argv, *index, "--", *requirements]


class ResolveRunner(QObject):
    """One check at a time; a new request replaces a running one. `finished(results)`: a list of dicts."""

    finished = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None

    def running(self) -> bool:
        return self.process is not None

    def start(self, argv: list[str]) -> None:
        self.stop()
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.remove("PYTHONPATH")
        process.setProcessEnvironment(environment)
        process.setWorkingDirectory(tempfile.gettempdir())
        process.finished.connect(lambda *_: self._done(process))
        self.process = process
        process.start(argv[0], argv[1:])

    def _done(self, process: QProcess) -> None:
        if process is not self.process:
            return
        self.process = None
        try:
            out = bytes(process.readAllStandardOutput().data()).decode("utf-8", "replace")
            error = bytes(process.readAllStandardError().data()).decode("utf-8", "replace").strip()
            process.deleteLater()
        except RuntimeError:  # the page (and its process) went away with the window: nobody to tell
            return
        results = []
        for line in out.splitlines():
            try:
                results.append(json.loads(line))
            except ValueError:
                continue
        if not results:
            results = [{"platform": "all", "ok": False, "packages": [], "reason": error[-300:] or "the check failed"}]
        self.finished.emit(results)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.state() != QProcess.ProcessState.NotRunning:
            process.finished.connect(process.deleteLater)
            process.kill()
