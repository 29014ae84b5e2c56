""".ci/run itself, on a stand-in checkout: phases timed, launcher builds handed to the tests, checkout left clean.

The stand-in has the real .ci/run and .ci/check-clean, and small fakes for everything they call (setup, ruff, mypy,
the launchers' build.py, pytest), so the whole script runs in a second, as root or not, with no stdin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kit.testing import require_tools

REPO = Path(__file__).resolve().parents[2]

FAKE_SETUP = """#!/usr/bin/env bash
set -euo pipefail
mkdir -p .venv/bin .venv/mods/pytest
cat > .venv/bin/activate <<EOF
export PATH="$PWD/.venv/bin:\\$PATH"
export PYTHONPATH="$PWD/.venv/mods"
EOF
printf '#!/bin/sh\\nexit 0\\n' > .venv/bin/ruff
printf '#!/bin/sh\\nexit 0\\n' > .venv/bin/mypy
chmod +x .venv/bin/ruff .venv/bin/mypy
ln -s "$REAL_PYTHON" .venv/bin/python
cp "$FAKE_PYTEST" .venv/mods/pytest/__main__.py && : > .venv/mods/pytest/__init__.py
"""

# Records what the tests would see; with FAKE_PYTEST_WRITES set, writes into the checkout as a careless test would.
FAKE_PYTEST = """
import json, os, sys
from pathlib import Path
seen = {k: os.environ.get(k) for k in ("KILN_APPIMAGE_RUNTIME", "KILN_WINDOWS_LAUNCHERS", "KILN_MACOS_LAUNCHERS",
                                       "QT_QPA_PLATFORM")}
seen["exists"] = [os.path.isfile(seen["KILN_APPIMAGE_RUNTIME"] or ""),
                  os.path.isfile(os.path.join(seen["KILN_WINDOWS_LAUNCHERS"] or "", "launcher-gui.exe")),
                  os.path.isfile(os.path.join(seen["KILN_MACOS_LAUNCHERS"] or "", "launcher-arm64"))]
seen["argv"] = sys.argv[1:]
Path(os.environ["FAKE_PYTEST_OUT"]).write_text(json.dumps(seen))
if os.environ.get("FAKE_PYTEST_WRITES"):
    Path(os.environ["FAKE_PYTEST_WRITES"]).write_text("screenshot")
sys.exit(int(os.environ.get("FAKE_PYTEST_EXIT", "0")))
"""

# A launcher's build.py --check --rebuilt-dir DIR: writes its "fresh build" to DIR.
FAKE_BUILD = """
import sys
from pathlib import Path
args = sys.argv[1:]
assert args[0] == "--check" and args[1] == "--rebuilt-dir", args
out = Path(args[2])
out.mkdir(parents=True)
for name in {names!r}:
    (out / name).write_bytes(b"fresh")
print("build.py --check: toolchain differs (libzstd-dev 1 -> 2): two fresh builds are identical")
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo, check=True, capture_output=True
    )


def standin(tmp_path: Path) -> Path:
    repo = tmp_path / "checkout"
    (repo / ".ci").mkdir(parents=True)
    for name in ("run", "check-clean"):
        shutil.copy2(REPO / ".ci" / name, repo / ".ci" / name)
    (repo / ".ci" / "setup").write_text(FAKE_SETUP)
    (repo / ".ci" / "typecheck").write_text("exit 0\n")
    for kind, names in {
        "appimage": ["runtime-x86_64"],
        "windows": ["launcher-console.exe", "launcher-gui.exe"],
        "macos": ["launcher-arm64", "launcher-x86_64", "launcher-universal"],
    }.items():
        (repo / "resources" / "launchers" / kind).mkdir(parents=True)
        (repo / "resources" / "launchers" / kind / "build.py").write_text(FAKE_BUILD.format(names=names))
    (repo / "tests").mkdir()
    (repo / "tests" / "test_x.py").write_text("")
    (repo / ".gitignore").write_text(".venv/\n")
    (tmp_path / "fake_pytest.py").write_text(FAKE_PYTEST)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "stand-in")
    return repo


