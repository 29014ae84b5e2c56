"""The external-command wrapper: clear errors, logged output, timeouts, and cancellation that kills the tool."""

from __future__ import annotations

import threading
import time

import pytest

from kiln.support import tools
from kiln.support.errors import BuildCancelled, ToolFailed, ToolMissing


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
