"""A build backend that never returns: cancelling ends it, and the stage's time limit stops it with a clear message.

pip runs the backend in a process of its own (`_in_process.py`), a child of pip: stopping pip alone left the
backend running. The backend here writes its process group and then sleeps for an hour; each test checks that
no process of that group is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kit.testing import REPO, wait_until_group_gone

from kiln.model.events import JsonLinesReader
from kiln.source.app_wheel import build_app_wheel
from kiln.support import tools
from kiln.support.errors import BuildCancelled, TimedOut

UNREACHABLE = "http://127.0.0.1:9/mirror"  # python-build-standalone's mirror: refused at once (no GitHub here)

BACKEND = '''
import os, time
from pathlib import Path

def _hang():
    marker = Path(os.environ["KILN_TEST_BACKEND_GROUP"])
    marker.with_suffix(".tmp").write_text(str(os.getpgid(0)))
    marker.with_suffix(".tmp").replace(marker)
    time.sleep(3600)

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _hang()

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _hang()
'''
PYPROJECT = """\
[build-system]
requires = []
build-backend = "hanging_backend"
backend-path = ["."]

[project]
name = "sleepy"
version = "1.0"
"""


@pytest.fixture
def sleepy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Python project whose in-tree backend hangs; KILN_TEST_BACKEND_GROUP names the file it writes."""
    folder = tmp_path / "sleepy"
    (folder / "sleepy").mkdir(parents=True)
    (folder / "sleepy" / "__init__.py").write_text("def main():\n    print('hi')\n")
    (folder / "hanging_backend.py").write_text(BACKEND)
    (folder / "pyproject.toml").write_text(PYPROJECT)
    monkeypatch.setenv("KILN_TEST_BACKEND_GROUP", str(tmp_path / "backend-group"))
    return folder


def backend_group(tmp_path: Path, process: subprocess.Popen[bytes] | None = None) -> int:
    """The backend's process group, once it has started (it takes pip a few seconds)."""
    marker = tmp_path / "backend-group"
    for _ in range(1200):
        if marker.is_file():
            return int(marker.read_text())
        if process is not None and process.poll() is not None:
            raise AssertionError(f"kiln ended before the backend started: {process.stdout.read()!r}")  # type: ignore[union-attr]
        time.sleep(0.1)
    raise AssertionError("the backend never started")


@pytest.mark.long  # bash .ci/long
@pytest.mark.slow  # the limit must leave pip time to start the backend, even on a busy machine
def test_the_stage_time_limit_stops_the_backend(sleepy: Path, tmp_path: Path) -> None:
    with tools.time_limit("dependencies", 30), pytest.raises(TimedOut) as caught:
        build_app_wheel(sleepy, tmp_path / "wheels")
    assert caught.value.message == ("the dependencies stage ran out of time after 30 s ([build] timeout): building "
                                    "the app's wheel from sleepy was still running and was stopped")
    group = backend_group(tmp_path)
    assert group != os.getpgid(0)
    assert wait_until_group_gone(group) == []


def test_cancel_ends_the_backend(sleepy: Path, tmp_path: Path) -> None:
    groups: list[int] = []

    def cancel_once_the_backend_runs() -> None:
        groups.append(backend_group(tmp_path))
        tools.cancel_requested.set()

    tools.cancel_requested.clear()
    canceller = threading.Thread(target=cancel_once_the_backend_runs)
    canceller.start()
    try:
        with pytest.raises(BuildCancelled):
            build_app_wheel(sleepy, tmp_path / "wheels")
    finally:
        canceller.join()
        tools.cancel_requested.clear()
    assert wait_until_group_gone(groups[0]) == []


def _kiln_build(sleepy: Path, tmp_path: Path, timeout: int) -> subprocess.Popen[bytes]:
    (sleepy / "kiln.toml").write_text(f'[app]\nname = "sleepy"\nversion = "1.0"\n[entry]\nmodule = "sleepy:main"\n'
                                      f'[build]\ntimeout = {timeout}\n[[installer]]\nkind = "portable"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO), "KILN_CACHE_DIR": str(tmp_path / "cache"),
           "PBS_INSTALLER_BASE_URL": UNREACHABLE}
    return subprocess.Popen([sys.executable, "-m", "kiln", "build", str(sleepy / "kiln.toml"), "--events", "jsonl"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)


@pytest.mark.slow
def test_sigterm_to_kiln_build_leaves_no_backend(sleepy: Path, tmp_path: Path) -> None:
    """What the wizard's Cancel does: SIGTERM to the engine."""
    with _kiln_build(sleepy, tmp_path, timeout=3600) as build:
        group = backend_group(tmp_path, build)
        build.send_signal(signal.SIGTERM)
        output, _ = build.communicate(timeout=120)
    events = JsonLinesReader().feed(output)
    assert events[-1].kind == "done" and events[-1].data["status"] == "cancelled"
    assert build.returncode == 130
    assert wait_until_group_gone(group) == []


@pytest.mark.long  # bash .ci/long
@pytest.mark.slow
def test_kiln_build_stops_a_hung_backend_at_the_time_limit(sleepy: Path, tmp_path: Path) -> None:
    with _kiln_build(sleepy, tmp_path, timeout=30) as build:
        output, _ = build.communicate(timeout=600)
    events = JsonLinesReader().feed(output)
    errors = [e.message for e in events if e.kind == "error"]
    assert errors == ["portable (linux-x86_64) failed: the dependencies stage ran out of time after 30 s "
                      "([build] timeout): the app's build backend (PEP 517 build_wheel) was still running and was "
                      "stopped"]  # one error: the runtime stage beside it has a time limit of its own
    assert "raise [build] timeout" in next(e for e in events if e.kind == "error").data["hint"]
    assert build.returncode == 1
    assert wait_until_group_gone(backend_group(tmp_path)) == []
