"""`kiln build examples/hello/kiln.toml` without GitHub: every installer succeeds or fails on its own.

Without python-build-standalone, the Linux installers use this machine's Python, the MSI python.org's
embeddable CPython from the package index, and the DMG has no runtime: it is reported failed with a command
that fixes it, the other three are built and published, and the exit code is 1. With a macOS runtime added
(a stand-in: no macOS CPython is obtainable here) the same build, run by the CI recipe (docs/ci.md), builds all
four.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from kit import sbom as sbom_kit
from kit.projects import copy_example
from kit.runner import KilnRun, kiln
from kit.runtime import standin_archive
from kit.testing import REPO, require_tools

pytestmark = pytest.mark.slow
UNREACHABLE = "http://127.0.0.1:9/mirror"  # stands in for GitHub: refused at once instead of a long timeout


@pytest.fixture(scope="module")
def first_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], KilnRun]:
    """examples/hello built as it is, GitHub out of reach: the DMG fails, the other three are built."""
    require_tools("mksquashfs", "wixl", "msibuild", "msiinfo", "osslsigncode", "xorriso")
    root = tmp_path_factory.mktemp("partial")
    project = copy_example("hello", root).parent
    env = {"KILN_CACHE_DIR": str(root / "cache"), "PBS_INSTALLER_BASE_URL": UNREACHABLE}
    return project, env, kiln("build", project / "kiln.toml", "--events", "jsonl", env=env, cwd=REPO, timeout=1200)


def test_one_failed_installer_does_not_fail_the_others(first_build: tuple[Path, dict[str, str], KilnRun]) -> None:
    project, _env, built = first_build
    code, events = built.returncode, built.events
    done = events[-1]
    assert done.kind == "done" and done.data["status"] == "failed" and code == 1
    outcomes = {o["kind"]: o for o in done.data["installers"]}
    assert {k: o["status"] for k, o in outcomes.items()} == {
        "appimage": "ok", "portable": "ok", "msi": "ok", "dmg": "failed"}
    dmg = outcomes["dmg"]
    assert dmg["platform"] == "macos-arm64" and "no Python 3.11 runtime for macos-arm64" in dmg["message"]
    assert "`kiln runtimes add ARCHIVE --platform macos-arm64`" in dmg["hint"]
    published = {e.data["kind"]: Path(e.data["path"]) for e in events if e.kind == "artifact"}
    assert sorted(published) == ["appimage", "msi", "portable"] and all(p.is_file() for p in published.values())
    shipped = [p.name for p in (project / "dist").iterdir() if not p.name.startswith(".")]  # not the build lock
    assert sorted(n for n in shipped if not n.endswith((".log", ".json"))) == sorted(p.name for p in published.values())
    assert sorted(n for n in shipped if n.endswith(".cdx.json")) == sorted(f"{p.name}.cdx.json"
                                                                          for p in published.values())
    errors = [e for e in events if e.kind == "error"]
    assert len(errors) == 1 and errors[0].message.startswith("dmg (macos-arm64) failed:")
    report = json.loads(Path(done.data["report"]).read_text(encoding="utf-8"))
    assert report["status"] == "failed" and [o["status"] for o in report["installers"]] == ["ok", "ok", "ok", "failed"]
    assert report["size_by_component"], "the size picture is there even when one installer failed"
    assert "embeddable" in report["runtimes"]["windows-x86_64"]["source"]


def test_the_ci_recipe_builds_all_four_once_a_macos_runtime_is_added(
        first_build: tuple[Path, dict[str, str], KilnRun], tmp_path: Path) -> None:
    """The same command through docs/ci/build-installers.sh, as a CI runner would run it: Kiln installed into a new
    virtual environment from a copy of this checkout (with the versions pylock.toml pins), the kinds' Debian
    packages checked, then `kiln build` (the cache of the first build keeps this one short)."""
    project, env, _ = first_build
    standin = standin_archive(tmp_path, "macos-arm64", "3.11.4")
    assert kiln("runtimes", "add", standin, "--platform", "macos-arm64", env=env, cwd=REPO).returncode == 0
    source = tmp_path / "kiln-source"  # pip builds Kiln in place: a copy, so nothing is written into the checkout
    for name in ("app", "ui", "runtimes", "resources"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, source / name)
    locked = tomllib.loads((REPO / "pylock.toml").read_text(encoding="utf-8"))["packages"]
    (tmp_path / "constraints.txt").write_text("".join(f"{p['name']}=={p['version']}\n" for p in locked))
    recipe_env = {**os.environ, **env, "KILN_REQUIREMENT": str(source), "KILN_PYTHON": sys.executable,
                  "KILN_VENV": str(tmp_path / "venv"), "PIP_CONSTRAINT": str(tmp_path / "constraints.txt"),
                  "TMPDIR": str(tmp_path)}
    recipe_env.pop("SOURCE_DATE_EPOCH", None)
    result = subprocess.run(["bash", REPO / "docs" / "ci" / "build-installers.sh", project / "kiln.toml"],
                            env=recipe_env, cwd=tmp_path, capture_output=True, text=True, timeout=1800,
                            stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "==> the Debian packages Kiln's installer kinds need" in result.stdout
    assert "using Python 3.11.4" in result.stdout  # the added macOS runtime, said so
    kinds = {".AppImage": "appimage", ".tar.zst": "portable", ".msi": "msi", ".dmg": "dmg"}
    built = {kind: project / "dist" / f"hello-1.0.0-{platform}{ending}" for ending, kind in kinds.items()
             for platform in ["macos-arm64" if kind == "dmg" else "windows-x86_64" if kind == "msi"
                              else "linux-x86_64"]}
    for kind, artifact in built.items():
        assert artifact.is_file(), kind
        sbom = sbom_kit.validate(artifact.with_name(artifact.name + ".cdx.json").read_bytes())
        assert {c["name"] for c in sbom["components"]} >= {"CPython", "rich"}, kind
    assert (tmp_path / "venv" / "bin" / "kiln").is_file(), "Kiln ran from the recipe's own environment"
