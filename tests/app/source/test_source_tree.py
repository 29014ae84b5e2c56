"""The symlink policy and the selection of the source folder's files (kiln.source.source_tree)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiln.engine.payload import copy_sources, glob_match, select_files
from kiln.model.project import SourceSection
from kiln.source.source_tree import select_sources


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "pkg" / "data").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "data" / "table.txt").write_text("table")
    (root / "shared").mkdir()
    (root / "shared" / "util.py").write_text("X = 1\n")
    return root


def test_links_inside_the_tree_count_as_their_targets_for_files_and_folders(tree: Path, tmp_path: Path) -> None:
    os.symlink("../shared/util.py", tree / "pkg" / "util.py")
    os.symlink("../shared", tree / "pkg" / "shared_dir")
    selection = select_sources(tree, SourceSection(include=["pkg/**"]))
    assert selection.problems == []
    assert selection.files == ["pkg/__init__.py", "pkg/data/table.txt", "pkg/shared_dir/util.py", "pkg/util.py"]
    copied, companions = copy_sources(tree, SourceSection(include=["pkg/**"]), tmp_path / "out")
    assert set(copied) == set(selection.files) | {"shared/util.py"}  # a folder beside the scripts ships too
    assert companions.added == {"shared": 1}
    for name in ("pkg/util.py", "pkg/shared_dir/util.py"):
        out = tmp_path / "out" / name
        assert not out.is_symlink() and out.read_text() == "X = 1\n"


@pytest.mark.parametrize("target_kind", ["file", "folder"])
def test_links_leaving_the_tree_are_refused_by_name(tree: Path, tmp_path: Path, target_kind: str) -> None:
    outside = tmp_path / "secret"
    if target_kind == "file":
        outside.write_text("password")
        os.symlink(outside, tree / "pkg" / "passwd.txt")
        name = "pkg/passwd.txt"
    else:
        outside.mkdir()
        (outside / "key.txt").write_text("password")
        os.symlink(outside, tree / "pkg" / "secrets")
        name = "pkg/secrets"
    selection = select_sources(tree, SourceSection(include=["pkg/**"]))
    assert not any("passwd" in f or "secrets" in f for f in selection.files)
    assert len(selection.problems) == 1
    problem = selection.problems[0]
    assert name in problem.message and "outside the source folder" in problem.message
    assert "allow_links_outside" in (problem.hint or "")
    allowed = select_sources(tree, SourceSection(include=["pkg/**"], allow_links_outside=True))
    assert allowed.problems == [] and any(name in f for f in allowed.files)


def test_excluded_links_are_not_problems(tree: Path) -> None:
    os.symlink("/etc/passwd", tree / "pkg" / "passwd.txt")
    selection = select_sources(tree, SourceSection(include=["pkg/**"], exclude=["pkg/passwd.txt"]))
    assert selection.problems == [] and "pkg/passwd.txt" not in selection.files


def test_dangling_links_loops_and_fifos_are_problems(tree: Path) -> None:
    os.symlink("nowhere.py", tree / "pkg" / "dangling.py")
    os.symlink("..", tree / "pkg" / "loop")
    os.symlink("self", tree / "pkg" / "self")
    os.mkfifo(tree / "pkg" / "pipe.txt")
    selection = select_sources(tree, SourceSection(include=["pkg/**"]))
    messages = " | ".join(p.message for p in selection.problems)
    for name in ("pkg/dangling.py", "pkg/loop", "pkg/self", "pkg/pipe.txt"):
        assert f"'{name}'" in messages, messages
    assert "pkg/pipe.txt" not in selection.files and "pkg/dangling.py" not in selection.files


def test_names_with_a_newline_are_selected_the_same_by_every_pattern(tree: Path) -> None:
    (tree / "pkg" / "two\nlines.txt").write_text("x")
    for include in (["pkg/**"], ["**/*.txt"], ["pkg/*"]):
        assert "pkg/two\nlines.txt" in select_files(tree, SourceSection(include=include)), include
    assert glob_match("pkg/two\nlines.txt", "pkg/**") and glob_match("pkg/two\nlines.txt", "**/*.txt")
