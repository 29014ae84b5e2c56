"""`kiln build examples/hello/kiln.toml` without GitHub: every installer succeeds or fails on its own.

Without python-build-standalone, the Linux installers use this machine's Python, the MSI python.org's
embeddable CPython from the package index, and the DMG has no runtime: it is reported failed with a command
that fixes it, the other three are built and published, and the exit code is 1. With a macOS runtime added
(a stand-in: no macOS CPython is obtainable here) the same command builds all four.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kit.projects import copy_example
from kit.runner import kiln
from kit.runtime import standin_archive
from kit.testing import REPO, require_tools

pytestmark = pytest.mark.slow
UNREACHABLE = "http://127.0.0.1:9/mirror"  # stands in for GitHub: refused at once instead of a long timeout


def test_one_failed_installer_does_not_fail_the_others(tmp_path: Path) -> None:
    require_tools("mksquashfs", "wixl", "msibuild", "msiinfo", "osslsigncode", "xorriso")
    project = copy_example("hello", tmp_path).parent
    env = {"KILN_CACHE_DIR": str(tmp_path / "cache"), "PBS_INSTALLER_BASE_URL": UNREACHABLE}

    built = kiln("build", project / "kiln.toml", "--events", "jsonl", env=env, cwd=REPO, timeout=1200)
    code, events = built.returncode, built.events
    done = events[-1]
    assert done.kind == "done" and done.data["status"] == "failed" and code == 1
    outcomes = {o["kind"]: o for o in done.data["installers"]}
    assert {k: o["status"] for k, o in outcomes.items()} == {
        "appimage": "ok", "portable": "ok", "msi": "ok", "dmg": "failed"}
    dmg = outcomes["dmg"]
    assert dmg["platform"] == "macos-arm64" and "no Python 3.11 runtime for macos-arm64" in dmg["message"]
    assert "`kiln runtimes add ARCHIVE --platform macos-arm64`" in dmg["hint"]
    published = {e.data["kind"]: Path(e.data["path"]) for e in events if e.kind == "artifact"}
    assert sorted(published) == ["appimage", "msi", "portable"] and all(p.is_file() for p in published.values())
    shipped = [p.name for p in (project / "dist").iterdir() if not p.name.startswith(".")]  # not the build lock
    assert sorted(n for n in shipped if not n.endswith((".log", ".json"))) == sorted(p.name for p in published.values())
    errors = [e for e in events if e.kind == "error"]
    assert len(errors) == 1 and errors[0].message.startswith("dmg (macos-arm64) failed:")
    report = json.loads(Path(done.data["report"]).read_text(encoding="utf-8"))
    assert report["status"] == "failed" and [o["status"] for o in report["installers"]] == ["ok", "ok", "ok", "failed"]
    assert report["size_by_component"], "the size picture is there even when one installer failed"
    assert "embeddable" in report["runtimes"]["windows-x86_64"]["source"]

    standin = standin_archive(tmp_path, "macos-arm64", "3.11.4")
    assert kiln("runtimes", "add", standin, "--platform", "macos-arm64", env=env, cwd=REPO).returncode == 0
    built = kiln("build", project / "kiln.toml", "--events", "jsonl", env=env, cwd=REPO, timeout=1200)
    events = built.events
    assert built.returncode == 0 and events[-1].data["status"] == "ok"
    assert sorted(e.data["kind"] for e in events if e.kind == "artifact") == ["appimage", "dmg", "msi", "portable"]
    assert any(e.kind == "warning" and "using Python 3.11.4" in e.message for e in events)
