"""Payload selection by globs, the boot script for each entry kind (run for real), size accounting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiln.build.payload import (
    boot_script,
    dependency_sizes,
    drop_install_records,
    entry_problems,
    glob_match,
    remove_unshipped,
    select_files,
)
from kiln.model.project import EntrySection, SourceSection


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("pkg/mod.py", "pkg/**", True),
        ("pkg/sub/data.txt", "pkg/**", True),
        ("other/mod.py", "pkg/**", False),
        ("mod.py", "**/*.py", True),
        ("a/b/c.py", "**/*.py", True),
        ("a/b/c.pyc", "**/*.py", False),
        ("pkg/tests/test_x.py", "**/tests/**", True),
        ("main.py", "*.py", True),
        ("pkg/main.py", "*.py", False),
        ("a.txt", "?.txt", True),
        ("pkg+x/y", "pkg+x/**", True),
    ],
)
def test_glob_match(path: str, pattern: str, expected: bool) -> None:
    assert glob_match(path, pattern) is expected


def test_select_files_applies_excludes(tmp_path: Path) -> None:
    for name in ("pkg/__init__.py", "pkg/data/greeting.txt", "pkg/tests/test_a.py", "pkg/__pycache__/x.pyc",
                 "setup.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert select_files(tmp_path, SourceSection(include=["pkg/**"])) == ["pkg/__init__.py", "pkg/data/greeting.txt"]


def _make_app(root: Path) -> None:
    (root / "app" / "pkg").mkdir(parents=True)
    (root / "app" / "pkg" / "__init__.py").write_text("")
    (root / "app" / "pkg" / "cli.py").write_text(
        "import sys\ndef main():\n    print('function', sys.argv)\n    return 4\n"
        "class Tool:\n    @staticmethod\n    def run():\n        print('method')\n"
    )
    (root / "app" / "pkg" / "__main__.py").write_text("import sys\nprint('module', sys.argv[1:])\n")
    (root / "app" / "scripts").mkdir()
    (root / "app" / "scripts" / "run.py").write_text(
        "import sys, helper\nif __name__ == '__main__':\n    print('script', helper.X, sys.argv[1:])\n"
    )
    (root / "app" / "scripts" / "helper.py").write_text("X = 42\n")
    (root / "packages").mkdir()


@pytest.mark.parametrize(
    ("entry", "stdout", "code"),
    [
        pytest.param(EntrySection(module="pkg.cli:main"), "function ['myapp', 'a b', 'ü']", 4, id="function"),
        pytest.param(EntrySection(module="pkg.cli:Tool.run"), "method", 0, id="method"),
        pytest.param(EntrySection(module="pkg"), "module ['a b', 'ü']", 0, id="module"),
        pytest.param(EntrySection(script="scripts/run.py"), "script 42 ['a b', 'ü']", 0, id="script"),
    ],
)
def test_boot_script_runs_each_entry_kind(tmp_path: Path, entry: EntrySection, stdout: str, code: int) -> None:
    _make_app(tmp_path)
    (tmp_path / "kiln_boot.py").write_text(boot_script(entry))
    result = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "kiln_boot.py"), "a b", "ü"], capture_output=True, text=True,
        env={"KILN_ARGV0": "myapp"}, cwd="/",
    )
    assert result.stdout.strip() == stdout, result.stderr
    assert result.returncode == code


def test_boot_script_keeps_hostile_entry_text_literal() -> None:
    text = boot_script(EntrySection(script="a'b\"c$(x).py"))
    compile(text, "kiln_boot.py", "exec")
    assert "('a\\'b\"c$(x).py',)" in text


def test_entry_problems(tmp_path: Path) -> None:
    _make_app(tmp_path)
    (tmp_path / "app" / "nomain").mkdir()
    (tmp_path / "app" / "nomain" / "__init__.py").write_text("")
    files = set(select_files(tmp_path / "app", SourceSection(include=["**/*.py"])))
    assert entry_problems(EntrySection(module="pkg.cli:main"), files) == []
    assert entry_problems(EntrySection(module="pkg"), files) == []  # has __main__.py
    assert entry_problems(EntrySection(script="scripts/run.py"), files) == []
    for entry, location, words in (
        (EntrySection(module="pkgx.cli:main"), "entry.module", "'pkgx.cli' is not among"),
        (EntrySection(script="nope.py"), "entry.script", "'nope.py' is not among"),
        (EntrySection(module="nomain"), "entry.module", "no __main__.py"),
    ):
        (problem,) = entry_problems(entry, files)
        assert problem.location == location and words in problem.message, problem


def test_package_clean_up_and_sizes(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    (packages / "demo").mkdir(parents=True)
    (packages / "demo" / "__init__.py").write_text("x" * 1000)
    (packages / "demo_helper.py").write_text("y" * 10)
    info = packages / "demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: demo\nVersion: 1.0\n")
    (info / "RECORD").write_text("demo/__init__.py,,\ndemo_helper.py,,\ndemo-1.0.dist-info/METADATA,,\n")
    (packages / "bin").mkdir()
    (packages / "bin" / "demo").write_text("#!/build/machine/python\n")
    remove_unshipped(packages)
    sizes = dependency_sizes(packages)
    assert sizes["demo"] >= 1010 and "bin" not in sizes
    drop_install_records(packages)
    assert not (packages / "bin").exists() and not (info / "RECORD").exists() and (info / "METADATA").exists()
    result = subprocess.run(
        [sys.executable, "-I", "-c", "import importlib.metadata as m, sys; sys.path.insert(0, sys.argv[1]);"
         "print(m.version('demo'))", str(packages)], capture_output=True, text=True,
    )
    assert result.stdout.strip() == "1.0"

