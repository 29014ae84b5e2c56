"""The Build page against a stand-in engine (fast), and against the real one: cancel and responsiveness (slow)."""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWizard

from kiln.source.detect import detect
from kiln.ui import engine_process
from kiln.ui.page_ids import PageId

FAKE_ENGINE = r'''
import json, sys, time, pathlib
def emit(**event):
    print(json.dumps(event), flush=True)
out = pathlib.Path(sys.argv[1]).parent / "dist"
out.mkdir(exist_ok=True)
mode = sys.argv[2]
log = out / "hello-build.log"
log.write_text(f"log of a {mode} build\n")
if mode in ("slow", "stubborn"):
    import signal
    def cancelled(*_):
        emit(kind="done", message="build cancelled", data={"status": "cancelled"})
        sys.exit(130)
    signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else cancelled)
    emit(kind="stage-start", stage="runtime", message="preparing Python", fraction=0.05)
    time.sleep(60)
emit(kind="stage-start", stage="validate", message="checking the project", fraction=0.0)
emit(kind="stage-end", stage="validate", message="validate done", fraction=0.1, data={"seconds": 0.01})
emit(kind="stage-start", stage="portable", message="building the portable installer", fraction=0.1)
for i in range(200):
    emit(kind="log", stage="portable", message=f"line {i}")
print("a stray print from a library", flush=True)
emit(kind="progress", stage="portable", message="compressing", fraction=0.6)
if mode == "crash":
    sys.stderr.write("Traceback: something broke\n")
    sys.exit(3)
if mode == "error":
    emit(kind="error", message="could not get wheels", data={"hint": "check the requirement names"})
    emit(kind="done", message="build failed", data={"status": "failed", "log": str(log)})
    sys.exit(1)
artifact = out / "hello-1.0.0-linux-x86_64.tar.zst"
artifact.write_bytes(b"x" * 2048)
emit(kind="artifact", stage="portable", message="portable", data={"kind": "portable", "path": str(artifact),
     "size": 2048, "sha256": "ab" * 32})
emit(kind="stage-end", stage="portable", message="done", fraction=0.95, data={"seconds": 1.5})
artifacts = [{"kind": "portable", "path": str(artifact), "size": 2048, "sha256": "ab" * 32}]
installers = [{"kind": "portable", "platform": "linux-x86_64", "status": "ok", "message": "", "hint": "",
               "artifact": str(artifact)}]
if mode == "finding":  # the bundle check fails the MSI: its runtime has no tkinter, and a button can fix it
    finding = {"check": "missing-module", "severity": "error", "platform": "windows-x86_64", "installers": ["msi"],
               "module": "tkinter", "file": "main.py", "line": 1,
               "message": "main.py:1 imports tkinter, which python.org's embeddable Windows Python does not have",
               "fix": "set [python] source = \"download\"", "action": {"set": {"python.source": "download"}}}
    qt = {"check": "computed-import", "severity": "warning", "platform": "linux-x86_64",
          "installers": ["portable"], "module": "PySide6.QtPrintSupport", "file": "main.py", "line": 9,
          "message": "main.py:9 imports a Qt module by a computed name; QtPrintSupport was left out of the bundle",
          "fix": 'add "QtPrintSupport" to [dependencies] qt_modules',
          "action": {"add": {"dependencies.qt_modules": "QtPrintSupport"}}}
    emit(kind="warning", stage="check", message=qt["message"], data=qt)
    emit(kind="error", stage="check", message=finding["message"], data=finding)
    emit(kind="error", stage="msi", message="msi (windows-x86_64) failed: " + finding["message"],
         data={"hint": finding["fix"]})
    installers.append({"kind": "msi", "platform": "windows-x86_64", "status": "failed",
                       "message": finding["message"], "hint": finding["fix"], "artifact": "", "findings": [finding]})
if mode in ("partial", "sleepy"):  # the AppImage "runs" (a shell script stands in), the MSI fails
    appimage = out / "hello-1.0.0-linux-x86_64.AppImage"
    end = "exec sleep 120\n" if mode == "sleepy" else "exit 4\n"
    appimage.write_text("#!/bin/sh\necho the built app ran\n" + end)
    appimage.chmod(0o755)
    artifacts.append({"kind": "appimage", "path": str(appimage), "size": 40, "sha256": "cd" * 32})
    emit(kind="artifact", stage="appimage", message="appimage", data=artifacts[-1])
    emit(kind="error", stage="msi", message="msi (windows-x86_64) failed: no Python 3.11 for Windows offline",
         data={"hint": "connect to the network once, or choose another Python version"})
    installers += [{"kind": "appimage", "platform": "linux-x86_64", "status": "ok", "message": "", "hint": "",
                    "artifact": str(appimage)},
                   {"kind": "msi", "platform": "windows-x86_64", "status": "failed",
                    "message": "no Python 3.11 for Windows offline", "hint": "connect to the network once",
                    "artifact": ""}]
report = out / "hello-report.json"
report.write_text(json.dumps({"status": "failed" if mode in ("partial", "sleepy") else "ok", "artifacts": artifacts,
    "stages": {}, "installers": installers,
    "runtimes": {"linux-x86_64": {"source": "host", "notes": ["needs glibc 2.36 or newer on the user's machine"]}},
    "size_by_component": {"runtime": 3000000, "stdlib": 9000000, "app": 2000, "rich": 1400000}}))
status = "failed" if mode in ("partial", "sleepy", "finding") else "ok"
emit(kind="done", message=f"build {status}", fraction=1.0, data={"status": status, "report": str(report),
     "log": str(log), "installers": installers})
'''


