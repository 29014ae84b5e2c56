"""End to end: real portable builds of the examples, run on a clean environment; reuse; cancel; failures."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kit import sbom as sbom_kit
from kit.projects import copy_example
from kit.runner import kiln
from kit.testing import REPO, unpack_portable

from kiln.engine.fingerprint import STATE_NAME as FINGERPRINT_NAME
from kiln.engine.output_folder import LOCK_NAME
from kiln.model.events import Event, JsonLinesReader

ROOT = REPO
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kiln-cache")


def kiln_env(cache_dir: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "KILN_CACHE_DIR": str(cache_dir)}


def new_project(tmp_path: Path, example: str) -> Path:
    """A copy of the example with its own project file (the app's files by [source] include, so these tests see
    the app/ folder; tests/app/engine/test_app_shapes.py builds projects into wheels), portable only."""
    return copy_example(example, tmp_path, installer=[{"kind": "portable"}])  # keep these tests about that kind


def copy_project(project: Path, tmp_path: Path) -> Path:
    """A private copy of a built project (with its dist/), so a test may change it."""
    shutil.copytree(project.parent, tmp_path / "app")
    return tmp_path / "app" / project.name


def build_events(project: Path, cache_dir: Path) -> tuple[int, list[Event]]:
    built = kiln("build", project, "--events", "jsonl", env=kiln_env(cache_dir), timeout=900)
    return built.returncode, built.events


def unpack(artifact: Path, dest: Path) -> None:
    unpack_portable(artifact, dest)


def run_hidden(argv: list[str], extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """env -i, no Python on PATH, the host interpreter's prefix hidden behind an empty tmpfs."""
    env_args = [f"{k}={v}" for k, v in (extra_env or {}).items()]
    if os.geteuid() == 0 and shutil.which("unshare"):
        script = 'mount -t tmpfs none "$1" && shift && exec env -i "$@"'
        full = ["unshare", "-m", "sh", "-c", script, "sh", sys.base_prefix, *env_args, *argv]
    else:
        full = ["env", "-i", *env_args, *argv]
    return subprocess.run(full, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def hello_build(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> tuple[Path, list[Event]]:
    project = new_project(tmp_path_factory.mktemp("hello"), "hello")
    code, events = build_events(project, cache_dir)
    assert code == 0, [e.message for e in events if e.kind in ("error", "log")]
    return project, events


def test_hello_portable_runs_anywhere(hello_build: tuple[Path, list[Event]], tmp_path: Path) -> None:
    _project, events = hello_build
    artifact = Path(next(e for e in events if e.kind == "artifact").data["path"])
    assert artifact.name == "hello-1.0.0-linux-x86_64.tar.zst"
    unpack(artifact, tmp_path / "somewhere else")
    launcher = tmp_path / "somewhere else" / "hello" / "hello"
    shipped = sorted(p.name for p in launcher.parent.iterdir())
    assert shipped == ["app", "hello", "kiln_boot.py", "packages", "runtime", "sbom.cdx.json"]  # nothing stray
    result = run_hidden([str(launcher), "two words", "ünï", "--exit", "7"])
    assert result.returncode == 7, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Hello from a data file shipped inside the app!"
    assert lines[1].startswith("rich ") and lines[1].split()[1][0].isdigit()
    assert json.loads(lines[2].removeprefix("args: ")) == ["two words", "ünï", "--exit", "7"]
    diagnose = json.loads(run_hidden([str(launcher), "--diagnose"]).stdout)
    bundle = str(launcher.parent)
    assert diagnose["prefix"] == f"{bundle}/runtime"
    assert diagnose["libpython"].startswith(bundle)
    assert all(entry.startswith(bundle) for entry in diagnose["path"]), diagnose["path"]


def test_hello_portable_sbom_names_every_file_it_ships(hello_build: tuple[Path, list[Event]], tmp_path: Path) -> None:
    _project, events = hello_build
    artifact_event = next(e for e in events if e.kind == "artifact")
    artifact, sbom = Path(artifact_event.data["path"]), Path(artifact_event.data["sbom"])
    assert sbom == artifact.with_name(artifact.name + ".cdx.json")
    unpack(artifact, tmp_path / "unpacked")
    files = sbom_kit.read_tree(tmp_path / "unpacked")
    report = json.loads(Path(events[-1].data["report"]).read_text(encoding="utf-8"))
    document = sbom_kit.check(sbom, files["hello/sbom.cdx.json"], files,
                              [f"hello/{part}" for part in ("runtime", "packages", "app", "kiln_boot.py")],
                              report["dependencies"]["linux-x86_64"]["installed"])
    assert sbom_kit.listed_files(document)["hello/hello"]  # the launcher
    assert report["artifacts"][0]["sbom"] == str(sbom)


def test_events_and_report(hello_build: tuple[Path, list[Event]]) -> None:
    _project, events = hello_build
    starts = [e.stage for e in events if e.kind == "stage-start"]
    assert starts == ["validate", "runtime", "dependencies", "payload", "check", "portable", "report"]
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    done = events[-1]
    assert done.kind == "done" and done.data["status"] == "ok"
    report = json.loads(Path(done.data["report"]).read_text())
    artifact = report["artifacts"][0]
    import hashlib

    assert hashlib.sha256(Path(artifact["path"]).read_bytes()).hexdigest() == artifact["sha256"]
    sizes = report["size_by_component"]
    assert {"runtime", "stdlib", "app", "rich"} <= set(sizes) and sizes["stdlib"] > sizes["app"] > 0
    assert set(report["stages"]) == set(starts) - {"report"}  # the report is written during its own stage
    assert Path(done.data["log"]).read_text().count("run [") >= 1  # external commands are logged


def test_second_build_reuses_runtime_and_wheels(hello_build: tuple[Path, list[Event]], cache_dir: Path) -> None:
    project, _ = hello_build
    cli = project.parent / "hello" / "cli.py"  # unchanged inputs would make a no-op build (kiln.engine.fingerprint)
    cli.write_text(cli.read_text() + "# changed\n")
    code, events = build_events(project, cache_dir)
    assert code == 0
    report = json.loads(Path(events[-1].data["report"]).read_text())
    assert report["runtimes"]["linux-x86_64"]["reused"] is True
    assert report["dependencies"]["linux-x86_64"]["reused_wheels"] is True
    # the first build wrote Kiln's lock; this one installed exactly the locked, hash-checked wheels
    assert report["dependencies"]["linux-x86_64"]["locked"] is True
    assert 'name = "rich"' in (project.parent / "pylock.linux-x86_64.toml").read_text()
    rich = next(d for d in report["dependencies"]["linux-x86_64"]["installed"] if d["name"] == "rich")
    assert rich["source"] == "kiln-lock" and len(rich["sha256"]) == 64
    assert [d["name"] for d in report["dependencies"]["linux-x86_64"]["installed"]].count("rich") == 1


class _SlowIndex(http.server.BaseHTTPRequestHandler):
    """A package index that never answers in time: keeps pip busy inside the dependencies stage."""

    def do_GET(self) -> None:
        time.sleep(30)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_index() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowIndex)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/simple"
    server.shutdown()


def test_cancel_during_dependencies_keeps_previous_artifact(
    hello_build: tuple[Path, list[Event]], cache_dir: Path, slow_index: str, tmp_path: Path
) -> None:
    project = copy_project(hello_build[0], tmp_path)
    dist = project.parent / "dist"
    previous = next(dist.glob("*.tar.zst"))
    before = previous.read_bytes()
    text = project.read_text().replace('requirements = ["rich>=13"]', 'requirements = ["kiln-never-cached-pkg"]')
    project.write_text(text.replace("[dependencies]", f'[dependencies]\nindex_url = "{slow_index}"', 1))
    process = subprocess.Popen([sys.executable, "-m", "kiln", "build", str(project), "--events", "jsonl"],
                               stdout=subprocess.PIPE, env=kiln_env(cache_dir))
    reader, seen = JsonLinesReader(), []
    assert process.stdout is not None
    while not any(e.kind == "stage-start" and e.stage == "dependencies" for e in seen):
        line = process.stdout.readline()
        assert line, "engine ended before the dependencies stage"
        seen += reader.feed(line)
    time.sleep(1.0)  # pip is now waiting on the slow index
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=30)
    seen += reader.feed(rest) + reader.flush()
    assert process.returncode == 130
    assert seen[-1].kind == "done" and seen[-1].data["status"] == "cancelled"
    assert previous.read_bytes() == before
    # the output folder's lock file stays (it is only ever locked, never written) and so does the previous
    # build's fingerprint (it still describes the artifact that was kept); nothing else of the cancelled build
    leftovers = {p.name for p in dist.iterdir() if p.name.startswith(".")} - {LOCK_NAME, FINGERPRINT_NAME}
    assert leftovers == set()
    assert not any(e.kind == "artifact" for e in seen)


