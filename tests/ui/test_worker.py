"""Work started for a page never calls back into widgets deleted while it ran (the window closed meanwhile)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel
from shiboken6 import delete, isValid

from kiln.ui import worker
from kiln.ui.page_ids import PageId
from kiln.ui.wizard import KilnWizard


def _delivered_after(qtbot: Any, release: threading.Event) -> None:
    """Release the gated job and wait until the dispatcher has handled its result (signals arrive in order)."""
    seen: list[object] = []
    assert worker._dispatcher is not None
    worker._dispatcher.ready.connect(seen.append)  # connected after the dispatcher's own slot: runs after it
    release.set()
    qtbot.waitUntil(lambda: bool(seen), timeout=30_000)
    worker._dispatcher.ready.disconnect(seen.append)


@pytest.mark.parametrize("fails", [False, True], ids=["result", "error"])
def test_a_deleted_owner_hears_nothing(qtbot: Any, fails: bool) -> None:
    label = QLabel()
    started, release = threading.Event(), threading.Event()
    heard: list[object] = []

    def work() -> str:
        started.set()
        release.wait(30)
        if fails:
            raise OSError("gone")
        return "done"

    worker.run_in_background(label, work, lambda value: heard.append(label.setText(value)),
                             lambda error: heard.append(label.setText(str(error))))
    assert started.wait(30)
    delete(label)  # what closing the window does to its pages' widgets
    _delivered_after(qtbot, release)
    assert heard == []


def test_a_live_owner_gets_its_result(qtbot: Any) -> None:
    label = QLabel()
    release = threading.Event()
    worker.run_in_background(label, lambda: release.wait(30) and "done", label.setText, lambda _e: None)
    _delivered_after(qtbot, release)
    assert label.text() == "done"


def test_closing_the_wizard_while_a_folder_is_read(qtbot: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The start page's detection fails after the wizard was closed and deleted: nothing reaches its labels."""
    import kiln.ui.pages.start as start_module

    started, release = threading.Event(), threading.Event()

    def slow_failing_detection(folder: Path) -> object:
        started.set()
        release.wait(30)
        raise OSError(f"cannot read {folder}")

    monkeypatch.setattr(start_module, "detect", slow_failing_detection)
    wizard = KilnWizard()
    wizard.show()
    page = wizard.page(PageId.START)
    (tmp_path / "app").mkdir()
    page._start_detection(tmp_path / "app")
    assert started.wait(30)
    wizard.close()
    delete(wizard)
    assert not isValid(page)
    _delivered_after(qtbot, release)  # an exception in the callback would fail the test (pytest-qt reports it)
