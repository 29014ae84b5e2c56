"""Kiln's package list, computed at build time: every folder holding an __init__.py below the folders that
[tool.setuptools.package-dir] (pyproject.toml) maps into `kiln`. setuptools' discovery cannot follow package-dir
into several folders; computing the list means a new package (an installer kind) needs no edit here."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent


def kiln_packages(root: Path = ROOT) -> list[str]:
    """`kiln`, `kiln.engine`, …: each mapped folder and its subfolders that are packages (caches and hidden skipped)."""
    mapping = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    found = []
    for name, folder in mapping.items():
        for init in sorted((root / folder).rglob("__init__.py")):
            relative = init.parent.relative_to(root / folder).parts
            if not any(part == "__pycache__" or part.startswith(".") for part in relative):
                found.append(".".join((name, *relative)))
    return sorted(found)


if __name__ == "__main__":
    setup(packages=kiln_packages())
