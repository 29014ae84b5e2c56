"""Offline builds: a runtime added with `kiln runtimes add` serves the build when the catalog's newest patch
cannot be downloaded, with a warning naming both versions; `kiln runtimes list` says which one a build uses."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import msi_kit as kit
import pytest
import tomlkit

from kiln.runtimes import catalog
from kiln.support.targets import TARGETS

ADDED = "3.11.4"
UNREACHABLE = "http://127.0.0.1:9/mirror"  # the discard port: every download is refused at once


def archive(folder: Path, platform: str) -> Path:
    """A stand-in install_only archive of Python 3.11.4 for `platform` (no macOS CPython is obtainable here)."""
    header = f'#define PY_VERSION "{ADDED}"\n'.encode()
    if platform == "windows-x86_64":
        pe = (kit.REPO / "resources" / "launchers" / "windows" / "launcher-console.exe").read_bytes()
        files = {"python/python.exe": pe, "python/pythonw.exe": pe, "python/python311.dll": pe,
                 "python/Lib/os.py": b"# os\n", "python/Lib/site-packages/README.txt": b"",
                 "python/include/patchlevel.h": header}
        name = f"cpython-{ADDED}+20230726-x86_64-pc-windows-msvc-install_only.tar.gz"
    else:
        files = {"python/bin/python3.11": b"\xcf\xfa\xed\xfe\x0c\x00\x00\x01" + bytes(64),
                 "python/lib/libpython3.11.dylib": b"\xcf\xfa\xed\xfe", "python/lib/python3.11/os.py": b"# os\n",
                 "python/lib/python3.11/site-packages/README.txt": b"",
                 "python/include/python3.11/patchlevel.h": header}
        name = f"cpython-{ADDED}+20230726-aarch64-apple-darwin-install_only.tar.gz"
    path = folder / name
    with tarfile.open(path, "w:gz") as tar:
        for entry, data in files.items():
            info = tarfile.TarInfo(entry)
            info.size, info.mode = len(data), 0o755 if "/bin/" in entry or entry.endswith(".exe") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def kiln(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiln", *map(str, args)], cwd=kit.REPO, env=env, text=True,
                          capture_output=True, timeout=600)


@pytest.mark.slow
def test_added_runtimes_serve_an_offline_build(tmp_path: Path) -> None:
    kit.need("wixl", "msibuild", "msiinfo", "xorriso")
    env = {**os.environ, "KILN_CACHE_DIR": str(tmp_path / "cache"), "PBS_INSTALLER_BASE_URL": UNREACHABLE}
    newest = {p: catalog.pick(TARGETS[p], "3.11").version for p in ("windows-x86_64", "macos-arm64")}
    assert ADDED not in newest.values()  # the added patch differs from the catalog's
    for platform in newest:
        added = kiln("runtimes", "add", archive(tmp_path, platform), "--platform", platform, "--version", "3.11",
                     env=env)
        assert added.returncode == 0, added.stderr
        assert f"Python {ADDED} for {platform} added to the cache" in " ".join(added.stdout.split())

    listed = kiln("runtimes", "list", "--platform", "windows-x86_64", env=env)
    assert f"else cached {ADDED}" in " ".join(listed.stdout.replace("│", " ").split())

    kit.write_app(tmp_path)
    document = {
        "schema_version": 1,
        "app": {"name": "hello", "version": "1.0", "publisher": "Kiln Tests"},
        "entry": {"module": "hello:main", "kind": "console"},
        "source": {"root": "src", "include": ["**/*.py"]},
        "python": {"version": "3.11", "source": "auto"},
        "installer": [{"kind": "msi", "upgrade_code": kit.UPGRADE_CODE},
                      {"kind": "dmg", "platform": "macos-arm64"}],
    }
    project = tmp_path / "kiln.toml"
    project.write_text(tomlkit.dumps(document), encoding="utf-8")
    built = kiln("build", project, "--events", "jsonl", env=env)
    events = [json.loads(line) for line in built.stdout.splitlines() if line.startswith("{")]
    assert built.returncode == 0, [e for e in events if e["kind"] == "error"] or built.stderr
    kinds = sorted(e["data"]["kind"] for e in events if e["kind"] == "artifact")
    assert kinds == ["dmg", "msi"]
    warnings = [e["message"] for e in events if e["kind"] == "warning" and "could not be fetched" in e["message"]]
    for platform, version in newest.items():
        (line,) = [w for w in warnings if f"for {platform}" in w]
        assert f"Python {version} for {platform} could not be fetched" in line and f"using Python {ADDED}" in line
    report = json.loads(Path(next(e["data"]["report"] for e in events if e["kind"] == "done")).read_text())
    assert {p: r["full_version"] for p, r in report["runtimes"].items()} == dict.fromkeys(newest, ADDED)
