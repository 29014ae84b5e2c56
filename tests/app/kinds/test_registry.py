"""One registry of installer kinds: a kind registered from outside Kiln (tests/kit/toy_kind/: one folder, one line)
is checked, built, inspected, in the schema and in the tool list without any other change (the wizard's side is
tests/ui/test_installer_kinds.py); the model imports the kinds without any installer code."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.cli.main import main
from kiln.kinds import registry
from kiln.kinds.tools import debian_packages
from kiln.model.project import Project
from kiln.model.project_file import load_project
from kiln.support import tools
from kiln.support.errors import ToolMissing

PROJECT = """\
[app]
name = "hello"
version = "1.0.0"
[entry]
module = "hello.cli:main"
[source]
include = ["hello/**"]
[[installer]]
kind = "toy"
greeting = "{greeting}"
"""


@pytest.fixture
def toy() -> Iterator[None]:
    registry.load("kit.toy_kind")  # the one line a kind from outside Kiln needs
    yield
    registry.unregister("toy")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    package = tmp_path / "hello" / "hello"  # an app with no dependencies (the bundle check follows its imports)
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text("def main():\n    print('hi')\n")
    path = tmp_path / "hello" / "kiln.toml"
    path.write_text(PROJECT.format(greeting="hi there"))
    return path


def test_builtin_kinds_come_from_the_registry() -> None:
    assert registry.kind_names() == ["appimage", "msi", "dmg", "portable"]
    schema = Project.model_json_schema()
    assert set(schema["properties"]["installer"]["items"]["discriminator"]["mapping"]) == set(registry.kind_names())


def test_unknown_kind_is_refused_until_registered(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(project)]) == 1
    assert "installer[0]: unknown installer kind 'toy'" in capsys.readouterr().err


def test_check_validates_the_toy_options(toy: None, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(project)]) == 0
    project.write_text(PROJECT.format(greeting=" "))
    assert main(["check", str(project)]) == 1
    err = capsys.readouterr().err
    assert "installer[0].greeting" in err and "write a greeting" in err


def test_schema_lists_the_toy_kind(toy: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "toy" in schema["properties"]["installer"]["items"]["discriminator"]["mapping"]
    assert "greeting" in schema["$defs"]["ToyOptions"]["properties"]


def test_generated_fields_hook_keeps_the_msi_upgrade_code(tmp_path: Path) -> None:
    path = tmp_path / "kiln.toml"
    path.write_text(PROJECT.replace('kind = "toy"\ngreeting = "{greeting}"', 'kind = "msi"'))
    project_file = load_project(path)
    notes = project_file.project.installer[0].generated_fields()
    assert list(notes) == ["upgrade_code"]


@pytest.mark.slow
def test_build_and_inspect_the_toy_kind(toy: None, project: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["build", str(project), "--kind", "toy"]) == 0
    artifact = project.parent / "dist" / "hello-1.0.0-linux-x86_64.toy.txt"
    lines = artifact.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "hi there"
    assert "kiln_boot.py" in lines and any(line.startswith("app/hello/") for line in lines)
    # A kind that does not place an SBOM in its artifact still gets one beside it, naming the staged bundle's files.
    document = json.loads(artifact.with_name(artifact.name + ".cdx.json").read_text(encoding="utf-8"))
    assert document["metadata"]["properties"][-1]["value"].startswith("the staged bundle")
    files = {c["name"] for c in document["metadata"]["component"]["components"]}
    assert files == {line for line in lines if line.startswith("app/")}
    capsys.readouterr()
    assert main(["inspect", str(artifact)]) == 0
    assert "toy listing, greeting 'hi there'" in capsys.readouterr().out


def test_a_switched_off_table_is_kept_but_neither_checked_nor_built(tmp_path: Path) -> None:
    from kiln.engine.engine import Engine
    from kiln.source.checks import check_project

    path = tmp_path / "kiln.toml"
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "__init__.py").write_text("def main():\n    return 0\n")
    path.write_text(PROJECT.replace('kind = "toy"\ngreeting = "{greeting}"',
                                    'kind = "portable"\n\n[[installer]]\nkind = "msi"\nenabled = false\n'
                                    'signing_certificate = "missing.pem"').replace("hello.cli:main", "hello:main"))
    project_file = load_project(path)
    assert [i.kind for i in project_file.project.active_installers()] == ["portable"]
    assert check_project(project_file) == []  # the missing certificate of the switched-off MSI is not a problem
    engine = Engine(project_file, reporter=None, cache_dir=tmp_path / "cache")  # type: ignore[arg-type]
    assert [installer.kind for installer in engine.installers] == ["portable"]


def test_the_toy_kinds_tools_are_in_the_tool_list_and_the_hints(toy: None, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    assert "coreutils" in debian_packages()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing) as caught:
        tools.require("sort")
    assert caught.value.hint == "install it with: sudo apt-get install coreutils"


def test_the_model_imports_every_kind_but_no_installer_code() -> None:
    """Kinds are data (SPEC, options) for the model; an installer's code is imported only when a build needs it."""
    code = ("import sys, kiln.model.project_file\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('kiln'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            timeout=60).stdout.split()
    assert {f"kiln.installers.{kind}.options" for kind in registry.BUILTIN_KINDS} <= set(loaded)
    assert [m for m in loaded if m.startswith(("kiln.engine", "kiln.source", "kiln.runtimes", "kiln.ui"))
            or m.endswith((".installer", ".reader"))] == []
