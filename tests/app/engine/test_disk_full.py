"""A build whose output folder is on a full disk names that folder's file and its free space, not the cache's."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from kit.disk import on_small_disk
from kit.testing import REPO

from kiln.model.events import JsonLinesReader

pytestmark = pytest.mark.slow
UNREACHABLE = "http://127.0.0.1:9/mirror"  # python-build-standalone's mirror: refused at once (no GitHub here)


def test_portable_build_into_a_small_disk(tmp_path: Path) -> None:
    folder = tmp_path / "hello"
    shutil.copytree(REPO / "examples" / "hello", folder, ignore=shutil.ignore_patterns("dist", "kiln.toml"))
    small = tmp_path / "small"
    (folder / "kiln.toml").write_text(
        '[app]\nname = "hello"\nversion = "1.0.0"\n[entry]\nmodule = "hello.cli:main"\n[source]\n'
        f'include = ["hello/**"]\n[dependencies]\nrequirements = ["rich>=13"]\n[[installer]]\nkind = "portable"\n'
        f'[build]\noutput_dir = "{small}"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO), "KILN_CACHE_DIR": str(tmp_path / "cache"),
           "PBS_INSTALLER_BASE_URL": UNREACHABLE}
    # 8 MiB: room for the build log, not for the 12 MiB archive (the cache, on the roomy disk, fills first)
    done = on_small_disk(small, 8, [sys.executable, "-m", "kiln", "build", str(folder / "kiln.toml"), "--events",
                                    "jsonl"], env=env)
    events = JsonLinesReader().feed(done.stdout.encode())
    (outcome,) = events[-1].data["installers"]
    assert outcome["status"] == "failed"
    message = outcome["message"]
    assert message.startswith(f"{small}/") and message.endswith("no space left on the device (0 bytes free there)")
    assert "cache" not in message and "internal error" not in message
    assert "set build.output_dir" in outcome["hint"]
