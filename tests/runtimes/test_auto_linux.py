"""`auto` for Linux prefers a python-build-standalone-shaped runtime (glibc 2.17) over this machine's Python.

No python-build-standalone Linux archive can be downloaded here, so the test makes one in its shape from the
relocated host runtime (bin/python3.X, lib/libpython3.X.so.1.0, lib/python3.X/, include/…/patchlevel.h),
adds it with `kiln runtimes add`, and builds a portable offline: the build uses that runtime and the app runs.
Without it, the build falls back to the host's Python and warns with the glibc floor in plain words.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from kit.testing import REPO, unpack_portable

from kiln.runtimes.glibc import floor_in_words, host_version
from kiln.runtimes.host import HostRuntimeProvider
from kiln.support.targets import TARGETS

pytestmark = pytest.mark.slow
MINOR = f"{sys.version_info.major}.{sys.version_info.minor}"
STANDIN = f"{MINOR}.4"


def pbs_shaped_archive(cache: Path, folder: Path) -> Path:
    """The relocated host runtime packed as python-build-standalone's install_only archive of STANDIN."""
    runtime = HostRuntimeProvider().provide(TARGETS["linux-x86_64"], MINOR, cache, lambda f, m: None)
    archive = folder / f"cpython-{STANDIN}+20230726-x86_64-unknown-linux-gnu-install_only.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(runtime.root, arcname="python")
        header = f'#define PY_VERSION "{STANDIN}"\n'.encode()
        info = tarfile.TarInfo(f"python/include/python{MINOR}/patchlevel.h")
        info.size, info.mode = len(header), 0o644
        tar.addfile(info, io.BytesIO(header))
    return archive


def build(project: Path, env: dict[str, str]) -> list[dict[str, object]]:
    result = subprocess.run([sys.executable, "-m", "kiln", "build", str(project), "--events", "jsonl"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=900)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode == 0, [e for e in events if e["kind"] == "error"] or result.stderr[-2000:]
    return events


def test_auto_prefers_a_cached_standalone_linux_runtime(tmp_path: Path) -> None:
    project = tmp_path / "app" / "kiln.toml"
    (tmp_path / "app" / "tool").mkdir(parents=True)
    (tmp_path / "app" / "tool" / "__init__.py").write_text(
        "import sys\n\ndef main():\n    print('prefix', sys.prefix)\n    return 0\n", encoding="utf-8")
    project.write_text(
        'schema_version = 1\n[app]\nname = "tool"\nversion = "1.0"\n[entry]\nmodule = "tool:main"\n'
        f'[source]\ninclude = ["tool/**"]\n[python]\nversion = "{MINOR}"\nsource = "auto"\n'
        '[[installer]]\nkind = "portable"\n', encoding="utf-8")
    env = {**os.environ, "KILN_CACHE_DIR": str(tmp_path / "cache"), "PBS_INSTALLER_BASE_URL": "http://127.0.0.1:9/m"}

    # Nothing cached, nothing downloadable: the host's Python, with the glibc floor spelled out.
    events = build(project, env)
    floor = [e["message"] for e in events if e["kind"] == "warning" and "this machine's Python" in str(e["message"])]
    assert len(floor) == 1 and floor_in_words(host_version()) in str(floor[0])
    assert "does not start on" in str(floor[0])  # names the distributions it excludes

    archive = pbs_shaped_archive(tmp_path / "host-cache", tmp_path)
    added = subprocess.run([sys.executable, "-m", "kiln", "runtimes", "add", str(archive), "--platform",
                            "linux-x86_64"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert added.returncode == 0, added.stderr
    events = build(project, env)
    report = json.loads(Path(str(next(e["data"]["report"] for e in events if e["kind"] == "done")))  # type: ignore[index]
                        .read_text(encoding="utf-8"))
    runtime = report["runtimes"]["linux-x86_64"]
    assert runtime["full_version"] == STANDIN and runtime["source"].startswith("cache: added ")
    assert not any("this machine's Python" in str(e["message"]) for e in events if e["kind"] == "warning")

    artifact = Path(str(next(e["data"]["path"] for e in events if e["kind"] == "artifact")))  # type: ignore[index]
    unpack_portable(artifact, tmp_path / "unpacked")
    result = subprocess.run([str(tmp_path / "unpacked" / "tool" / "tool")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"prefix {tmp_path / 'unpacked' / 'tool' / 'runtime'}"
