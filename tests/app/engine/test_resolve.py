"""uv resolves each platform with its own markers; its failures become words: "not on the package index",
"not checked (offline)"; `kiln resolve` and `kiln check` say where each version comes from."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from kit.projects import write_project
from kit.wheels import isolate_pip, marker_wheels

from kiln.engine.resolve import Request, compile_argv, failure, resolve_all
from kiln.support.targets import TARGETS
from kiln.support.uv import uv_binary

WINDOWS = TARGETS["windows-x86_64"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_pip(monkeypatch)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    return marker_wheels(tmp_path / "wheels")


def test_compile_argv_resolves_for_the_target(tmp_path: Path) -> None:
    argv = compile_argv(tmp_path / "r.in", tmp_path / "c.txt", tmp_path / "pylock.windows-x86_64.toml", WINDOWS,
                        "3.11", ["--no-index"])
    assert argv == [uv_binary(), "pip", "compile", str(tmp_path / "r.in"), "--constraints", str(tmp_path / "c.txt"),
                    "--output-file", str(tmp_path / "pylock.windows-x86_64.toml"), "--format", "pylock.toml",
                    "--generate-hashes", "--no-header", "--quiet", "--python", sys.executable, "--python-version",
                    "3.11", "--python-platform", "x86_64-pc-windows-msvc", "--no-index"]
    assert compile_argv(tmp_path / "r", tmp_path / "c", tmp_path / "o", TARGETS["macos-arm64"], "3.12", [],
                        upgrade=True)[-3:] == ["--python-platform", "aarch64-apple-darwin", "--upgrade"]


def test_uvs_failures_in_words() -> None:
    missing = failure("error: No solution found when resolving dependencies:\n  cause: Because kiln-no-such-zz was "
                      "not found in the package registry and you require kiln-no-such-zz, we can conclude that your "
                      "requirements are unsatisfiable.", "linux-x86_64")
    assert missing.message == "kiln-no-such-zz is not on the package index" and missing.reason == "missing"
    offline = failure("error: Request failed after 3 retries\n  cause: Failed to fetch: http://127.0.0.1:9/simple/x/\n"
                      "  cause: tcp connect error", "windows-x86_64")
    assert offline.reason == "offline" and "cannot be reached" in offline.message
    conflict = failure("error: No solution found when resolving dependencies:\n  cause: Because there is no version "
                       "of rich==99.0 and you require rich==99.0, we can conclude that your requirements are "
                       "unsatisfiable.", "macos-arm64")
    assert conflict.reason == "unsatisfiable" and "rich==99.0" in conflict.message and "macos-arm64" in conflict.message


def test_each_platform_answers_with_its_sources(wheels: Path, tmp_path: Path) -> None:
    request = Request(requirements=('colorama; sys_platform == "win32"', 'shtab; sys_platform != "win32"'),
                      index=("--no-index", "--find-links", str(wheels)))
    results = {r.platform: r for r in resolve_all(request, ["linux-x86_64", "windows-x86_64"], "3.11",
                                                  tmp_path / "work", tmp_path / "cache")}
    assert results["windows-x86_64"].as_dict()["packages"] == ["colorama 0.4.6"]
    assert results["linux-x86_64"].as_dict()["sources"] == [
        {"name": "shtab", "version": "1.7.1", "source": "resolved", "marker": 'sys_platform != "win32"'}]


def _kiln(*args: str | Path, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    # UV_HTTP_RETRIES=0: an index that cannot be reached is said at once, not after uv's retries
    env = {**os.environ, "KILN_CACHE_DIR": str(cache), "UV_HTTP_RETRIES": "0"}
    return subprocess.run([sys.executable, "-P", "-m", "kiln", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def test_kiln_resolve_names_the_lock_each_version_came_from(wheels: Path, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("humanize==4.9.0\n", encoding="utf-8")
    done = _kiln("resolve", "--events", "jsonl", "--python", "3.11", "--platform", "linux-x86_64", "--platform",
                 "windows-x86_64", "--no-index", "--find-links", wheels, "--lock", "auto", "--folder", tmp_path,
                 "--", "humanize", 'colorama; sys_platform == "win32"', cwd=tmp_path, cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    results = {r["platform"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert results["windows-x86_64"]["developer_lock"] == "requirements.txt"
    assert {s["name"]: (s["version"], s["source"]) for s in results["windows-x86_64"]["sources"]} == {
        "humanize": ("4.9.0", "developer-lock"), "colorama": ("0.4.6", "resolved")}
    text = _kiln("resolve", "--python", "3.11", "--platform", "windows-x86_64", "--no-index", "--find-links", wheels,
                 "--lock", "requirements.txt", "--folder", tmp_path, "--", "humanize", 'colorama; sys_platform == '
                 '"win32"', cwd=tmp_path, cache=tmp_path / "cache")
    assert "colorama 0.4.6 (resolved now)" in text.stdout and "humanize 4.9.0 (from requirements.txt)" in text.stdout


def test_a_name_that_does_not_exist_is_said_in_words(wheels: Path, tmp_path: Path) -> None:
    done = _kiln("resolve", "--python", "3.11", "--platform", "linux-x86_64", "--no-index", "--find-links", wheels,
                 "--", "kiln-no-such-package-zz", cwd=tmp_path, cache=tmp_path / "cache")
    assert done.returncode == 1
    assert "FAIL  linux-x86_64: kiln-no-such-package-zz is not on the package index" in done.stdout


def _dead_port() -> int:
    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_offline_is_not_checked_never_a_false_answer(tmp_path: Path) -> None:
    index = f"http://127.0.0.1:{_dead_port()}/simple"
    done = _kiln("resolve", "--events", "jsonl", "--python", "3.11", "--platform", "linux-x86_64", "--index-url",
                 index, "--", "rich", cwd=tmp_path, cache=tmp_path / "cache")
    (result,) = map(json.loads, done.stdout.splitlines())
    assert result["checked"] is False and not result["ok"] and "not checked (offline)" in result["reason"]
    project = write_project(tmp_path / "app", {
        "app": {"name": "demo", "version": "1.0"}, "entry": {"script": "demo.py"},
        "dependencies": {"requirements": ["rich"], "index_url": index}, "installer": [{"kind": "portable"}]})
    (project.parent / "demo.py").write_text("print('hi')\n", encoding="utf-8")
    check = _kiln("check", project, cwd=tmp_path, cache=tmp_path / "cache")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "dependencies not checked for linux-x86_64 (offline)" in check.stderr


def test_kiln_check_says_not_on_the_package_index(wheels: Path, tmp_path: Path) -> None:
    project = write_project(tmp_path / "app", {
        "app": {"name": "demo", "version": "1.0"}, "entry": {"script": "demo.py"},
        "dependencies": {"requirements": ["kiln-no-such-package-zz"], "no_index": True, "find_links": [str(wheels)]},
        "installer": [{"kind": "portable"}, {"kind": "msi", "upgrade_code": "6F1E0C7A-8F43-4E2B-9C1D-1A2B3C4D5E6F"}]})
    (project.parent / "demo.py").write_text("print('hi')\n", encoding="utf-8")
    check = _kiln("check", project, cwd=tmp_path, cache=tmp_path / "cache")
    assert check.returncode == 1 and "no problems found" not in check.stdout
    assert "dependencies.requirements: kiln-no-such-package-zz is not on the package index" in check.stderr
    assert check.stderr.count("not on the package index") == 1  # one problem for every platform, said once
