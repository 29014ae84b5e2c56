"""`kiln resolve` asks pip's resolver for wheels per platform; the command line is the build's wheel selection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kiln.engine.dependencies import target_args
from kiln.engine.resolve import resolve_argv
from kiln.support.targets import TARGETS


def test_argv_is_a_dry_run_of_the_builds_wheel_selection(tmp_path: Path) -> None:
    argv = resolve_argv(["rich>=13"], "windows-x86_64", "3.11", ["--no-index"], tmp_path / "r.json")
    assert argv[:6] == [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"]
    assert argv[-2:] == ["--", "rich>=13"] and "--no-index" in argv
    flags = target_args(TARGETS["windows-x86_64"], "3.11")
    start = argv.index(flags[0])
    assert argv[start:start + len(flags)] == flags


def test_the_command_reports_each_platform(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-P", "-m", "kiln", "resolve", "--events", "jsonl", "--python", "3.11",
                           "--platform", "linux-x86_64", "--platform", "macos-arm64", "--", "rich>=13"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    results = {r["platform"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert done.returncode == 0 and set(results) == {"linux-x86_64", "macos-arm64"}, done.stderr
    assert all(r["ok"] and any(p.startswith("rich ") for p in r["packages"]) for r in results.values())
    missing = subprocess.run([sys.executable, "-P", "-m", "kiln", "resolve", "--python", "3.11", "--platform",
                              "linux-x86_64", "--", "kiln-no-such-package-zz"], capture_output=True, text=True,
                             timeout=300, cwd=tmp_path)
    assert missing.returncode == 1 and "FAIL  linux-x86_64" in missing.stdout
