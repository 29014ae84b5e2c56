"""Helpers shared by the tests: real external tools are required in CI and skipped (with a reason) elsewhere."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
"""The repository's root (tests find examples/, resources/ and docs/ from here)."""


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must install them)")
    pytest.skip(message)


def require_tools(*names: str) -> None:
    """Every tool in `names` must be on PATH."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        _missing(f"missing tools: {', '.join(missing)}")


def find_tool(*names: str) -> str:
    """The first of `names` on PATH (alternatives such as 7z / 7zz)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    _missing(f"missing tool: {' or '.join(names)}")
    raise AssertionError("unreachable")


def unpack_portable(archive: Path, dest: Path) -> None:
    """Unpack a portable .tar.zst with GNU tar and zstd (readers independent of Kiln's; every zstd frame)."""
    require_tools("tar", "zstd")
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "--zstd", "-xf", str(archive), "-C", str(dest)], check=True, capture_output=True,
                   timeout=300)


class StageRecorder:
    """A stage's reporter for installer tests: keeps every fraction, message (progress and log) and warning."""

    def __init__(self) -> None:
        self.fractions: list[float] = []
        self.messages: list[str] = []
        self.warnings: list[str] = []

    def progress(self, fraction: float, message: str = "") -> None:
        self.fractions.append(fraction)
        self.messages.append(message)

    def log(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def live_group_members(pgid: int) -> list[int]:
    """Processes of process group `pgid` that are still running (zombies, already ended, are left out)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        state, _ppid, group = text[text.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def wait_until_group_gone(pgid: int, patience: float = 30.0) -> list[int]:
    """Wait (at most `patience` seconds: SIGKILLed processes end at once, but not in the same instant) for
    process group `pgid` to have no running member; returns the members still running then."""
    import time

    give_up = time.monotonic() + patience
    while (members := live_group_members(pgid)) and time.monotonic() < give_up:
        time.sleep(0.1)
    return members


def run_in_group(argv: list[str], *, timeout: float, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    """subprocess.run(argv, capture_output=True) in a process group of its own, the whole group killed when
    `timeout` passes (then TimeoutExpired, as subprocess.run): a program that starts helpers (Wine starts
    wineserver and its services) leaves none running after a test gives up on it."""
    import signal

    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0,
                          **kwargs) as process:  # type: ignore[call-overload]
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
