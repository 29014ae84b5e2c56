"""Payload selection by globs, the boot script for each entry kind (run for real), size accounting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiln.engine.payload import (
    boot_script,
    dependency_sizes,
    drop_install_records,
    glob_match,
    imports_tkinter,
    remove_unshipped,
    runtime_site_packages,
    select_files,
    write_bundle_site,
)
from kiln.model.project import EntrySection, SourceSection
from kiln.resources import resource_path


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
    (root / "app" / "pool.py").write_text(  # spawn children re-import __main__: the app must not start again
        "import multiprocessing, subprocess, sys\n"
        "def square(x):\n    return x * x\n"
        "if __name__ == '__main__':\n"
        "    with multiprocessing.get_context('spawn').Pool(2) as pool:\n"
        "        print('squares', pool.map(square, range(4)))\n"
        "    child = subprocess.run([sys.executable, '-m', 'pkg', 'child'], capture_output=True, text=True)\n"
        "    print(child.stdout.strip(), 'argv0', sys.argv[0])\n"
    )
    (root / "packages").mkdir()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A bundle whose runtime is a venv: a real interpreter with its own prefix and site-packages, like
    `runtime/` in a build. Paths reach the app only through the .pth that write_bundle_site puts there."""
    runtime = tmp_path / "runtime"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(runtime)], check=True)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    write_bundle_site(runtime_site_packages(runtime, "linux", version))
    _make_app(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("entry", "stdout", "code"),
    [
        pytest.param(EntrySection(module="pkg.cli:main"), "function ['myapp', 'a b', 'ü']", 4, id="function"),
        pytest.param(EntrySection(module="pkg.cli:Tool.run"), "method", 0, id="method"),
        pytest.param(EntrySection(module="pkg"), "module ['a b', 'ü']", 0, id="module"),
        pytest.param(EntrySection(script="scripts/run.py"), "script 42 ['a b', 'ü']", 0, id="script"),
        pytest.param(EntrySection(script="pool.py"), "squares [0, 1, 4, 9]\nmodule ['child'] argv0 myapp",
                     0, id="spawn-pool-and-sys-executable"),
        pytest.param(EntrySection(module="pool"), "squares [0, 1, 4, 9]\nmodule ['child'] argv0 myapp", 0,
                     id="spawn-pool-as-module"),
    ],
)
def test_boot_script_runs_each_entry_kind(bundle: Path, entry: EntrySection, stdout: str, code: int) -> None:
    (bundle / "kiln_boot.py").write_text(boot_script(entry))
    result = subprocess.run(
        [str(bundle / "runtime" / "bin" / "python"), "-I", str(bundle / "kiln_boot.py"), "a b", "ü"],
        capture_output=True, text=True, env={"KILN_ARGV0": "myapp"}, cwd="/", timeout=60,
    )
    assert result.stdout.strip() == stdout, result.stderr
    assert result.returncode == code


def test_bundle_site_gives_every_start_of_the_interpreter_the_paths(bundle: Path) -> None:
    python = str(bundle / "runtime" / "bin" / "python")
    for folder, marker in (("tcl8.6", "init.tcl"), ("tk8.6", "tk.tcl")):  # a runtime that carries Tcl/Tk
        (bundle / "runtime" / "lib" / folder).mkdir(parents=True)
        (bundle / "runtime" / "lib" / folder / marker).write_text("")
    code = "import os, pkg.cli; print(pkg.cli.__file__, os.environ['TCL_LIBRARY'], os.environ['TK_LIBRARY'])"
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, env={}, cwd="/", check=True)
    lib = bundle / "runtime" / "lib"
    assert result.stdout.split() == [str(bundle / "app" / "pkg" / "cli.py"), str(lib / "tcl8.6"), str(lib / "tk8.6")]


def test_boot_script_keeps_hostile_entry_text_literal() -> None:
    text = boot_script(EntrySection(script="a'b\"c$(x).py"))
    compile(text, "kiln_boot.py", "exec")
    assert "('a\\'b\"c$(x).py',)" in text


def test_tkinter_imports_are_found_in_sources(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "plain.py").write_text("import os\n# import tkinter in a comment is not an import\n")
    assert imports_tkinter(tmp_path) is None
    (tmp_path / "a" / "gui.py").write_text("def f():\n    from tkinter import ttk\n")
    assert imports_tkinter(tmp_path) == "a/gui.py"
    assert imports_tkinter(tmp_path / "missing") is None


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



def test_boot_code_is_the_resources_files_with_the_entry_point(tmp_path: Path) -> None:
    """kiln_boot.py and _kiln_bundle.py are real modules in resources/boot/ (linted, type-checked), copied as they are;
    only the last line of kiln_boot.py becomes the entry point."""
    template = resource_path("boot", "kiln_boot.py").read_text(encoding="utf-8")
    head, placeholder = template.rstrip("\n").rsplit("\n", 1)
    assert placeholder.startswith('    _run_module("ENTRY")')
    assert boot_script(EntrySection(module="pkg.cli:main")) == f"{head}\n    _run_function('pkg.cli', ('main',))\n"
    write_bundle_site(tmp_path)
    assert (tmp_path / "_kiln_bundle.py").read_bytes() == resource_path("boot", "_kiln_bundle.py").read_bytes()
    assert (tmp_path / "kiln-bundle.pth").read_text(encoding="utf-8") == "import _kiln_bundle\n"
