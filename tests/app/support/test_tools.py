"""The external-command wrapper: clear errors, logged output, timeouts, and cancellation that kills the tool and
whatever it started (its process group)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kit.testing import wait_until_group_gone

from kiln.support import tools
from kiln.support.errors import BuildCancelled, TimedOut, ToolFailed, ToolMissing
from kiln.support.progress import run_with_progress


def test_missing_tool_names_the_debian_package(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing) as caught:
        tools.run(["strip", "x"])
    assert caught.value.hint == "install it with: sudo apt-get install binutils"
    monkeypatch.setitem(tools.DEBIAN_PACKAGES, "other-tool", "other-package")  # as an installer kind declares it
    with pytest.raises(ToolMissing) as caught:
        tools.require("other-tool")
    assert caught.value.hint == "install it with: sudo apt-get install other-package"


def test_failure_shows_the_tail_of_the_output() -> None:
    with pytest.raises(ToolFailed) as caught:
        tools.run(["sh", "-c", "echo first; echo 'the reason' >&2; exit 3"], what="doing a thing")
    assert "doing a thing failed (exit 3)" in caught.value.message and "the reason" in caught.value.message


def test_input_output_and_env_overlay() -> None:
    result = tools.run(["sh", "-c", 'cat; printf "%s" "$KILN_TEST_VALUE"'], input_bytes=b"in|",
                       env={"KILN_TEST_VALUE": "a b"})
    assert result.stdout == b"in|a b"


def test_timeout_stops_the_tool() -> None:
    started = time.monotonic()
    with pytest.raises(ToolFailed, match="took longer than"):
        tools.run(["sleep", "30"], timeout=0.5)
    assert time.monotonic() - started < 10


def test_cancel_kills_the_running_tool() -> None:
    tools.cancel_requested.clear()
    timer = threading.Timer(0.5, tools.cancel_requested.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(BuildCancelled):
            tools.run(["sleep", "30"])
    finally:
        tools.cancel_requested.clear()
        timer.cancel()
    assert time.monotonic() - started < 10


# A command that starts a helper of its own and waits for it, as pip waits for the build backend it starts.
# It writes the helper's process group (the group `sleep` was started in) once the helper runs.
_PARENT_AND_HELPER = 'sleep 300 & ps -o pgid= -p "$!" > "$1.tmp" && mv "$1.tmp" "$1"; wait'


def _helper_group(pid_file: Path) -> int:
    """The helper's process group, once the command has written it."""
    for _ in range(600):
        if pid_file.is_file():
            return int(pid_file.read_text())
        time.sleep(0.05)
    raise AssertionError("the command never started its helper")


def test_cancel_ends_the_commands_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "helper.pid"
    groups: list[int] = []

    def cancel_once_started() -> None:
        groups.append(_helper_group(pid_file))
        tools.cancel_requested.set()

    tools.cancel_requested.clear()
    canceller = threading.Thread(target=cancel_once_started)
    canceller.start()
    try:
        with pytest.raises(BuildCancelled):
            tools.run(["sh", "-c", _PARENT_AND_HELPER, "sh", pid_file])
    finally:
        canceller.join()
        tools.cancel_requested.clear()
    (group,) = groups
    assert group != os.getpgid(0)  # the command ran in a group of its own, not Kiln's
    assert wait_until_group_gone(group) == []


def test_stage_time_limit_stops_the_command_and_its_helpers(tmp_path: Path) -> None:
    pid_file = tmp_path / "helper.pid"
    with tools.time_limit("dependencies", 1), pytest.raises(TimedOut) as caught:
        tools.run(["sh", "-c", _PARENT_AND_HELPER, "sh", pid_file], what="pip install")
    message = caught.value.message
    assert "dependencies stage ran out of time after 1 s ([build] timeout)" in message
    assert "pip install was still running and was stopped" in message
    assert "[build] timeout" in (caught.value.hint or "")
    assert wait_until_group_gone(_helper_group(pid_file)) == []


