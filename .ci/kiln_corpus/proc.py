"""Child processes with a time limit that always ends them: each runs in its own process group, output goes to files
(a pipe held open by a grandchild would hang the reader), and a process still running at its limit is ended with
its whole group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Ran:
    """What one child process did."""

    argv: tuple[str, ...]
    returncode: int | None
    """None: still running at its time limit (then ended)."""
    stdout: str
    stderr: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def end_group(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM to the process's group, SIGKILL after `grace` seconds if anything of it is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            with contextlib.suppress(ProcessLookupError):  # the leader is gone; children of the group may not be
                os.killpg(process.pid, signal.SIGKILL)
        return


def run(argv: Sequence[str | Path], *, timeout: float, logs: Path, env: Mapping[str, str] | None = None,
        cwd: Path | None = None) -> Ran:
    """Run `argv` to its end or to `timeout` seconds; stdout and stderr are kept in `logs`.out / `logs`.err."""
    args = tuple(str(a) for a in argv)
    logs.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs.with_name(logs.name + ".out"), logs.with_name(logs.name + ".err")
    start = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd,
                                   env=dict(env) if env is not None else None, start_new_session=True)
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        end_group(process)  # also what the child left behind in its group
    seconds = time.monotonic() - start
    return Ran(args, code, _text(out_path), _text(err_path), seconds)


def start(argv: Sequence[str | Path], *, logs: Path, env: Mapping[str, str], cwd: Path | None = None
          ) -> subprocess.Popen[bytes]:
    """Start `argv` in its own process group with its output in `logs`.out / `logs`.err (for GUI apps, which are
    watched while they run and then ended with `end_group`)."""
    logs.parent.mkdir(parents=True, exist_ok=True)
    with logs.with_name(logs.name + ".out").open("wb") as out, logs.with_name(logs.name + ".err").open("wb") as err:
        return subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd,
                                env=dict(env), start_new_session=True)


def session_commands(session: int) -> list[str]:
    """The command lines of the processes of `session` (a child started by `start` leads its own session)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session ...
            if int(fields[3]) == session:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace"))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
    return found


def read_logs(logs: Path) -> tuple[str, str]:
    return _text(logs.with_name(logs.name + ".out")), _text(logs.with_name(logs.name + ".err"))


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace") if path.is_file() else ""


def first_error_line(text: str) -> str:
    """The line that says what went wrong: a traceback's last line (the exception), else the first non-empty line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        return lines[-1]
    return lines[0]


def one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
