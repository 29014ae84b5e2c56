"""Nothing in the project's folder can stand in for Kiln when the wizard starts the engine (issue 12).

A project holding `app/`, `app.py`, `kiln/` and `kiln.py` (Flask's usual `app/` layout, or a user's own `kiln.py`) is
built through the wizard's real engine path (`EngineProcess`, a QProcess running `engine_argv`). Each of those
modules writes a marker file when imported: Kiln never imports or runs the user's code, so no marker may appear.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kit.testing import unpack_portable

from kiln.model.events import Event
from kiln.ui.engine_process import EngineProcess, engine_argv

# Module files that shadow Kiln's names if the project's folder were on the engine's sys.path or its working dir.
BAIT = ("app/__init__.py", "app/__main__.py", "app.py", "kiln/__init__.py", "kiln/__main__.py", "kiln.py")

PROJECT_FILE = """\
schema_version = 1

[app]
name = "greeter"
version = "1.0.0"
identifier = "org.example.greeter"

[entry]
module = "greeter.cli:main"
kind = "console"

[[installer]]
kind = "portable"
"""


def make_project(root: Path) -> tuple[Path, Path]:
    """A real tiny app (`greeter`, a console entry) beside the bait modules; returns (kiln.toml, markers folder).

    The default include (`**/*.py`) ships the bait too: the engine must handle it as files, never import it.
    """
    project, markers = root / "greeter project", root / "markers"
    markers.mkdir(parents=True)
    for name in BAIT:
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        marker = markers / name.replace("/", "--")
        path.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text(__name__)\n")
    (project / "greeter").mkdir()
    (project / "greeter" / "__init__.py").write_text("")
    (project / "greeter" / "cli.py").write_text('def main() -> int:\n    print("greetings from greeter")\n'
                                                "    return 0\n")
    (project / "kiln.toml").write_text(PROJECT_FILE)
    return project / "kiln.toml", markers


def written(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())


def test_engine_argv_keeps_the_working_directory_off_sys_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv = engine_argv(Path("kiln.toml"))  # relative, as a person may type it
    assert argv[0] == sys.executable
    assert argv[1:4] == ["-P", "-m", "kiln"]  # -P before -m: the cwd is never put on sys.path
    project = Path(argv[argv.index("build") + 1])
    assert project.is_absolute() and project == tmp_path.resolve() / "kiln.toml"
    assert argv[-2:] == ["--events", "jsonl"]


# A stand-in engine reporting where it runs: its working directory and PYTHONPATH.
WHERE_AM_I = (
    "import json, os\n"
    "print(json.dumps({'kind': 'done', 'data': {'status': 'ok', 'cwd': os.getcwd(),"
    " 'pythonpath': os.environ.get('PYTHONPATH')}}), flush=True)\n"
)


def test_engine_runs_outside_the_project_without_its_pythonpath(qtbot: Any, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    project, _markers = make_project(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(project.parent))  # e.g. a shell set up to run the user's app
    monkeypatch.chdir(project.parent)  # the wizard opened from inside the project's folder
    engine = EngineProcess()
    seen: list[Event] = []
    engine.event.connect(seen.append)
    with qtbot.waitSignal(engine.finished, timeout=30_000) as blocker:
        engine.start(project, [sys.executable, "-c", WHERE_AM_I])
    assert blocker.args[0] == "ok"
    where = next(e for e in seen if e.kind == "done").data
    assert where["pythonpath"] is None
    cwd = Path(where["cwd"]).resolve()
    assert cwd != project.parent.resolve() and project.parent.resolve() not in cwd.parents


@pytest.mark.slow
def test_wizard_engine_builds_a_project_full_of_kiln_and_app_modules(qtbot: Any, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    project, markers = make_project(tmp_path)
    # The bait works: started the old way (`-m` from the project's folder), the user's kiln/__main__.py runs.
    subprocess.run([sys.executable, "-m", "kiln", "--help"], cwd=project.parent, capture_output=True, timeout=60)
    assert "kiln--__main__.py" in written(markers)
    for marker in markers.iterdir():
        marker.unlink()

    monkeypatch.chdir(project.parent)
    monkeypatch.setenv("PYTHONPATH", str(project.parent))
    engine = EngineProcess()
    seen: list[Event] = []
    engine.event.connect(seen.append)
    with qtbot.waitSignal(engine.finished, timeout=600_000) as blocker:
        engine.start(project)  # the default command line: engine_argv(project)
    log = "\n".join(e.message for e in seen if e.kind in ("log", "error", "warning"))
    assert blocker.args[0] == "ok", log[-3000:]
    assert engine.finished_cleanly
    assert written(markers) == [], "the build imported the project's own modules"

    artifacts = [Path(e.data["path"]) for e in seen if e.kind == "artifact"]
    assert [a.name for a in artifacts] == ["greeter-1.0.0-linux-x86_64.tar.zst"]
    assert artifacts[0].parent == project.parent / "dist" and artifacts[0].is_file()
    report = json.loads(Path(blocker.args[1]).read_text())
    assert [Path(a["path"]).name for a in report["artifacts"]] == [artifacts[0].name]

    # The artifact is the real app: unpacked elsewhere, it runs and prints its greeting.
    unpacked = tmp_path / "unpacked"
    unpack_portable(artifacts[0], unpacked)
    bundled_app = unpacked / "greeter" / "app"
    shipped = {p.relative_to(bundled_app).as_posix() for p in bundled_app.rglob("*")}
    assert {"app/__main__.py", "app.py", "kiln/__init__.py", "kiln.py", "greeter/cli.py"} <= shipped  # its sources
    assert f"greeter/__pycache__/cli.cpython-{sys.version_info[0]}{sys.version_info[1]}.pyc" in shipped
    result = subprocess.run([str(unpacked / "greeter" / "greeter")], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "greetings from greeter"
    assert written(markers) == []  # the bundle's boot script does not import the app's `app` or `kiln` either
