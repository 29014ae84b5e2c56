"""A small full disk for tests: a tmpfs of a few MiB, mounted in a private mount namespace (`unshare -m`), so
nothing stays mounted after the command, whatever happens to it. Needs root (or the right to unshare and mount):
tests skip, saying why, where that is not permitted."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def on_small_disk(mount_point: Path, size_mib: int, argv: list[str],
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run argv with a `size_mib` MiB tmpfs mounted on `mount_point` (only argv sees it)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    mount_point.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["unshare", "-m", "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({probe.stderr.strip() or 'not permitted'}; as root it works)")
    script = 'mount -t tmpfs -o "size=$1m" tmpfs "$2" && shift 2 && exec "$@"'
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(size_mib), str(mount_point), *argv],
                          capture_output=True, text=True, timeout=900, env=env)
