"""Helpers shared by the tests: real external tools are required in CI and skipped (with a reason) elsewhere."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
"""The repository's root (tests find examples/, resources/ and docs/ from here)."""


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must install them)")
    pytest.skip(message)


def require_tools(*names: str) -> None:
    """Every tool in `names` must be on PATH."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        _missing(f"missing tools: {', '.join(missing)}")


def find_tool(*names: str) -> str:
    """The first of `names` on PATH (alternatives such as 7z / 7zz)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    _missing(f"missing tool: {' or '.join(names)}")
    raise AssertionError("unreachable")


def unpack_portable(archive: Path, dest: Path) -> None:
    """Unpack a portable .tar.zst with GNU tar and zstd (readers independent of Kiln's; every zstd frame)."""
    require_tools("tar", "zstd")
    dest.mkdir(parents=True, exist_ok=True)
    import subprocess

    subprocess.run(["tar", "--zstd", "-xf", str(archive), "-C", str(dest)], check=True, capture_output=True,
                   timeout=300)


class StageRecorder:
    """A stage's reporter for installer tests: keeps every fraction, message (progress and log) and warning."""

    def __init__(self) -> None:
        self.fractions: list[float] = []
        self.messages: list[str] = []
        self.warnings: list[str] = []

    def progress(self, fraction: float, message: str = "") -> None:
        self.fractions.append(fraction)
        self.messages.append(message)

    def log(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
