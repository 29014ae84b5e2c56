"""The POSIX sh launcher of portable folders and AppImages, run for real by dash and bash: arguments, symlinks to
it, odd folder names, a symlink loop, and nothing from the project outside its comment line."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from kit.testing import find_tool

from kiln.support.posix_launcher import posix_launcher

SHELLS = [["dash"], ["bash"], ["bash", "--posix"]]
ARGS = ["plain", "two words", "it's \"quoted\"", "$HOME `id` $(id)", "*", "", "new\nline", "-psn_0_1"]
PYTHON = "runtime/bin/python3.11"
PROBE_PYTHON = '#!/bin/sh\nprintf "<%s>\\n" "$KILN_ARGV0" "$0" "$@"\n'
"""Stands in for the bundle's interpreter: prints sys.argv[0]-to-be (KILN_ARGV0), how it was called, its arguments."""


def install(folder: Path, bundle_from_script: str = "", **options: bool) -> Path:
    """A launcher script in `folder` and a bundle (its interpreter the probe) where it expects one; the script."""
    bundle = folder / bundle_from_script
    (bundle / "runtime" / "bin").mkdir(parents=True)
    (bundle / PYTHON).write_text(PROBE_PYTHON)
    (bundle / PYTHON).chmod(0o755)
    (bundle / "kiln_boot.py").write_text("# boot\n")
    script = folder / "AppRun"
    script.write_text(posix_launcher("Hello", PYTHON, bundle_from_script, **options))
    script.chmod(0o755)
    return script


def probe_argv(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return re.findall(r"<(.*?)>\n", result.stdout, flags=re.S)


@pytest.mark.parametrize("bundle_from_script", ["", "usr"], ids=["portable", "appimage"])
@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_runs_the_bundled_python_isolated_with_every_argument(shell: list[str], bundle_from_script: str,
                                                               tmp_path: Path) -> None:
    find_tool(shell[0])
    folder = tmp_path / "we'ird \"dir\" $HOME & `x`\n"
    script = install(folder, bundle_from_script)
    bundle = f"{folder.resolve()}/{bundle_from_script}" if bundle_from_script else str(folder.resolve())
    result = subprocess.run([*shell, str(script), *ARGS], capture_output=True, text=True, timeout=60)
    assert probe_argv(result) == [str(script), f"{bundle}/{PYTHON}", "-I", f"{bundle}/kiln_boot.py", *ARGS]


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_found_through_a_chain_of_symlinks(shell: list[str], tmp_path: Path) -> None:
    find_tool(shell[0])
    script = install(tmp_path / "app", "usr")
    bin_dir, other = tmp_path / "usr local" / "bin", tmp_path / "other"
    bin_dir.mkdir(parents=True)
    other.mkdir()
    (other / "middle").symlink_to(script)  # absolute link
    (bin_dir / "hello").symlink_to(Path("..", "..", "other", "middle"))  # relative link to the absolute one
    result = subprocess.run([*shell, str(bin_dir / "hello"), "a b"], capture_output=True, text=True, timeout=60)
    bundle = (tmp_path / "app" / "usr").resolve()
    assert probe_argv(result) == [str(bin_dir / "hello"), f"{bundle}/{PYTHON}", "-I", f"{bundle}/kiln_boot.py", "a b"]


def test_found_on_path_and_by_relative_name(tmp_path: Path) -> None:
    find_tool("dash")
    script = install(tmp_path / "app")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "hello").symlink_to(script)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    on_path = probe_argv(subprocess.run(["dash", "-c", 'hello "$@"', "sh", "x y"], capture_output=True, text=True,
                                        env=env, timeout=60))
    relative = probe_argv(subprocess.run(["dash", "hello", "x y"], capture_output=True, text=True, cwd=bin_dir,
                                         timeout=60))
    assert on_path[1:] == relative[1:] and on_path[-1] == "x y"
    assert relative[0] == "hello"


def test_appimage_argv0_is_the_appimage_path(tmp_path: Path) -> None:
    find_tool("dash")
    script = install(tmp_path / "app", "usr", appimage=True)
    env = {**os.environ, "ARGV0": "/downloads/Hello.AppImage"}
    argv = probe_argv(subprocess.run(["dash", str(script)], capture_output=True, text=True, env=env, timeout=60))
    assert argv[0] == "/downloads/Hello.AppImage"
    env.pop("ARGV0")
    argv = probe_argv(subprocess.run(["dash", str(script)], capture_output=True, text=True, env=env, timeout=60))
    assert argv[0] == str(script)


def test_a_symlink_loop_is_an_error_not_a_hang(tmp_path: Path) -> None:
    find_tool("dash")
    script = install(tmp_path / "app")
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    result = subprocess.run(["dash", "-c", f". '{script}'", str(tmp_path / "a")], capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 126 and "too many symbolic links" in result.stderr


def test_no_readlink_f_and_project_text_only_in_the_comment_line() -> None:
    text = posix_launcher("x\n$(rm -rf ~)`id`'\"", PYTHON, "us'r $(id)", comment="(AppImage entry point)")
    assert "readlink -f" not in text and "-f --" not in text
    lines = text.splitlines()
    assert lines[1] == "# Written by Kiln: starts x $(rm -rf ~)`id`'\" with its own Python. (AppImage entry point)"
    assert "rm -rf" not in "\n".join(lines[2:])
    assert "bundle=\"$here\"/'us'\"'\"'r $(id)'" in text  # the bundle's folder only through shlex.quote