def test_the_stage_limit_applies_to_commands_with_progress(tmp_path: Path) -> None:
    pid_file = tmp_path / "helper.pid"
    with tools.time_limit("appimage", 1), pytest.raises(TimedOut, match="appimage stage ran out of time"):
        run_with_progress(["sh", "-c", _PARENT_AND_HELPER, "sh", pid_file], lambda line: None, lambda f: None,
                          "creating the AppImage payload")
    assert wait_until_group_gone(_helper_group(pid_file)) == []


def test_a_commands_own_shorter_timeout_still_applies_inside_a_stage() -> None:
    with tools.time_limit("payload", 3600), pytest.raises(ToolFailed, match="took longer than"):
        tools.run(["sleep", "30"], timeout=0.5)


def test_check_time_raises_once_the_stage_is_over() -> None:
    with tools.time_limit("runtime", 0.2):
        tools.check_time()
        time.sleep(0.3)
        with pytest.raises(TimedOut, match="runtime stage ran out of time"):
            tools.check_time()
    tools.check_time()  # outside a stage there is no limit


def test_kiln_being_interrupted_ends_the_command_too(tmp_path: Path) -> None:
    pid_file = tmp_path / "helper.pid"

    class Interrupt(BaseException):
        pass

    def interrupt_once_started() -> None:
        _helper_group(pid_file)
        raise Interrupt

    # communicate() is where Ctrl-C lands while a command runs; an exception there must not leave the command.
    original = subprocess.Popen.communicate
    calls = 0

    def communicate(self: subprocess.Popen[bytes], *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls > 1:
            interrupt_once_started()
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "communicate", communicate)
        with pytest.raises(Interrupt):
            tools.run(["sh", "-c", _PARENT_AND_HELPER, "sh", pid_file])
    assert wait_until_group_gone(_helper_group(pid_file)) == []


def test_a_listing_that_prints_too_much_is_stopped_unread(tmp_path: Path) -> None:
    pid_file = tmp_path / "helper.pid"
    script = 'sleep 300 & ps -o pgid= -p "$!" > "$1"; exec yes "a line of a listing"'
    with pytest.raises(ToolFailed, match=r"listing it printed more than 1 MiB and was stopped"):
        tools.run(["sh", "-c", script, "sh", pid_file], what="listing it", max_output=1 << 20)
    assert wait_until_group_gone(int(pid_file.read_text())) == []


def test_a_bounded_listing_returns_its_output() -> None:
    result = tools.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False, max_output=1 << 20)
    assert (result.returncode, result.stdout, result.stderr) == (3, b"out\n", b"err\n")


def test_outside_a_build_a_failure_does_not_point_at_a_build_log() -> None:
    with pytest.raises(ToolFailed) as caught:
        tools.run(["sh", "-c", "echo why >&2; exit 1"], what="listing the disk image")
    assert caught.value.hint is None  # kiln inspect writes no build log
    with tools.time_limit("dmg", 3600), pytest.raises(ToolFailed) as caught:
        tools.run(["sh", "-c", "exit 1"])
    assert caught.value.hint == "the full output is in the build log"


def test_a_signal_another_thread_received_runs_its_handler_while_the_main_thread_waits() -> None:
    """The kernel may hand SIGTERM to any thread; Python runs the handler in the main thread only when it runs
    Python. tools.result_of keeps waking, so the handler runs while a worker still works (here: the handler is what
    lets the worker finish; with a plain future.result() it would give up after 10 s)."""
    release, worker = threading.Event(), []

    def work() -> str:
        worker.append(threading.get_ident())
        return "released" if release.wait(10) else "the handler never ran"

    previous = signal.signal(signal.SIGUSR1, lambda *_: release.set())
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(work)
            while not worker:
                time.sleep(0.01)
            threading.Timer(0.2, signal.pthread_kill, (worker[0], signal.SIGUSR1)).start()
            assert tools.result_of(future) == "released"
    finally:
        signal.signal(signal.SIGUSR1, previous)
