"""The "Try it" command line: exact argv for each kind of entry point, and that each really runs from the source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiln.model.project import EntrySection
from kiln.source.tryout import TryRunError, try_command, try_env

ROOT = Path("/src/app")
BASE = {"PATH": "/usr/bin", "HOME": "/home/u"}


def test_module_function_imports_and_calls() -> None:
    command = try_command(EntrySection(module="hello.cli:main"), ROOT, "py", base_env=BASE)
    code = (
        "import importlib, sys\n"
        "target = importlib.import_module('hello.cli')\n"
        "for name in ['main']:\n"
        "    target = getattr(target, name)\n"
        "sys.exit(target())\n"
    )
    assert command.argv == ["py", "-c", code]
    assert command.cwd == ROOT


def test_nested_attribute_path() -> None:
    command = try_command(EntrySection(module="pkg.app:App.run"), ROOT, "py", base_env=BASE)
    assert "for name in ['App', 'run']:" in command.argv[2]


def test_package_runs_like_dash_m() -> None:
    command = try_command(EntrySection(module="hello"), ROOT, "py", ["--x", "é"], base_env=BASE)
    assert command.argv == ["py", "-m", "hello", "--x", "é"]


def test_script_runs_from_the_source_root() -> None:
    command = try_command(EntrySection(script="tools/main.py", kind="gui"), ROOT, "py", base_env=BASE)
    assert command.argv == ["py", str(ROOT / "tools" / "main.py")]
    assert command.cwd == ROOT


def test_environment() -> None:
    assert try_env(ROOT, BASE) == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    assert try_env(ROOT, {"PYTHONPATH": "/x"})["PYTHONPATH"] == f"{ROOT}:/x"


@pytest.mark.parametrize("entry", [EntrySection(module="TODO"), EntrySection(script="../outside.py")])
def test_refuses_what_cannot_run(entry: EntrySection) -> None:
    with pytest.raises(TryRunError):
        try_command(entry, ROOT, "py")


def _make_app(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "__main__.py").write_text("import sys\nprint('as -m', sys.argv[1:])\n")
    (root / "pkg" / "cli.py").write_text("import sys\ndef main():\n    print('called', sys.argv[1:])\n    return 3\n")
    (root / "run.py").write_text("import pkg.cli\nprint('script')\n")


@pytest.mark.parametrize(
    ("entry", "output", "code"),
    [
        (EntrySection(module="pkg.cli:main"), "called ['a']", 3),
        (EntrySection(module="pkg"), "as -m ['a']", 0),
        (EntrySection(script="run.py"), "script", 0),
    ],
)
def test_each_kind_really_runs(tmp_path: Path, entry: EntrySection, output: str, code: int) -> None:
    root = tmp_path / "src"
    _make_app(root)
    command = try_command(entry, root, sys.executable, ["a"])
    done = subprocess.run(command.argv, cwd=command.cwd, env=command.env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == output, done.stderr
    assert done.returncode == code
    assert not list(root.rglob("__pycache__")), "trying must not write bytecode into the source tree"
