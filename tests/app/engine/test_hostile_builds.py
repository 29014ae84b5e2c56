"""Hostile strings in every user-visible field, built as all four kinds: valid artifacts, or a refusal before any
building starts (no runtime stage, nothing in the output folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kit.runtime import standin_archive
from kit.testing import require_tools

from kiln.model.events import Event, JsonLinesReader

pytestmark = [pytest.mark.slow, pytest.mark.long]  # bash .ci/long
UNREACHABLE = "http://127.0.0.1:9/mirror"  # python-build-standalone's mirror: refused at once (no GitHub here)

PROJECT = """\
[app]
name = {name}
version = "1.0"
display_name = {title}
identifier = "org.example.hostile"
publisher = {text}
description = {text}
license = {text}
homepage = {text}
[entry]
module = "hostile:main"
[source]
root = "app"
include = ["*.py"]
[build]
compression_level = 1
[[installer]]
kind = "appimage"
categories = ["Utility"]
[[installer]]
kind = "portable"
output_name = {output_name}
[[installer]]
kind = "msi"
[[installer]]
kind = "dmg"
volume_name = {title}
"""
HOSTILE = 'Tom\'s "Best" <App> & co; $(id) `id` %s %n \\ \u202e名前 ; rm -rf / #'


def q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    require_tools("mksquashfs", "wixl", "msibuild", "xorriso")
    cache = tmp_path_factory.mktemp("cache")
    env = {**os.environ, "KILN_CACHE_DIR": str(cache), "PBS_INSTALLER_BASE_URL": UNREACHABLE}
    standin = standin_archive(cache.parent, "macos-arm64", "3.11.4")
    added = subprocess.run([sys.executable, "-m", "kiln", "runtimes", "add", str(standin), "--platform",
                            "macos-arm64"], env=env, capture_output=True, text=True, timeout=300)
    assert added.returncode == 0, added.stdout + added.stderr
    return env


def build(env: dict[str, str], folder: Path, **fields: str) -> tuple[int, list[Event], str]:
    (folder / "app").mkdir(parents=True)
    (folder / "app" / "hostile.py").write_text("def main():\n    print('hostile runs')\n")
    values = {"name": q("hostile"), "title": q(HOSTILE), "text": q(HOSTILE), "output_name": q("hostile-portable")}
    values.update({key: q(value) for key, value in fields.items()})
    (folder / "kiln.toml").write_text(PROJECT.format(**values), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "kiln", "build", str(folder / "kiln.toml"), "--events", "jsonl"],
                            env=env, capture_output=True, timeout=1200)
    assert b"Traceback" not in result.stderr and b"internal error" not in result.stdout, result.stderr
    reader = JsonLinesReader()
    return result.returncode, reader.feed(result.stdout) + reader.flush(), result.stderr.decode()


def inspect(env: dict[str, str], artifact: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "kiln", "inspect", str(artifact)], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("title", [HOSTILE, "名" * 80, "x"])
def test_hostile_but_valid_strings_give_four_valid_artifacts(env: dict[str, str], tmp_path: Path, title: str) -> None:
    code, events, _ = build(env, tmp_path / "p", title=title, output_name="hostile 'portable' (1)")
    artifacts = {e.data["kind"]: Path(e.data["path"]) for e in events if e.kind == "artifact"}
    assert code == 0, [e.message for e in events if e.kind == "error"]
    assert sorted(artifacts) == ["appimage", "dmg", "msi", "portable"]
    for artifact in artifacts.values():
        assert artifact.parent == tmp_path / "p" / "dist"  # nothing anywhere else
        inspect(env, artifact)
    assert artifacts["portable"].name == "hostile 'portable' (1).tar.zst"


@pytest.mark.parametrize("fields", [
    {"name": "hostile\n"}, {"title": " "}, {"output_name": "../../victim"}, {"output_name": "/tmp/victim"},
    {"title": "名" * 300}, {"name": "a" * 300}, {"text": "a\x00b"},
], ids=["name-newline", "blank-title", "output-name-parent", "output-name-absolute", "long-title", "long-name",
        "nul"])
def test_hostile_invalid_strings_are_refused_before_building(env: dict[str, str], tmp_path: Path,
                                                            fields: dict[str, str]) -> None:
    code, events, stderr = build(env, tmp_path / "p", **fields)
    assert code == 1
    assert not any(e.kind == "stage-start" and (e.stage or "").startswith("runtime") for e in events)
    # Refused when the file is read (problems on stderr) or by the validate stage (an error event with problems).
    errors = [e for e in events if e.kind == "error"]
    assert "problem(s)" in stderr or (errors and errors[0].data.get("problems")), (stderr, events)
    dist = tmp_path / "p" / "dist"
    assert not dist.exists() or not [p for p in dist.iterdir() if not p.name.endswith((".log", ".lock"))]
    assert not (tmp_path / "victim.tar.zst").exists() and not Path("/tmp/victim.tar.zst").exists()