@pytest.fixture
def build_page(driver: Any, hello: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The Build page of a saved hello project, whose engine is the stand-in above (mode set by the test)."""
    script = hello.parent / "fake_engine.py"
    script.write_text(FAKE_ENGINE)
    driver.mode = "ok"
    monkeypatch.setattr(engine_process, "engine_argv",
                        lambda project: [sys.executable, str(script), str(project), driver.mode])
    driver.wizard.start_new(hello, detect(hello))
    driver.wizard.setStartId(PageId.BUILD)
    driver.wizard.restart()
    return driver.page(PageId.BUILD)


def test_events_drive_progress_log_artifacts_and_chart(driver: Any, build_page: Any, hello: Path) -> None:
    driver.click(build_page.build_button)  # saves first: the engine reads the file
    assert (hello / "kiln.toml").is_file() and not driver.wizard.isWindowModified()
    assert not driver.wizard.button(QWizard.WizardButton.BackButton).isEnabled()  # no edits under a build
    driver.qtbot.waitUntil(lambda: build_page.result_status == "ok", timeout=20000)
    assert build_page.progress.value() == build_page.progress.maximum()
    assert build_page.stages.item(0, 0).text() == "validate" and build_page.stages.item(1, 2).text() == "done"
    assert build_page.stages.item(1, 1).text() == "1.5 s"
    log = build_page.log.toPlainText()
    assert "line 199" in log and "a stray print from a library" in log
    row = build_page.results.rows[0]
    assert (row.name.text(), row.status.text()) == (
        "hello-1.0.0-linux-x86_64.tar.zst", "✓ built · Portable archive (.tar.zst) for Linux · 2.0 KiB")
    assert row.result.sha256 == "ab" * 32 and row.copy_button.isVisible() and row.open_button.isVisible()
    assert [name for name, _ in build_page.chart.rows()] == ["stdlib", "runtime", "rich", "app"]
    assert "Build finished: 1 installer(s) in ~/hello/dist" in build_page.status.text()
    assert build_page.tabs.currentIndex() == 1
    assert driver.wizard.button(QWizard.WizardButton.BackButton).isEnabled()


def test_partial_failure_shows_each_installer_run_and_where_it_runs(driver: Any, build_page: Any) -> None:
    driver.mode = "partial"
    driver.click(build_page.build_button)
    driver.qtbot.waitUntil(lambda: build_page.result_status != "", timeout=20000)
    assert build_page.result_status == "failed"
    assert "Build partly failed: 2 of 3 installers built" in build_page.status.text()
    rows = {row.result.kind: row.status.text().split(" · ")[0] for row in build_page.results.rows}
    assert rows == {"portable": "✓ built", "appimage": "✓ built", "msi": "✗ not built"}
    msi = build_page.results.row_for("msi")
    assert msi.name.text() == "MSI for Windows"
    assert msi.problem.text() == ("No Python 3.11 for Windows offline.\nWhat to do: connect to the network once, or "
                                  "choose another Python version")
    assert not build_page.message.isVisible()  # said once, in the MSI's row (not again below the page)
    assert [build_page.stages.item(r, 2).text() for r in range(build_page.stages.rowCount())
            if build_page.stages.item(r, 0).text() == "msi"] == ["failed"]
    note = build_page.linux.text()  # plain words about the glibc floor, with systems and how to widen it
    assert "Debian 12" in note and "not on older ones such as Ubuntu 22.04" in note
    assert "Download a standalone Python" in note and "glibc" not in note
    assert "glibc 2.36" in build_page.linux_details.details()  # the version behind Details
    assert build_page.tabs.currentIndex() == 1
    driver.screenshot("build-partial")
    appimage = build_page.results.row_for("appimage")
    assert not build_page.results.row_for("msi").run_button.isVisible()
    driver.click(appimage.run_button)  # runs the AppImage this build made
    driver.qtbot.waitUntil(lambda: "— the app exited with code 4 —" in build_page.run_output.toPlainText())
    assert "the built app ran" in build_page.run_output.toPlainText()
    assert build_page.tabs.currentIndex() == 3
    assert appimage.run_button.text() == "Run"


def test_a_finding_is_said_in_its_installers_row_with_a_button_that_fixes_it(driver: Any, build_page: Any,
                                                                            hello: Path) -> None:
    driver.mode = "finding"
    driver.click(build_page.build_button)
    driver.qtbot.waitUntil(lambda: build_page.result_status != "", timeout=20000)
    msi = build_page.results.row_for("msi")
    assert msi is not None and msi.status.text() == "✗ not built · MSI for Windows"
    assert msi.problem.text() == ("main.py:1 imports tkinter, which python.org's embeddable Windows Python does not "
                                  "have.")
    assert [b.text() for b in msi.fix_buttons] == ["Use the standalone runtime"]
    assert not build_page.message.isVisible()  # not repeated below the page, nor only a line of the log
    portable = build_page.results.row_for("portable")
    assert portable.status.text().startswith("✓ built, with a warning · ")
    assert [b.text() for b in portable.fix_buttons] == ["Keep QtPrintSupport"]
    driver.click(msi.fix_buttons[0])
    assert driver.wizard.project.python.source == "download" and driver.wizard.isWindowModified()
    assert build_page.status.text().startswith("Done: The installers then get a standalone Python")
    assert driver.page(PageId.DEPENDENCIES).source.value() == "download"  # every page shows the change
    driver.click(build_page.build_button)  # the next build saves it first
    driver.qtbot.waitUntil(lambda: build_page.result_status != "", timeout=20000)
    assert 'source = "download"' in (hello / "kiln.toml").read_text(encoding="utf-8")


def test_run_becomes_stop_while_the_app_runs(driver: Any, build_page: Any) -> None:
    driver.mode = "sleepy"
    driver.click(build_page.build_button)
    driver.qtbot.waitUntil(lambda: build_page.result_status != "", timeout=20000)
    row = build_page.results.row_for("appimage")
    driver.click(row.run_button)
    driver.qtbot.waitUntil(lambda: "the built app ran" in build_page.run_output.toPlainText())
    assert row.run_button.text() == "Stop"
    driver.click(row.run_button)
    driver.qtbot.waitUntil(lambda: build_page.app_process is None)
    assert build_page.run_output.toPlainText().rstrip().endswith("— stopped —")
    assert row.run_button.text() == "Run"


def test_elapsed_time_and_one_way_to_close(driver: Any, build_page: Any) -> None:
    wizard = driver.wizard
    assert not wizard.button(QWizard.WizardButton.CancelButton).isVisible()  # Close is the one way out
    assert wizard.button(QWizard.WizardButton.FinishButton).isVisible()
    driver.mode = "slow"
    driver.click(build_page.build_button)
    driver.qtbot.waitUntil(lambda: build_page.stages.rowCount() == 1, timeout=20000)
    driver.qtbot.waitUntil(lambda: float(build_page.elapsed.text().split()[0]) >= 2, timeout=8000)
    assert build_page.stages.item(0, 1).text() not in ("", "0.0 s")  # the running stage counts up
    driver.click(build_page.cancel_button)
    driver.qtbot.waitUntil(lambda: build_page.result_status == "cancelled", timeout=20000)
    shown = build_page.elapsed.text()
    driver.qtbot.wait(1200)
    assert build_page.elapsed.text() == shown  # stops counting when the build ends


def test_show_log_keeps_previous_builds_logs(driver: Any, build_page: Any, hello: Path) -> None:
    for mode in ("error", "ok"):
        driver.mode = mode
        driver.click(build_page.build_button)
        driver.qtbot.waitUntil(lambda: build_page.result_status != "", timeout=20000)
    driver.click(build_page.show_log_button)
    assert build_page.tabs.currentIndex() == 2
    assert build_page.log_path.text() == "Log file: ~/hello/dist/hello-build.log"
    assert build_page.log_view.toPlainText() == "log of a ok build\n"
    assert build_page.log_choice.count() == 2
    driver.choose(build_page.log_choice, build_page.log_choice.itemText(1))
    assert build_page.log_view.toPlainText() == "log of a error build\n"
    assert build_page.log_path.text() == "Log file: ~/hello/dist/hello-build.1.log"
    driver.screenshot("build-log")


def test_a_reopened_project_shows_its_last_build(make_driver: Any, build_page: Any, driver: Any,
                                                 hello: Path) -> None:
    driver.mode = "partial"
    driver.click(build_page.build_button)
    driver.qtbot.waitUntil(lambda: build_page.result_status != "", timeout=20000)
    again = make_driver()
    again.open_project(hello / "kiln.toml")
    again.go_to(PageId.BUILD)
    page = again.page(PageId.BUILD)
    assert "Last build" in page.status.text() and "failed: 2 of 3 installer(s)" in page.status.text()
    assert page.results.count() == 3 and page.runnable() is not None
    assert page.results.row_for("msi").problem.text().startswith("No Python 3.11 for Windows offline")
    assert "Debian 12" in page.linux.text()
    assert page.log_path.text() == "Log file: ~/hello/dist/hello-build.log"


def test_open_folder_says_when_no_file_manager_is_there(driver: Any, build_page: Any, hello: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    driver.click(build_page.open_button)
    assert "does not exist yet: build first" in build_page.status.text()
    (hello / "dist").mkdir()
    monkeypatch.setenv("PATH", str(hello))  # no xdg-open, no gio
    driver.click(build_page.open_button)
    assert "No file manager could be opened here. The installers are in" in build_page.status.text()
    assert str(hello / "dist") in build_page.status.text()


@pytest.mark.parametrize(("mode", "expected"), [
    ("error", "Build failed: could not get wheels\nWhat to do: check the requirement names"),
    ("crash", "the build engine exited with code 3 without finishing the build"),
])
def test_failures_say_what_happened(driver: Any, build_page: Any, mode: str, expected: str) -> None:
    driver.mode = mode
    driver.click(build_page.build_button)
    driver.qtbot.waitUntil(lambda: build_page.result_status == "failed", timeout=20000)
    assert expected in build_page.message.text() + build_page.log.toPlainText()
    assert build_page.build_button.isEnabled() and not build_page.cancel_button.isEnabled()


@pytest.mark.parametrize(("mode", "clean"), [("slow", True), ("stubborn", False)])
def test_cancel_terminates_then_kills(driver: Any, build_page: Any, monkeypatch: pytest.MonkeyPatch,
                                      mode: str, clean: bool) -> None:
    monkeypatch.setattr(engine_process, "KILL_AFTER_MS", 300)
    driver.mode = mode
    driver.click(build_page.build_button)
    driver.qtbot.waitUntil(lambda: build_page.stages.rowCount() == 1, timeout=20000)
    driver.click(build_page.cancel_button)
    driver.qtbot.waitUntil(lambda: build_page.result_status == "cancelled", timeout=20000)
    assert build_page.engine.finished_cleanly is clean
    assert ("nothing half-written" in build_page.status.text()) is clean
    assert not build_page.engine.is_running() and build_page.build_button.isEnabled()


def test_closing_during_a_build_cancels_it_first(driver: Any, build_page: Any) -> None:
    driver.mode = "slow"
    driver.click(build_page.build_button)
    driver.qtbot.waitUntil(lambda: build_page.stages.rowCount() == 1, timeout=20000)
    pid = build_page.engine.pid()
    driver.wizard.close()  # the fixture answers "yes, cancel it"
    assert not driver.wizard.isVisible() and build_page.result_status == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _real_build_page(driver: Any, hello: Path) -> Any:
    """Walk to the Build page the ordinary way (so Back has somewhere to go)."""
    start = driver.page(PageId.START)
    driver.type(start.folder.edit, "~/hello")
    driver.next(PageId.APPLICATION)
    driver.go_to(PageId.BUILD)
    return driver.page(PageId.BUILD)


@pytest.mark.slow
def test_cancel_leaves_nothing_and_the_wizard_usable(driver: Any, hello: Path, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cold-cache"))  # a cold cache: slow enough to cancel
    page = _real_build_page(driver, hello)
    started: list[str] = []
    page.engine.event.connect(lambda e: started.append(e.stage) if e.kind == "stage-start" else None)
    driver.click(page.build_button)
    driver.qtbot.waitUntil(lambda: len(started) >= 2, timeout=120_000)  # past validation, into the real work
    pid = page.engine.pid()
    assert pid > 0
    driver.click(page.cancel_button)
    driver.qtbot.waitUntil(lambda: page.result_status != "", timeout=30_000)
    assert page.result_status == "cancelled"
    assert "cancelled" in page.status.text()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the engine process is gone (and reaped)
    dist = hello / "dist"
    # The output folder's lock file stays (by design); the build log too. A partial folder may stay only when the
    # engine had to be killed (it is swept by the next build); an artifact never.
    kept = {".kiln-build.lock"} | (set() if page.engine.finished_cleanly else {".kiln-partial"})
    leftovers = [p.name for p in dist.iterdir() if not p.name.endswith(".log")
                 and not any(p.name.startswith(k) for k in kept)] if dist.exists() else []
    assert leftovers == [], f"a cancelled build must leave no partial artifact; log:\n{page.log.toPlainText()[-3000:]}"
    assert page.build_button.isEnabled() and driver.wizard.button(QWizard.WizardButton.BackButton).isEnabled()
    driver.click(driver.wizard.button(QWizard.WizardButton.BackButton))
    assert driver.wizard.currentId() == PageId.INSTALLERS


@pytest.mark.slow
def test_event_loop_never_stalls_during_a_real_build(driver: Any, hello: Path) -> None:
    page = _real_build_page(driver, hello)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    driver.click(page.build_button)
    timer.start()
    driver.qtbot.waitUntil(lambda: page.result_status != "", timeout=600_000)
    timer.stop()
    assert page.result_status == "ok", page.log.toPlainText()[-2000:]
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(gaps) > 50
    # A probe, not a benchmark: a build in the wizard's own process blocks the loop for seconds (or the whole
    # build); the engine as a child process never does. 2 s tolerates a loaded machine (2 cores, other builds)
    # while still catching work done on the GUI thread.
    assert max(gaps) < 2.0, f"the event loop stalled for {max(gaps) * 1000:.0f} ms"
    print(json.dumps({"ticks": len(ticks), "max_gap_ms": round(max(gaps) * 1000, 1)}))
