"""pip is asked for the target's wheels, never the host's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kiln.engine.dependencies import index_args, pip_install_argv, read_requirements, target_args
from kiln.model.project import DependenciesSection
from kiln.support.errors import KilnError
from kiln.support.targets import TARGETS


def test_linux_tags_include_every_manylinux_level() -> None:
    args = target_args(TARGETS["linux-x86_64"], "3.11")
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert "manylinux_2_28_x86_64" in platforms and "manylinux_2_17_x86_64" in platforms
    assert "manylinux2014_x86_64" in platforms
    assert args[:5] == ["--python-version", "3.11", "--implementation", "cp", "--only-binary=:all:"]


def test_windows_and_macos_tags() -> None:
    assert target_args(TARGETS["windows-x86_64"], "3.12")[-2:] == ["--platform", "win_amd64"]
    mac = target_args(TARGETS["macos-arm64"], "3.12")
    assert "macosx_11_0_arm64" in mac and "macosx_11_0_universal2" in mac and "macosx_10_15_x86_64" not in mac


def test_pip_install_argv(tmp_path: Path) -> None:
    argv = pip_install_argv(["rich>=13"], tmp_path / "p", TARGETS["windows-x86_64"], "3.12", ["--no-index"],
                            tmp_path / "r.json")
    assert argv == [
        sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--no-compile",
        "--no-warn-script-location", "--target", str(tmp_path / "p"), "--report", str(tmp_path / "r.json"),
        "--python-version", "3.12", "--implementation", "cp", "--only-binary=:all:", "--platform", "win_amd64",
        "--no-index", "--", "rich>=13",
    ]


def test_index_args(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    section = DependenciesSection(index_url="https://mirror.example/simple", find_links=["wheels"], no_index=True)
    assert index_args(section, tmp_path) == [
        "--index-url", "https://mirror.example/simple", "--find-links", str(tmp_path / "wheels"), "--no-index",
    ]


def test_requirements_file(tmp_path: Path) -> None:
    (tmp_path / "req.txt").write_text("# comment\nrich>=13  # inline\n\nclick\n")
    section = DependenciesSection(requirements=["attrs"], requirements_file="req.txt")
    assert read_requirements(section, tmp_path) == ["attrs", "rich>=13", "click"]
    (tmp_path / "bad.txt").write_text("ok\nnot a req!!\n")
    with pytest.raises(KilnError, match=r"bad\.txt:2"):
        read_requirements(DependenciesSection(requirements_file="bad.txt"), tmp_path)
    with pytest.raises(KilnError, match="requirements_file"):
        read_requirements(DependenciesSection(requirements_file="missing.txt"), tmp_path)
