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


def test_from_sources_runs_in_a_kept_environment_of_its_own(tmp_path: Path) -> None:
    """Not Kiln's Python and packages: a virtual environment of the app's (here: no requirements), made once."""
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    argv = [sys.executable, "-P", "-m", "kiln", "try", "--from-sources", "--cache-dir", str(cache), "--events",
            "jsonl", str(project), "--", "z"]
    first = [json.loads(line) for line in subprocess.run(argv, capture_output=True, text=True, timeout=300,
                                                          cwd=tmp_path, check=True).stdout.splitlines()]
    done = first[-1]["data"]
    assert done["status"] == "ok" and done["reused"] is False and done["cwd"] == str(project.parent)
    python = Path(done["argv"][0])
    assert python.parent.parent.parent == cache / "devenv" and (python.parent.parent / "pyvenv.cfg").is_file()
    ran = subprocess.run(done["argv"], capture_output=True, text=True, env=done["env"], cwd=done["cwd"])
    assert ran.returncode == 3 and "argv ['z']" in ran.stdout and str(python.parent.parent) in ran.stdout
    second = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path, check=True)
    assert json.loads(second.stdout.splitlines()[-1])["data"]["reused"] is True
    assert sorted(p.name for p in project.parent.iterdir()) == ["kiln.toml", "tool.py"]  # nothing left beside


def test_the_environment_follows_the_requirements(tmp_path: Path) -> None:
    from kiln.engine.devenv import env_key
    from kiln.model.project_file import load_project

    project = _project(tmp_path)
    before = env_key(load_project(project))
    project.write_text(project.read_text(encoding="utf-8") + '\n[dependencies]\nrequirements = ["six"]\n',
                       encoding="utf-8")
    assert env_key(load_project(project)) != before
