"""One rule for the user's folder (kiln.source.tree): what is never the app's, and one hash that the no-op rebuild,
`kiln try`, the app's wheel and detection all follow. A `pkg/build/` package is the app's own code."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kiln.engine import fingerprint, tryout
from kiln.model.project_file import load_project
from kiln.source.app_wheel import _ignore_for
from kiln.source.detect import detect
from kiln.source.tree import update_digest, walk_files

PROJECT = """\
[app]
name = "tool"
version = "1.0"
[entry]
module = "tool.build.cli:main"
[source]
include = ["tool/**"]
[[installer]]
kind = "portable"
"""


def write_app(folder: Path) -> Path:
    """An app whose own code has a `build` subpackage, beside every kind of folder that is not the app's."""
    files = {
        "kiln.toml": PROJECT,
        "tool/__init__.py": "",
        "tool/build/__init__.py": "",
        "tool/build/cli.py": "def main():\n    return 0\n",
        "build/lib/tool/old.py": "# setuptools' leftovers\n",
        "dist/tool-0.9.tar.zst": "an old artifact",
        ".git/HEAD": "ref: refs/heads/main\n",
        "tool/__pycache__/cli.cpython-311.pyc": "cache",
        "tool.egg-info/PKG-INFO": "Name: tool\n",
        "node_modules/left-pad/index.js": "",
        "myenv/pyvenv.cfg": "home = /usr/bin\n",
        "myenv/lib/site.py": "",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder / "kiln.toml"


def digest(root: Path) -> str:
    found = hashlib.sha256()
    update_digest(found, root)
    return found.hexdigest()


def test_only_the_apps_files_are_walked(tmp_path: Path) -> None:
    write_app(tmp_path)
    walked = [p.relative_to(tmp_path).as_posix() for p in walk_files(tmp_path)]
    assert walked == ["kiln.toml", "tool/__init__.py", "tool/build/__init__.py", "tool/build/cli.py"]
    assert [p.name for p in walk_files(tmp_path, skip={tmp_path / "tool" / "build"})] == ["kiln.toml", "__init__.py"]


@pytest.mark.parametrize("changed, counts", [
    pytest.param("tool/build/cli.py", True, id="a-build-subpackage-counts"),
    pytest.param("build/lib/tool/old.py", False, id="top-level-build-output"),
    pytest.param("tool/__pycache__/cli.cpython-311.pyc", False, id="bytecode-cache"),
    pytest.param("myenv/lib/site.py", False, id="a-virtual-environment-by-its-pyvenv-cfg"),
])
def test_an_edit_counts_for_the_rebuild_and_for_try_alike(tmp_path: Path, changed: str, counts: bool) -> None:
    project = write_app(tmp_path)
    before = (digest(tmp_path), fingerprint.inputs(load_project(project), tmp_path / "dist", ["portable"],
                                                   tmp_path / "cache")["sources"],
              tryout.fingerprint(load_project(project)))
    (tmp_path / changed).write_text("# edited, and longer than before\n", encoding="utf-8")
    after = (digest(tmp_path), fingerprint.inputs(load_project(project), tmp_path / "dist", ["portable"],
                                                  tmp_path / "cache")["sources"],
             tryout.fingerprint(load_project(project)))
    assert [a != b for a, b in zip(before, after, strict=True)] == [counts] * 3


def test_the_wheel_is_built_from_a_copy_with_the_apps_build_package(tmp_path: Path) -> None:
    write_app(tmp_path)
    ignore = _ignore_for(tmp_path, tmp_path / "wheels")
    assert {"build", "dist", ".git", "tool.egg-info", "node_modules", "myenv"} <= ignore(str(tmp_path), [
        "build", "dist", ".git", "tool.egg-info", "node_modules", "myenv", "tool", "kiln.toml"])
    assert ignore(str(tmp_path / "tool"), ["__init__.py", "build", "__pycache__"]) == {"__pycache__"}


def test_detection_finds_an_entry_point_in_a_build_package(tmp_path: Path) -> None:
    write_app(tmp_path)
    (tmp_path / "tool" / "build" / "__main__.py").write_text("print('hi')\n", encoding="utf-8")
    (tmp_path / "build" / "lib" / "tool" / "__main__.py").write_text("print('old')\n", encoding="utf-8")
    modules = [candidate.module for candidate in detect(tmp_path).entries]
    assert "tool.build" in modules and not any(m.startswith("lib") for m in modules)
