"""Offline builds: a runtime added with `kiln runtimes add` serves the build when the catalog's newest patch
cannot be downloaded, with a warning naming both versions; `kiln runtimes list` says which one a build uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kit import msi as msi_kit
from kit.projects import write_project
from kit.runner import kiln
from kit.runtime import standin_archive

from kiln.runtimes import catalog
from kiln.support.targets import TARGETS

ADDED = "3.11.4"
UNREACHABLE = "http://127.0.0.1:9/mirror"  # the discard port: every download is refused at once


@pytest.mark.slow
def test_added_runtimes_serve_an_offline_build(tmp_path: Path) -> None:
    msi_kit.need("wixl", "msibuild", "msiinfo", "xorriso")
    env = {"KILN_CACHE_DIR": str(tmp_path / "cache"), "PBS_INSTALLER_BASE_URL": UNREACHABLE}
    newest = {p: catalog.pick(TARGETS[p], "3.11").version for p in ("windows-x86_64", "macos-arm64")}
    assert ADDED not in newest.values()  # the added patch differs from the catalog's
    for platform in newest:
        standin = standin_archive(tmp_path, platform, ADDED)
        added = kiln("runtimes", "add", standin, "--platform", platform, "--version", "3.11", env=env)
        assert added.returncode == 0, added.stderr
        assert f"Python {ADDED} for {platform} added to the cache" in " ".join(added.stdout.split())

    listed = kiln("runtimes", "list", "--platform", "windows-x86_64", env=env)
    assert f"else cached {ADDED}" in " ".join(listed.stdout.replace("│", " ").split())

    msi_kit.write_app(tmp_path)
    project = write_project(tmp_path, {
        "schema_version": 1,
        "app": {"name": "hello", "version": "1.0", "publisher": "Kiln Tests"},
        "entry": {"module": "hello:main", "kind": "console"},
        "source": {"root": "src", "include": ["**/*.py"]},
        "python": {"version": "3.11", "source": "auto"},
        "installer": [{"kind": "msi", "upgrade_code": msi_kit.UPGRADE_CODE},
                      {"kind": "dmg", "platform": "macos-arm64"}],
    })
    built = kiln("build", project, "--events", "jsonl", env=env)
    events = built.events
    assert built.returncode == 0, [e for e in events if e.kind == "error"] or built.stderr
    kinds = sorted(e.data["kind"] for e in events if e.kind == "artifact")
    assert kinds == ["dmg", "msi"]
    warnings = [e.message for e in events if e.kind == "warning" and "could not be fetched" in e.message]
    for platform, version in newest.items():
        (line,) = [w for w in warnings if f"for {platform}" in w]
        assert f"Python {version} for {platform} could not be fetched" in line and f"using Python {ADDED}" in line
    report = json.loads(Path(next(e.data["report"] for e in events if e.kind == "done")).read_text())
    assert {p: r["full_version"] for p, r in report["runtimes"].items()} == dict.fromkeys(newest, ADDED)