def run_ci(repo: Path, tmp_path: Path, **extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(
        CI="true",
        REAL_PYTHON=sys.executable,
        FAKE_PYTEST=str(tmp_path / "fake_pytest.py"),
        FAKE_PYTEST_OUT=str(tmp_path / "seen.json"),
        TMPDIR=str(tmp_path),
        **extra,
    )
    result = subprocess.run(
        ["bash", ".ci/run"], cwd=repo, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    seen = json.loads((tmp_path / "seen.json").read_text()) if (tmp_path / "seen.json").exists() else {}
    return result, seen


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    require_tools("git", "bash")
    return standin(tmp_path)


def test_ci_times_each_phase_and_tests_the_rebuilt_launchers(repo: Path, tmp_path: Path) -> None:
    result, seen = run_ci(repo, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    timings = result.stdout[result.stdout.index("CI phases (seconds):") :].splitlines()[1:]
    assert [line.split()[0] for line in timings] == [
        "setup",
        "lint",
        "types",
        "launchers",
        "tests",
        "clean-checkout",
        "total",
    ]
    assert all("FAILED" not in line for line in timings)
    # The tests saw the launchers' fresh builds, through the three variables, while they existed.
    rebuilt = Path(str(seen["KILN_APPIMAGE_RUNTIME"])).parents[1]
    assert seen["KILN_APPIMAGE_RUNTIME"] == str(rebuilt / "appimage" / "runtime-x86_64")
    assert seen["KILN_WINDOWS_LAUNCHERS"] == str(rebuilt / "windows")
    assert seen["KILN_MACOS_LAUNCHERS"] == str(rebuilt / "macos")
    assert seen["exists"] == [True, True, True]
    assert not rebuilt.exists(), "the rebuilt launchers are removed after CI"
    assert not str(rebuilt).startswith(str(repo)), "never inside the checkout"
    # Everything, slow tests included, and a folder named so that "no tests collected" (exit 5) cannot happen.
    argv = seen["argv"]
    assert isinstance(argv, list) and argv[argv.index("-m") + 1] == "not long" and argv[-1] == "tests"
    assert seen["QT_QPA_PLATFORM"] == "offscreen"


def test_ci_fails_when_the_tests_change_the_checkout(repo: Path, tmp_path: Path) -> None:
    (repo / "docs").mkdir()
    (repo / "docs" / "shot.png").write_text("old")
    git(repo, "add", "docs/shot.png")
    git(repo, "commit", "-q", "-m", "picture")
    result, _ = run_ci(repo, tmp_path, FAKE_PYTEST_WRITES=str(repo / "docs" / "shot.png"))
    assert result.returncode == 1
    assert "the checkout changed" in result.stderr and "docs/shot.png" in result.stderr
    assert "clean-checkout" in result.stdout and "FAILED (exit 1)" in result.stdout


def test_ci_stops_at_a_failing_launcher_check(repo: Path, tmp_path: Path) -> None:
    (repo / "resources" / "launchers" / "appimage" / "build.py").write_text("import sys\nsys.exit('differs')\n")
    git(repo, "commit", "-q", "-am", "broken")
    result, seen = run_ci(repo, tmp_path)
    assert result.returncode == 1
    assert "launchers" in result.stdout and "FAILED" in result.stdout
    assert seen == {}, "the tests must not run after a failed launcher check"


def test_check_clean_reports_untracked_and_modified_files(repo: Path) -> None:
    clean = subprocess.run(["bash", ".ci/check-clean"], cwd=repo, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    (repo / "tests" / "new.txt").write_text("x")
    (repo / "tests" / "test_x.py").write_text("changed")
    dirty = subprocess.run(["bash", ".ci/check-clean"], cwd=repo, capture_output=True, text=True)
    assert dirty.returncode == 1
    assert "tests/new.txt" in dirty.stderr and "tests/test_x.py" in dirty.stderr


def test_real_ci_script_parses() -> None:
    for name in ("run", "check-clean", "setup"):
        subprocess.run(["bash", "-n", str(REPO / ".ci" / name)], check=True)


# ----------------------------------------------------------------------------- the wizard's screenshots

SCREENSHOT_TEST = """
def test_shot(driver):
    driver.screenshot("probe")
"""


@pytest.mark.parametrize("update", [False, True], ids=["default", "update-screenshots"])
def test_wizard_screenshots_reach_docs_only_when_asked(tmp_path: Path, update: bool) -> None:
    """tests/ui/conftest.py on a stand-in checkout: screenshots go to pytest's temporary folder, and into
    docs/images/ (the user guide's pictures) only with --update-screenshots."""
    pytest.importorskip("PySide6")
    pytest.importorskip("pytestqt")
    checkout = tmp_path / "checkout"
    (checkout / "tests" / "ui").mkdir(parents=True)
    shutil.copy2(REPO / "tests" / "ui" / "conftest.py", checkout / "tests" / "ui" / "conftest.py")
    shutil.copytree(REPO / "tests" / "kit", checkout / "tests" / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "tests" / "ui" / "test_shot.py").write_text(SCREENSHOT_TEST)
    (checkout / "pytest.ini").write_text("[pytest]\npythonpath = tests\n")  # the conftest uses the tests' kit
    basetemp = tmp_path / "basetemp"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(checkout)]
    argv += [f"--basetemp={basetemp}", "tests/ui/test_shot.py"]
    if update:
        argv.append("--update-screenshots")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    in_docs = checkout / "docs" / "images" / "wizard-probe.png"
    in_temp = list(basetemp.rglob("wizard-probe.png"))
    if update:
        assert in_docs.is_file() and in_temp == []
    else:
        assert not (checkout / "docs").exists()
        assert len(in_temp) == 1 and in_temp[0].stat().st_size > 0
