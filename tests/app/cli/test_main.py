"""Every bad input gives exit code 1 and a short message, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kit.projects import copy_example
from kit.runner import KilnRun
from kit.runner import kiln as run_kiln
from kit.testing import REPO

ROOT = REPO
GOOD = """\
[app]
name = "hello"
version = "1.0.0"
[entry]
module = "hello.cli:main"
[source]
include = ["hello/**"]
"""


def kiln(*args: str | Path, cwd: Path | None = None) -> KilnRun:
    """Kiln with a bare environment: no tool but the system's, no variable the machine happens to set."""
    bare = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    return run_kiln(*args, cwd=cwd, env=bare, inherit=False, timeout=120)


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    return copy_example("hello", tmp_path, project=False).parent


def _assert_clean_failure(result: KilnRun, *words: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert len(output.splitlines()) <= 25, output
    for word in words:
        assert word in output, output


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        pytest.param(lambda t: t.replace("[entry]", "[entry"), ("line", "TOML"), id="malformed-toml"),
        pytest.param(lambda t: t + '[[installer]]\nkind = "zip"\n', ("installer[0]", "zip"), id="unknown-kind"),
        pytest.param(lambda t: t.replace("hello.cli:main", "nothere.cli:main"), ("entry.module", "nothere"),
                     id="missing-entry-module"),
        pytest.param(lambda t: t + '[icon]\npath = "missing.png"\n', ("icon.path", "missing.png"), id="missing-icon"),
        pytest.param(lambda t: t + '[dependencies]\nrequirements = ["rich >>> 1"]\n',
                     ("dependencies.requirements", "PEP 508"), id="invalid-requirement"),
        pytest.param(lambda t: t.replace('"1.0.0"', '"version one"'), ("app.version", "is not a version"),
                     id="bad-version"),
        pytest.param(lambda t: t.replace("[source]", "[sauce]"), ("sauce", "unknown key"), id="unknown-section"),
        pytest.param(lambda t: t.replace('name = "hello"', "name = 5"), ("app.name",), id="wrong-type"),
        pytest.param(lambda t: t + '[python]\nsource = "nope.tar.gz"\n', ("python.source",), id="missing-runtime"),
        pytest.param(lambda t: t + '[dependencies]\nrequirements_file = "r.txt"\n',
                     ("requirements_file", "r.txt"), id="missing-requirements-file"),
        pytest.param(lambda t: "\xff\xfe", ("UTF-8",), id="not-utf8"),
        pytest.param(lambda t: t.replace('"1.0.0"', '"1.0.0rc1"') + '[[installer]]\nkind = "msi"\n',
                     ("app.version", "MSI"), id="version-not-msi-mappable"),
        pytest.param(lambda t: t + '[dependencies]\nextras = ["fast"]\n', ("dependencies.extras", "requirements"),
                     id="extras-of-a-folder-of-files"),
        pytest.param(lambda t: t.replace('module = "hello.cli:main"', 'module = "hello.cli:main"\ncommand = "a b"'),
                     ("entry.command", "letters, digits"), id="bad-command-name"),
        pytest.param(lambda t: t.replace('module = "hello.cli:main"', 'module = "hello.cli:main"\ncommand = "App"'),
                     ("entry.command", "folder of the app's bundle"), id="command-named-like-a-bundle-folder"),
    ],
)
@pytest.mark.parametrize("command", ["check", "build"])
def test_bad_project_files(app_folder: Path, command: str, edit: object, words: tuple[str, ...]) -> None:
    path = app_folder / "kiln.toml"
    text = edit(GOOD)  # type: ignore[operator]
    path.write_bytes(text.encode("utf-8", errors="surrogateescape") if text != "\xff\xfe" else b"\xff\xfe[")
    _assert_clean_failure(kiln(command, path), *words)


def test_missing_and_folder_arguments(tmp_path: Path) -> None:
    _assert_clean_failure(kiln("check", tmp_path / "nope.toml"), "no such project file")
    _assert_clean_failure(kiln("check", tmp_path), "is a folder")
    _assert_clean_failure(kiln("new", tmp_path / "nope"), "not a folder")
    _assert_clean_failure(kiln("inspect", tmp_path / "x.bin"), "no such file")


def test_new_then_check(app_folder: Path) -> None:
    result = kiln("new", app_folder)
    assert result.returncode == 0, result.stderr
    assert "installers: appimage, portable, msi, dmg" in result.stdout  # one for every platform
    assert kiln("check", app_folder / "kiln.toml").returncode == 0
    _assert_clean_failure(kiln("new", app_folder), "already exists")


@pytest.mark.parametrize(("tables", "kinds", "words"), [
    pytest.param('[[installer]]\nkind = "portable"\n', ["msi"],
                 ("has no installer of kind msi", "--kind msi", '[[installer]]', 'kind = "msi"'), id="no-table"),
    pytest.param('[[installer]]\nkind = "portable"\n', ["portable", "msi", "dmg"],
                 ("has no installer of kind msi or dmg", 'kind = "dmg"'), id="some-missing"),
    pytest.param('[[installer]]\nkind = "msi"\nenabled = false\n', ["msi"],
                 ("the msi installer is switched off", "enabled = true"), id="switched-off"),
])
def test_a_kind_without_a_table_is_an_error_not_an_empty_build(app_folder: Path, tables: str, kinds: list[str],
                                                               words: tuple[str, ...]) -> None:
    project = app_folder / "kiln.toml"
    project.write_text(GOOD + tables, encoding="utf-8")
    result = kiln("build", project, *(arg for kind in kinds for arg in ("--kind", kind)))
    _assert_clean_failure(result, *words)
    assert not (app_folder / "dist").exists()  # nothing was started, not even the output folder


def test_new_leaves_todos_that_check_reports(tmp_path: Path) -> None:
    assert kiln("new", tmp_path).returncode == 0
    _assert_clean_failure(kiln("check", tmp_path / "kiln.toml"), "app.version", "entry.module", "TODO")


def test_schema_is_json_schema() -> None:
    result = kiln("schema")
    schema = json.loads(result.stdout)
    assert {"app", "entry", "installer"} <= set(schema["properties"])


def test_python_dash_m_app_is_kiln() -> None:
    assert "kiln" in kiln("--version").stdout
