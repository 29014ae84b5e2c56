"""Rebuilds that do only what changed: a no-op build publishes nothing, an app-only change reuses the installed
dependencies (no pip run) and ships the new code.

The fast tests work on the fingerprint itself; the slow ones build examples/hello (portable + AppImage) for
real through the CLI, rebuild, and run what was published. Nothing here measures time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kit.projects import copy_example
from kit.testing import REPO, require_tools

from kiln.engine import fingerprint
from kiln.kinds.contract import Artifact
from kiln.model.events import Event, JsonLinesReader
from kiln.model.project_file import load_project


def _project(tmp_path: Path) -> Path:
    return copy_example("hello", tmp_path, installer=[{"kind": "portable"}, {"kind": "appimage"}])


def _inputs(project: Path, cache: Path | None = None) -> dict[str, str]:
    project_file = load_project(project)
    cache = cache or project.parent.parent / "cache"
    return fingerprint.inputs(project_file, project.parent / "dist", ["portable:linux-x86_64"], cache)


def test_a_runtime_added_to_the_cache_is_a_new_input(tmp_path: Path) -> None:
    """`kiln runtimes add` can change which runtime a build picks: the next build must not be a no-op."""
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    first = _inputs(project, cache)
    marker = cache / "runtimes" / "linux-x86_64" / "cpython-3.11.4" / "kiln-runtime.json"
    marker.parent.mkdir(parents=True)
    marker.write_text("{}")
    assert _inputs(project, cache)["runtimes"] != first["runtimes"]


def test_inputs_follow_sources_not_outputs(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = _inputs(project)
    assert _inputs(project) == first
    (project.parent / "dist").mkdir()
    (project.parent / "dist" / "hello.tar.zst").write_bytes(b"an artifact")
    (project.parent / "hello" / "__pycache__").mkdir()
    (project.parent / "hello" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"cache")
    assert _inputs(project) == first, "outputs and caches are not inputs"
    cli = project.parent / "hello" / "cli.py"
    cli.write_text(cli.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    changed = _inputs(project)
    assert changed["sources"] != first["sources"] and changed["project"] == first["project"]
    (project.parent / "kiln.lock").write_text("# a lock\n", encoding="utf-8")
    assert _inputs(project)["lock"] != changed["lock"]


@pytest.mark.parametrize("variable", ["KILN_APPIMAGE_RUNTIME", "KILN_WINDOWS_LAUNCHERS", "KILN_MACOS_LAUNCHERS"])
def test_another_launcher_build_is_a_new_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    """CI points Kiln at freshly built launchers: a build with other launchers must not be a no-op."""
    project = _project(tmp_path)
    monkeypatch.delenv(variable, raising=False)
    first = _inputs(project)
    (tmp_path / "rebuilt").mkdir()
    monkeypatch.setenv(variable, str(tmp_path / "rebuilt"))
    assert _inputs(project)["environment"] != first["environment"]


def test_check_refuses_a_touched_or_missing_artifact(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    artifact = out / "app.tar.zst"
    artifact.write_bytes(b"bytes")
    report = out / "app-report.json"
    report.write_text("{}", encoding="utf-8")
    inputs = {"sources": "a"}
    assert fingerprint.record(out, inputs, inputs, [Artifact("portable", artifact, 5, "00")], report)
    unchanged = fingerprint.check(out, inputs)
    assert unchanged is not None and [a.path for a in unchanged.artifacts] == [artifact]
    assert fingerprint.check(out, {"sources": "b"}) is None
    os.utime(artifact, ns=(artifact.stat().st_atime_ns, artifact.stat().st_mtime_ns + 10**9))
    assert fingerprint.check(out, inputs) is None
    # Sources that moved while the build ran: nothing is recorded, so the next build builds.
    assert not fingerprint.record(out, inputs, {"sources": "c"}, [Artifact("portable", artifact, 5, "00")], report)
    assert not (out / fingerprint.STATE_NAME).exists()


def _build(project: Path, cache: Path) -> list[Event]:
    require_tools("mksquashfs")
    result = subprocess.run([sys.executable, "-m", "kiln", "build", str(project), "--events", "jsonl"],
                            capture_output=True, timeout=1800, check=False, cwd=project.parent.parent,
                            env={**os.environ, "PYTHONPATH": str(REPO), "KILN_CACHE_DIR": str(cache)})
    reader = JsonLinesReader()
    events = reader.feed(result.stdout) + reader.flush()
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    return events


def _artifacts(project: Path) -> dict[str, tuple[bytes, int]]:
    dist = project.parent / "dist"
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(dist.iterdir())
            if p.name.endswith((".AppImage", ".tar.zst"))}


@pytest.mark.long  # bash .ci/long
@pytest.mark.slow
def test_no_op_rebuild_leaves_the_artifacts_alone(tmp_path: Path) -> None:
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    _build(project, cache)
    before = _artifacts(project)
    report = (project.parent / "dist" / "hello-report.json").read_bytes()
    assert len(before) == 2
    time.sleep(0.05)
    events = _build(project, cache)
    assert _artifacts(project) == before, "bytes and modification times must not change"
    assert (project.parent / "dist" / "hello-report.json").read_bytes() == report
    assert not [e for e in events if e.kind == "stage-start"], "no stage runs when nothing changed"
    done = events[-1]
    assert done.kind == "done" and done.data["status"] == "ok" and done.data["up_to_date"] is True
    assert "nothing changed" in done.message
    assert {Path(e.data["path"]).name for e in events if e.kind == "artifact"} == set(before)
    # Any input changing builds again: here only the project file's version.
    text = project.read_text(encoding="utf-8").replace('version = "1.0.0"', 'version = "1.0.1"')
    project.write_text(text, encoding="utf-8")
    events = _build(project, cache)
    assert any(e.kind == "stage-start" for e in events)
    assert (project.parent / "dist" / "hello-1.0.1-linux-x86_64.tar.zst").is_file()


REUSED_BASES = ("reusing their compressed squashfs", "reusing their compressed tar frame")


def _touch_app(project: Path, marker: str) -> None:
    cli = project.parent / "hello" / "cli.py"
    text = cli.read_text(encoding="utf-8")
    cli.write_text(text.replace("def main() -> int:\n", f"def main() -> int:\n    print({marker!r})\n", 1),
                   encoding="utf-8")


def _logs(events: list[Event]) -> list[str]:
    return [e.message for e in events if e.kind == "log"]


def _run_artifacts(project: Path, tmp_path: Path) -> list[str]:
    """The first line each artifact's app prints: the AppImage run for real, the portable unpacked by GNU tar."""
    return [output[0] for output in _run_both(project, tmp_path, "hello")]


