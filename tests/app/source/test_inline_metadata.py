"""A script's inline metadata (PEP 723): dependencies and requires-python from the `# /// script` block."""

from __future__ import annotations

from pathlib import Path

from kiln.source.inline_metadata import parse_inline_metadata, read_inline_metadata, undeclared

SCRIPT = """#!/usr/bin/env python3
# /// script
# requires-python = ">=3.9"
# dependencies = [
#   "cowsay==6.1",
#   "rich>=13",  # colours
# ]
#
# [tool.uv]
# exclude-newer = "2026-01-01T00:00:00Z"
# ///
import cowsay
"""


def test_dependencies_and_requires_python() -> None:
    found = parse_inline_metadata(SCRIPT)
    assert found is not None
    assert (found.dependencies, found.requires_python, found.problems) == (["cowsay==6.1", "rich>=13"], ">=3.9", [])


def test_a_script_without_a_block_or_with_another_type() -> None:
    assert parse_inline_metadata("import sys\n") is None
    assert parse_inline_metadata("# /// pyproject\n# x = 1\n# ///\n") is None


def test_problems_are_reported_not_raised() -> None:
    bad_toml = parse_inline_metadata("# /// script\n# dependencies = [\n# ///\n", "a.py")
    assert bad_toml is not None and bad_toml.dependencies == []
    assert "a.py: its '# /// script' block is not valid TOML" in bad_toml.problems[0]
    bad_items = parse_inline_metadata('# /// script\n# dependencies = ["ok", "not ok!"]\n'
                                      '# requires-python = "three"\n# ///\n', "a.py")
    assert bad_items is not None and bad_items.dependencies == ["ok"] and bad_items.requires_python == ""
    assert len(bad_items.problems) == 2
    two = parse_inline_metadata("# /// script\n# dependencies = []\n# ///\nx = 1\n" * 2, "a.py")
    assert two is not None and "has 2 '# /// script' blocks" in two.problems[0]


def test_read_from_a_file_with_windows_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "moo.py"
    path.write_bytes(SCRIPT.replace("\n", "\r\n").encode())
    found = read_inline_metadata(path)
    assert found is not None and found.dependencies == ["cowsay==6.1", "rich>=13"]
    assert read_inline_metadata(tmp_path / "missing.py") is None


def test_undeclared_dependencies_are_those_the_project_does_not_list(tmp_path: Path) -> None:
    path = tmp_path / "moo.py"
    path.write_text(SCRIPT, encoding="utf-8")
    assert undeclared(path, ["cowsay==6.1", "rich >= 13"]) == []  # the same requirements, however spelled
    assert undeclared(path, ["cowsay==6.0"]) == ["cowsay==6.1", "rich>=13"]
    assert undeclared(tmp_path / "plain.py", []) == []