def test_failed_build_reports_error_and_keeps_previous(hello_build: tuple[Path, list[Event]], cache_dir: Path,
                                                       tmp_path: Path) -> None:
    copy = copy_project(hello_build[0], tmp_path)
    previous = next((copy.parent / "dist").glob("*.tar.zst"))
    before = previous.read_bytes()
    wheels = tmp_path / "empty-wheelhouse"
    wheels.mkdir()
    text = copy.read_text().replace('requirements = ["rich>=13"]', 'requirements = ["no-such-package-kiln"]')
    copy.write_text(text.replace("[dependencies]", f'[dependencies]\nno_index = true\nfind_links = ["{wheels}"]', 1))
    code, seen = build_events(copy, cache_dir)
    assert code == 1
    error = next(e for e in seen if e.kind == "error")
    assert "no-such-package-kiln" in error.message and "linux-x86_64" in error.message
    assert seen[-1].data["status"] == "failed"
    assert previous.read_bytes() == before


def test_qt_hello_portable_runs_offscreen(cache_dir: Path, tmp_path: Path) -> None:
    project = new_project(tmp_path, "qt-hello")
    code, events = build_events(project, cache_dir)
    assert code == 0, [e.message for e in events if e.kind == "error"]
    artifact = Path(next(e for e in events if e.kind == "artifact").data["path"])
    unpack(artifact, tmp_path / "out")
    result = run_hidden([str(tmp_path / "out" / "qt-hello" / "qt-hello")], {"QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert "window shown: Qt Hello / Hello from a Qt window packaged by Kiln / platform offscreen" in result.stdout


def test_msi_upgrade_code_generated_during_a_build_is_saved(tmp_path: Path, cache_dir: Path) -> None:
    project = new_project(tmp_path, "hello")
    project.write_text(project.read_text() + '\n# keep me\n[[installer]]\nkind = "msi"\n')
    # no Windows runtime can be fetched here: the build fails later, but the generated code is already saved
    build_events(project, cache_dir)
    text = project.read_text()
    assert "# keep me" in text and "upgrade_code = " in text
    from kiln.model.project_file import load_project

    first = load_project(project).project.installer[1].upgrade_code  # type: ignore[union-attr]
    build_events(project, cache_dir)
    assert load_project(project).project.installer[1].upgrade_code == first  # type: ignore[union-attr]


def test_keep_sources_ships_bytecode_for_dependencies_too(cache_dir: Path, tmp_path: Path) -> None:
    project = new_project(tmp_path, "hello")
    project.write_text(project.read_text() + "\n[build]\nkeep_sources = true\n")
    code, events = build_events(project, cache_dir)
    assert code == 0, [e.message for e in events if e.kind == "error"]
    unpack(Path(next(e for e in events if e.kind == "artifact").data["path"]), tmp_path / "out")
    bundle = tmp_path / "out" / "hello"
    tag = f"cpython-{sys.version_info[0]}{sys.version_info[1]}"
    for package in ("packages/rich", "app/hello"):
        assert (bundle / package / "__init__.py").is_file()
        assert (bundle / package / "__pycache__" / f"__init__.{tag}.pyc").is_file(), package