@pytest.mark.slow
def test_app_only_change_reuses_dependencies_and_ships_the_new_code(tmp_path: Path) -> None:
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    logs = _logs(_build(project, cache))
    assert not any(reused in m for m in logs for reused in REUSED_BASES), "a cold build makes its bases"
    marker = "touched: the rebuilt code runs"
    _touch_app(project, marker)
    logs = _logs(_build(project, cache))
    assert any("reusing the installed tree" in m for m in logs), logs
    assert any("compiled to bytecode once, in the cache" in m for m in logs), logs
    for reused in REUSED_BASES:  # only the app's files were compressed
        assert any(reused in m for m in logs), (reused, logs)
    build_log = (project.parent / "dist" / "hello-build.log").read_text(encoding="utf-8")
    assert "'-m', 'pip'" not in build_log, "no pip run when the lock is unchanged"
    assert _run_artifacts(project, tmp_path) == [marker, marker]
    report = json.loads((project.parent / "dist" / "hello-report.json").read_text(encoding="utf-8"))
    assert "rich" in {d["name"] for d in report["dependencies"]["linux-x86_64"]["installed"]}


@pytest.mark.slow
def test_layered_rebuild_has_the_bytes_of_a_cold_build(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _build(project, tmp_path / "cache")
    _touch_app(project, "layered")
    logs = _logs(_build(project, tmp_path / "cache"))
    assert all(any(reused in m for m in logs) for reused in REUSED_BASES), logs
    layered = {name: data for name, (data, _mtime) in _artifacts(project).items()}
    # The same sources built with an empty cache: runtime, dependencies, bytecode and both bases made afresh.
    logs = _logs(_build(project, tmp_path / "cold-cache"))
    assert not any(reused in m for m in logs for reused in REUSED_BASES), logs
    cold = {name: data for name, (data, _mtime) in _artifacts(project).items()}
    assert len(cold) == 2 and cold == layered, "an artifact's bytes must not depend on where its base came from"
    # A cache entry cut short is made again, not used, and the artifact keeps its bytes.
    for base in (tmp_path / "cache" / "bases").glob("*/*/base"):
        base.write_bytes(base.read_bytes()[: base.stat().st_size // 2])
    (project.parent / "dist" / fingerprint.STATE_NAME).unlink()
    logs = _logs(_build(project, tmp_path / "cache"))
    assert not any(reused in m for m in logs for reused in REUSED_BASES), logs
    assert {name: data for name, (data, _mtime) in _artifacts(project).items()} == layered
    assert _run_artifacts(project, tmp_path) == ["layered", "layered"]


@pytest.mark.long  # bash .ci/long
@pytest.mark.slow
def test_a_change_below_the_app_layer_makes_new_bases(tmp_path: Path) -> None:
    """What the bases hold changing (here the dependencies' bytecode, through [build] optimize) is never hidden
    by a cached base: the key is the content itself."""
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    _build(project, cache)
    text = project.read_text(encoding="utf-8")
    project.write_text(text + "\n[build]\noptimize = 2\n", encoding="utf-8")
    _touch_app(project, "optimized")
    logs = _logs(_build(project, cache))
    assert any("reusing the installed tree" in m for m in logs), logs  # the same lock: no pip run
    assert not any(reused in m for m in logs for reused in REUSED_BASES), logs
    assert len(list((cache / "bases" / "appimage").glob("*/base"))) == 2
    assert _run_artifacts(project, tmp_path) == ["optimized", "optimized"]


WHEEL_APP = {
    "pyproject.toml": '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
                      '[project]\nname = "tally"\nversion = "1.0.0"\ndependencies = ["click>=8"]\n'
                      '[project.scripts]\ntally = "tally.cli:main"\n'
                      '[tool.setuptools.package-data]\ntally = ["sample.txt"]\n',
    "src/tally/__init__.py": "",
    "src/tally/sample.txt": "one two three\n",
    "src/tally/cli.py": "import importlib.metadata, importlib.resources\n\nimport click\n\n\ndef main() -> int:\n"
                        "    print('MARKER')\n"
                        "    words = importlib.resources.files('tally').joinpath('sample.txt').read_text().split()\n"
                        "    print(importlib.metadata.version('tally'), len(words), click.__name__)\n"
                        "    return 0\n",
    "kiln.toml": 'schema_version = 1\n[app]\nname = "tally"\nversion = "1.0.0"\n[entry]\nmodule = "tally.cli:main"\n'
                 'kind = "console"\n[dependencies]\nrequirements = ["click>=8"]\n'
                 '[[installer]]\nkind = "appimage"\n[[installer]]\nkind = "portable"\n',
}


def _wheel_app(folder: Path, marker: str) -> Path:
    for name, text in WHEEL_APP.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text.replace("MARKER", marker), encoding="utf-8")
    return folder / "kiln.toml"


def _run_wheel_app(project: Path, tmp_path: Path) -> list[list[str]]:
    return _run_both(project, tmp_path, "tally")


def _run_both(project: Path, tmp_path: Path, name: str) -> list[list[str]]:
    """What the AppImage (run for real) and the portable (unpacked by GNU tar) of app `name` print, in a clean
    environment."""
    dist = project.parent / "dist"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path), "APPIMAGE_EXTRACT_AND_RUN": "1",
           "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "LANG": "C.UTF-8"}
    unpacked = tmp_path / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    unpacked.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(dist / f"{name}-1.0.0-linux-x86_64.tar.zst"), "-C", str(unpacked)],
                   check=True, timeout=300)
    outputs = []
    for program in (dist / f"{name}-1.0.0-linux-x86_64.AppImage", unpacked / name / name):
        run = subprocess.run([str(program)], capture_output=True, text=True, timeout=300, env=env, check=False)
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout.splitlines())
    return outputs


