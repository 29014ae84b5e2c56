"""Builds that run at the same time never break each other: a shared empty cache, one output folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kit.testing import unpack_portable

PROJECT = """\
[app]
name = "{name}"
version = "1.0"
[entry]
module = "{name}:main"
[source]
root = "app"
include = ["*.py"]
[python]
source = "host"
[build]
compression_level = 1
[[installer]]
kind = "portable"
"""


def _project(folder: Path, name: str) -> Path:
    (folder / "app").mkdir(parents=True)
    (folder / "app" / f"{name}.py").write_text(f"def main():\n    print('{name} runs')\n")
    (folder / "kiln.toml").write_text(PROJECT.format(name=name))
    return folder / "kiln.toml"


def _start(project: Path, cache: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "kiln", "build", str(project), "--cache-dir", str(cache)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=project.parent)


def _finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    assert "internal error" not in output and "Traceback" not in output, output
    return output


def _run_portable(archive: Path, into: Path, name: str) -> None:
    unpack_portable(archive, into)
    result = subprocess.run([str(into / name / name)], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and result.stdout.strip() == f"{name} runs", result


@pytest.mark.long  # bash .ci/long
@pytest.mark.slow
@pytest.mark.parametrize("round_number", range(10))
def test_two_builds_on_an_empty_shared_cache_both_succeed(tmp_path: Path, round_number: int) -> None:
    cache = tmp_path / "cache"  # empty: both builds relocate the host Python into it at once
    first, second = _project(tmp_path / "one", "one"), _project(tmp_path / "two", "two")
    processes = [_start(first, cache), _start(second, cache)]
    for process in processes:
        _finish(process)
    entries = [p for p in (cache / "runtimes" / "host").iterdir() if p.is_dir()]
    assert len(entries) == 1 and not entries[0].name.startswith("."), entries  # one runtime, no temp left
    for project, name in ((first, "one"), (second, "two")):
        report = json.loads((project.parent / "dist" / f"{name}-report.json").read_text())
        assert report["status"] == "ok"
        if round_number == 0:  # run what was built once; the other rounds check the reports
            _run_portable(project.parent / "dist" / f"{name}-1.0-linux-x86_64.tar.zst", tmp_path / f"run-{name}",
                          name)


@pytest.mark.slow
def test_two_builds_of_one_project_take_turns(tmp_path: Path) -> None:
    project = _project(tmp_path / "same", "same")
    cache = tmp_path / "cache"
    processes = [_start(project, cache), _start(project, cache)]
    outputs = [_finish(p) for p in processes]
    log = (project.parent / "dist" / "same-build.log").read_text()
    assert log.count("stage validate") == 1, log  # one build's whole log, not two interleaved
    report = json.loads((project.parent / "dist" / "same-report.json").read_text())
    assert report["status"] == "ok" and report["artifacts"]
    assert not [p for p in (project.parent / "dist").iterdir() if p.name.startswith(".kiln-partial-")]
    # The second one waited for the first (or found its result unchanged); neither failed.
    assert all("build ok" in o or "unchanged" in o.lower() for o in outputs), outputs
    _run_portable(project.parent / "dist" / "same-1.0-linux-x86_64.tar.zst", tmp_path / "run", "same")
    assert os.listdir(project.parent / "dist")
