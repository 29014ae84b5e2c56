"""Installers of one target built side by side: one failing leaves the other built and published with its own status,
and a cancel stops both, whichever runs. The AppImage's mksquashfs is a stand-in on PATH that fails, or that
hangs until it is stopped, while the portable archive is made for real."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kit.projects import copy_example
from kit.runner import kiln
from kit.testing import REPO, require_tools

from kiln.engine.fingerprint import STATE_NAME as FINGERPRINT_NAME
from kiln.engine.output_folder import LOCK_NAME
from kiln.model.events import JsonLinesReader

pytestmark = pytest.mark.slow
PLANNED = ["validate", "runtime", "dependencies", "payload", "check", "appimage", "portable", "report"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _stand_in(folder: Path, body: str) -> dict[str, str]:
    """An environment whose `mksquashfs` answers -version as the real one and otherwise runs `body`."""
    real = shutil.which("mksquashfs")
    assert real is not None
    folder.mkdir()
    tool = folder / "mksquashfs"
    tool.write_text(f'#!/bin/sh\nif [ "$1" = -version ]; then exec {real} -version; fi\n{body}\n', encoding="utf-8")
    tool.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def _project(tmp_path: Path) -> Path:
    return copy_example("hello", tmp_path, installer=[{"kind": "appimage"}, {"kind": "portable"}])


def test_one_installer_failing_beside_another_leaves_it_built(tmp_path: Path, cache_dir: Path) -> None:
    require_tools("mksquashfs")
    project = _project(tmp_path)
    env = {**_stand_in(tmp_path / "bin", "echo 'squashfs: the disk is on fire' >&2\nexit 3"),
           "KILN_CACHE_DIR": str(cache_dir)}
    built = kiln("build", project, "--events", "jsonl", env=env, cwd=REPO, timeout=1200)
    events = built.events
    assert built.returncode == 1, built.output[-3000:]
    assert [e.stage for e in events if e.kind == "stage-start"] == PLANNED
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert fractions == sorted(fractions)
    done = events[-1]
    outcomes = {o["kind"]: o for o in done.data["installers"]}
    assert outcomes["portable"]["status"] == "ok" and outcomes["appimage"]["status"] == "failed"
    assert "the disk is on fire" in outcomes["appimage"]["message"]
    assert [o["kind"] for o in done.data["installers"]] == ["appimage", "portable"]  # the planned order
    assert [e.data["kind"] for e in events if e.kind == "artifact"] == ["portable"]
    errors = [e for e in events if e.kind == "error"]
    assert len(errors) == 1 and errors[0].message.startswith("appimage (linux-x86_64) failed:")
    assert (project.parent / "dist" / "hello-1.0.0-linux-x86_64.tar.zst").is_file()
    assert not (project.parent / "dist" / "hello-1.0.0-linux-x86_64.AppImage").exists()


def test_cancel_while_installers_run_side_by_side_stops_the_build(tmp_path: Path, cache_dir: Path) -> None:
    require_tools("mksquashfs")
    project = _project(tmp_path)
    pid_file = tmp_path / "mksquashfs.pid"
    env = {**os.environ, **_stand_in(tmp_path / "bin", f"echo $$ > {pid_file}\nexec sleep 120"),
           "KILN_CACHE_DIR": str(cache_dir)}
    process = subprocess.Popen([sys.executable, "-m", "kiln", "build", str(project), "--events", "jsonl"],
                               stdout=subprocess.PIPE, env=env, cwd=REPO)
    reader, seen = JsonLinesReader(), []
    assert process.stdout is not None
    while not pid_file.is_file() or not any(e.kind == "stage-start" and e.stage == "portable" for e in seen):
        line = process.stdout.readline()
        assert line, "the engine ended before both installers started"
        seen += reader.feed(line)
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=60)
    seen += reader.feed(rest) + reader.flush()
    log = project.parent / "dist" / "hello-build.log"
    assert process.returncode == 130, ([(e.kind, e.message) for e in seen if e.kind in ("error", "done")],
                                       log.read_text(encoding="utf-8")[-4000:] if log.is_file() else "")
    assert seen[-1].kind == "done" and seen[-1].data["status"] == "cancelled"
    assert not (project.parent / "dist" / "hello-1.0.0-linux-x86_64.AppImage").exists()
    hung = int(pid_file.read_text())
    assert not Path(f"/proc/{hung}").exists() or "zombie" in Path(f"/proc/{hung}/status").read_text().lower(), \
        "the hanging tool was stopped"
    leftovers = {p.name for p in (project.parent / "dist").iterdir() if p.name.startswith(".")}
    assert leftovers <= {LOCK_NAME, FINGERPRINT_NAME}
