"""Pre-flight: which installers will get no Python runtime, told by `kiln check` before a build starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kit.projects import copy_example
from kit.runtime import standin_archive
from kit.testing import REPO

from kiln.engine.preflight import runtime_issues
from kiln.model.project_file import load_project
from kiln.runtimes.archive import install_archive
from kiln.support.targets import TARGETS


def _noop(fraction: float, message: str) -> None:
    pass


def hello(tmp_path: Path, source: str = "auto") -> Path:
    return copy_example("hello", tmp_path, python={"version": "3.11", "source": source})


def unreachable(url: str) -> str:
    return "Name or service not known"


@pytest.mark.parametrize("source, failing", [("auto", ["dmg"]), ("download", ["appimage", "portable", "msi", "dmg"])])
def test_installers_without_a_runtime(tmp_path: Path, source: str, failing: list[str]) -> None:
    project = load_project(hello(tmp_path, source))
    issues = runtime_issues(project.project, project.base_dir, tmp_path / "cache", unreachable)
    assert [i.kind for i in issues] == failing
    dmg = issues[-1]
    assert dmg.platform == "macos-arm64" and "cannot be downloaded (Name or service not known)" in dmg.message
    assert "`kiln runtimes add ARCHIVE --platform macos-arm64`" in dmg.hint
    if source == "download":
        assert 'source = "embed"' in next(i for i in issues if i.kind == "msi").hint
    # Reachable, or a runtime of that 3.X in the cache: nothing to say.
    assert runtime_issues(project.project, project.base_dir, tmp_path / "cache", lambda url: None) == []
    install_archive(standin_archive(tmp_path, "macos-arm64"), TARGETS["macos-arm64"], tmp_path / "cache",
                    source="added", progress=_noop)
    left = runtime_issues(project.project, project.base_dir, tmp_path / "cache", unreachable)
    assert [i.kind for i in left] == failing[:-1]


def test_kiln_check_warns_before_the_build(tmp_path: Path) -> None:
    env = {**os.environ, "KILN_CACHE_DIR": str(tmp_path / "cache"), "PBS_INSTALLER_BASE_URL": "http://127.0.0.1:9/m"}
    result = subprocess.run([sys.executable, "-m", "kiln", "check", str(hello(tmp_path))], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    err = " ".join(result.stderr.split())
    assert "warning: dmg (macos-arm64): no Python 3.11 runtime for macos-arm64 is cached" in err
    assert "hint: `kiln runtimes add ARCHIVE --platform macos-arm64`" in err
    assert "msi" not in err and "appimage" not in err
