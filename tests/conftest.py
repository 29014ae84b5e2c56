"""Shared test helpers: real external tools are required in CI and skipped (with a reason) elsewhere."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tools(*names: str) -> None:
    """Skip the calling test when a tool is missing locally; in CI (CI=true) a missing tool is a failure."""
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return
    message = f"missing tools: {', '.join(missing)}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (.ci/run must install them)")
    pytest.skip(message)
