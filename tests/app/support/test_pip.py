"""The pip Kiln drives: an old one is named in one clear line with the command that fixes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from kit.testing import REPO
from packaging.version import Version

from kiln.support.pip import PIP_MINIMUM, pip_argv


def test_the_floor_is_the_one_pyproject_declares() -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert f"pip>={PIP_MINIMUM}" in dependencies


def test_the_pip_beside_kiln_is_new_enough_here() -> None:
    assert pip_argv("--version")[:3] == [sys.executable, "-m", "pip"]


@pytest.fixture(scope="module")
def old_pip_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding Python 3.11's own pip (23.2.1, from ensurepip) in front of Kiln's environment.

    Kiln and its dependencies come from this test's environment through a .pth file (processed like a site
    folder, so the editable install of Kiln works), after the venv's own site-packages: `python -m pip` is the old
    pip, exactly as for a user who kept the pip their Python came with.
    """
    venv = tmp_path_factory.mktemp("old-pip") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    python = venv / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    kiln_site = sysconfig.get_paths()["purelib"]
    (Path(own) / "zz_kiln_env.pth").write_text(f"import site; site.addsitedir({kiln_site!r})\n", encoding="utf-8")
    return python


def test_an_old_pip_is_one_clear_line_with_the_fix(old_pip_python: Path, tmp_path: Path) -> None:
    version = subprocess.run([str(old_pip_python), "-m", "pip", "--version"], capture_output=True, text=True,
                             timeout=120).stdout.split()[1]
    if Version(version) >= Version(PIP_MINIMUM):
        pytest.skip(f"this Python's own pip ({version}) is not older than {PIP_MINIMUM}")
    result = subprocess.run(
        [str(old_pip_python), "-P", "-m", "kiln", "resolve", "--python", "3.11", "--platform", "windows-x86_64",
         "--", "rich"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"pip {version} is too old for Kiln, which needs pip {PIP_MINIMUM} or newer" in result.stderr
    assert f"-m pip install --upgrade 'pip>={PIP_MINIMUM}'" in result.stderr
    assert "Traceback" not in result.stderr and "FAIL" not in result.stdout


def test_the_wizard_gets_one_line_for_a_check_that_cannot_run(old_pip_python: Path, tmp_path: Path) -> None:
    version = subprocess.run([str(old_pip_python), "-m", "pip", "--version"], capture_output=True, text=True,
                             timeout=120).stdout.split()[1]
    if Version(version) >= Version(PIP_MINIMUM):
        pytest.skip(f"this Python's own pip ({version}) is not older than {PIP_MINIMUM}")
    result = subprocess.run(
        [str(old_pip_python), "-P", "-m", "kiln", "resolve", "--events", "jsonl", "--python", "3.11",
         "--platform", "windows-x86_64", "--platform", "linux-x86_64", "--", "rich"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["platform"], line["ok"]) for line in lines] == [("all", False)]
    assert lines[0]["reason"].startswith(f"pip {version} is too old for Kiln")
