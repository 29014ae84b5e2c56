"""`kiln try PROJECT -- ARGS`: the app runs from the bundle a build ships for this machine, with its exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

APP = "import sys\nif __name__ == '__main__':\n    print('argv', sys.argv[1:], sys.prefix)\n    sys.exit(3)\n"


def _project(tmp_path: Path) -> Path:
    folder = tmp_path / "tool"
    folder.mkdir()
    (folder / "tool.py").write_text(APP, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "kiln", "new", str(folder)], check=True, capture_output=True)
    return folder / "kiln.toml"


def test_try_runs_the_staged_bundle_with_the_apps_exit_code(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = subprocess.run([sys.executable, "-P", "-m", "kiln", "try", str(project), "--", "a b", "-x"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("argv"))
    assert "['a b', '-x']" in line and line.endswith("/current/bundle/runtime")


def test_events_mode_prepares_and_names_the_command(tmp_path: Path) -> None:
    project = _project(tmp_path)
    argv = [sys.executable, "-P", "-m", "kiln", "try", "--events", "jsonl", str(project), "--", "z"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert [e["stage"] for e in events if e["kind"] == "stage-start"] == ["runtime", "dependencies", "payload"]
    done = events[-1]
    assert done["kind"] == "done" and done["data"]["status"] == "ok" and done["data"]["reused"] is False
    assert done["data"]["argv"][1:2] == ["-I"] and done["data"]["argv"][-1] == "z"
    ran = subprocess.run(done["data"]["argv"], capture_output=True, text=True, env=done["data"]["env"])
    assert ran.returncode == 3 and "argv ['z']" in ran.stdout
    second = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert json.loads(second.stdout.splitlines()[-1])["data"]["reused"] is True