@pytest.mark.slow
def test_a_wheel_project_rebuild_redoes_only_the_app_layer_with_a_cold_builds_bytes(tmp_path: Path) -> None:
    """A project built into a wheel: its wheel is the app layer, so a change to its code reuses the installed
    dependencies and both compressed bases, builds the wheel in the kept build environment (no pip, no new
    environment), and publishes what a cold build of the same sources publishes, byte for byte."""
    project = _wheel_app(tmp_path / "tally", "first")
    cache = tmp_path / "cache"
    events = _build(project, cache)
    # Stages that ran side by side still start in the planned order; the progress only moves on.
    starts = [e.stage for e in events if e.kind == "stage-start"]
    assert starts == ["validate", "runtime", "dependencies", "payload", "check", "appimage", "portable", "report"]
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [i["status"] for i in events[-1].data["installers"]] == ["ok", "ok"]
    (cli := project.parent / "src" / "tally" / "cli.py").write_text(
        cli.read_text(encoding="utf-8").replace("'first'", "'touched'"), encoding="utf-8")
    logs = _logs(_build(project, cache))
    assert any("reusing the installed tree" in m for m in logs), logs
    for reused in REUSED_BASES:
        assert any(reused in m for m in logs), (reused, logs)
    build_log = (project.parent / "dist" / "tally-build.log").read_text(encoding="utf-8")
    assert "'-m', 'pip'" not in build_log and "'-m', 'venv'" not in build_log, "no pip, no new environment"
    assert _run_wheel_app(project, tmp_path) == [["touched", "1.0.0 3 click"]] * 2
    layered = {name: data for name, (data, _mtime) in _artifacts(project).items()}
    lock = (project.parent / "pylock.linux-x86_64.toml").read_text(encoding="utf-8")
    assert 'name = "click"' in lock and 'name = "tally"' not in lock  # the app's own wheel is never locked
    # The same sources, an empty cache: a new build environment for the wheel, the
    # dependencies installed by pip from the lock, both bases compressed afresh.
    logs = _logs(_build(project, tmp_path / "cold-cache"))
    assert not any(reused in m for m in logs for reused in REUSED_BASES), logs
    cold = {name: data for name, (data, _mtime) in _artifacts(project).items()}
    assert len(cold) == 2 and cold == layered
