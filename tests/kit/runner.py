"""The one way tests run Kiln's command line in a child process (`python -m kiln ARGS`), as users, CI and the
wizard do: the exit code, the output, and the events of `--events jsonl`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kiln.model.events import Event, JsonLinesReader


@dataclass(frozen=True)
class KilnRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Everything it printed, for assertion messages."""
        return self.stdout + self.stderr

    @property
    def events(self) -> list[Event]:
        """The events it printed with `--events jsonl`."""
        reader = JsonLinesReader()
        return reader.feed(self.stdout.encode()) + reader.flush()


def kiln(*args: str | Path, env: Mapping[str, str | None] | None = None, cwd: Path | None = None,
         inherit: bool = True, timeout: float = 600) -> KilnRun:
    """Run `python -m kiln ARGS` and wait for it (never longer than `timeout` seconds).

    `env` is laid over this process's environment (a None value removes the variable); with `inherit=False` it is the
    whole environment. `cwd` defaults to this process's working folder."""
    environment = dict(os.environ) if inherit else {}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    result = subprocess.run([sys.executable, "-m", "kiln", *map(str, args)], capture_output=True, encoding="utf-8",
                            errors="replace", cwd=cwd, env=environment, timeout=timeout, check=False)
    return KilnRun(result.returncode, result.stdout, result.stderr)
