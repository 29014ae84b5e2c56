"""The app's command is the project's own script name for its entry (pygmentize), else app.name; [entry] command
overrides both."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.model.project import EntrySection
from kiln.source.command import command_name


def install(packages: Path, distribution: str, entry_points: str) -> None:
    """A distribution's .dist-info with its entry_points.txt, as pip leaves it in the bundle."""
    dist_info = packages / f"{distribution}-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "entry_points.txt").write_text(entry_points, encoding="utf-8")


@pytest.fixture
def packages(tmp_path: Path) -> Path:
    install(tmp_path, "Pygments", "[console_scripts]\npygmentize = pygments.cmdline:main\n")
    install(tmp_path, "helper", "[console_scripts]\nalso-runs = pygments.cmdline : main [extra]\n"
                                "[pygments.lexers]\nx = y:z\n")
    install(tmp_path, "tools", "[gui_scripts]\nTools-GUI = tools.gui:run\n[console_scripts]\ntools = tools.cli:main\n"
                               "tools3 = tools.cli:main\nbad name = other:main\n")
    return tmp_path


@pytest.mark.parametrize(("entry", "own", "expected"), [
    pytest.param(EntrySection(module="pygments.cmdline:main"), "pygments", ("pygmentize", "Pygments"),
                 id="own-script-first"),
    pytest.param(EntrySection(module="pygments.cmdline:main"), "helper", ("also-runs", "helper"),
                 id="spaces-and-extras-ignored"),
    pytest.param(EntrySection(module="tools.cli:main"), "", ("tools", "tools"), id="named-like-the-app"),
    pytest.param(EntrySection(module="tools.gui:run", kind="gui"), "", ("Tools-GUI", "tools"), id="gui-script"),
    pytest.param(EntrySection(module="other:main"), "", ("myapp", ""), id="invalid-names-skipped"),
    pytest.param(EntrySection(module="pygments"), "", ("myapp", ""), id="a-module-has-no-script"),
    pytest.param(EntrySection(script="main.py"), "", ("myapp", ""), id="a-script-file"),
    pytest.param(EntrySection(module="pygments.cmdline:main", command="pyg"), "pygments", ("pyg", ""),
                 id="set-in-the-project"),
])
def test_command_name(packages: Path, entry: EntrySection, own: str, expected: tuple[str, str]) -> None:
    app_name = "tools" if entry.module.startswith("tools.cli") else "myapp"
    name, why = command_name(entry, app_name, packages, own)
    assert name == expected[0]
    assert (expected[1] in why) if expected[1] else (why in ("", "[entry] command"))


def test_no_packages_folder(tmp_path: Path) -> None:
    assert command_name(EntrySection(module="a:b"), "app", tmp_path / "missing") == ("app", "")


def test_a_script_named_like_a_bundle_folder_is_not_the_command(tmp_path: Path) -> None:
    install(tmp_path, "web", "[console_scripts]\napp = web.main:run\n")
    assert command_name(EntrySection(module="web.main:run"), "web", tmp_path, "web") == ("web", "")
