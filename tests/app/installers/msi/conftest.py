"""Fixtures of the MSI tests that install under Wine: a prefix initialised once per module, copied per test."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kit import msi as msi_kit
from kit.testing import run_in_group
from kit.wine import Prefix, wine_env


@pytest.fixture(scope="module")
def wine_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A prefix initialised once (wineboot takes seconds); tests copy it."""
    msi_kit.need("wine", "wineserver", "wixl", "msibuild", "msiinfo", "msiextract")
    base = tmp_path_factory.mktemp("wine")
    env = wine_env(base, base / "template")
    run_in_group(["wine", "wineboot", "-i"], env=env, timeout=300).check_returncode()
    subprocess.run(["wineserver", "-w"], env=env, check=True, capture_output=True, timeout=300)
    users = base / "template" / "drive_c" / "users"
    for folder in (p for user in users.iterdir() for p in user.iterdir() if p.is_symlink()):
        folder.unlink()  # Desktop, Documents... point at $HOME: make them the prefix's own folders
        folder.mkdir()
    yield base / "template", env


@pytest.fixture
def prefix(wine_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[Prefix]:
    template, env = wine_template
    root = tmp_path / "prefix"
    subprocess.run(["cp", "-a", str(template), str(root)], check=True)
    prefix = Prefix(root, {**env, "WINEPREFIX": str(root)})
    yield prefix
    subprocess.run(["wineserver", "-k"], env=prefix.env, capture_output=True, timeout=60)
    shutil.rmtree(root, ignore_errors=True)  # 0.7 GB a test: a full suite would fill a small disk
