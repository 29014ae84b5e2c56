"""Project files for tests: one writer of kiln.toml from plain data, and copies of the examples."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit

from kit.testing import REPO

_NOT_COPIED = shutil.ignore_patterns("dist", "kiln.lock", "pylock.*.toml", "__pycache__", "*.log")
"""What a build or a run leaves in an example's folder."""


def write_project(folder: Path, data: Mapping[str, Any]) -> Path:
    """`folder`/kiln.toml holding `data` (a list of tables is an array of tables, `[[installer]]`); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kiln.toml"
    path.write_text(tomlkit.dumps(dict(data)), encoding="utf-8")
    return path


def example_data(example: str) -> dict[str, Any]:
    """The project file of examples/<example> as plain data."""
    return tomlkit.parse((REPO / "examples" / example / "kiln.toml").read_text(encoding="utf-8")).unwrap()


def copy_example(example: str, into: Path, *, project: bool = True, **tables: Any) -> Path:
    """A copy of examples/<example> as `into`/<example>, without what builds leave there; the path of its kiln.toml.

    With `project`, the example's kiln.toml comes along, each of `tables` replacing (or adding) one table, e.g.
    `installer=[{"kind": "portable"}]`, edited with tomlkit so the file keeps its comments; without, there is none.
    """
    folder = into / example
    shutil.copytree(REPO / "examples" / example, folder, ignore=_NOT_COPIED)
    path = folder / "kiln.toml"
    if not project:
        path.unlink()
    elif tables:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
        for name, value in tables.items():
            document[name] = value
        path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return path
