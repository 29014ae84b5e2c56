"""What a killed build leaves behind is removed by the next build, and `kiln cache clean` reports it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from kiln.cli.main import main
from kiln.support import sweep
from kiln.support.locks import unique_temp_dir

PROJECT = """\
[app]
name = "tiny"
version = "1.0"
[entry]
module = "tiny:main"
[source]
root = "app"
include = ["*.py"]
[python]
source = "host"
[build]
compression_level = 1
[[installer]]
kind = "portable"
"""


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_only_folders_of_dead_processes_are_leftovers(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    (tmp_path / f"{sweep.PARTIAL}{dead}-abc").mkdir()
    (tmp_path / f"{sweep.PARTIAL}{alive}-abc").mkdir()
    (tmp_path / f"kiln-build-{dead}-xyz").mkdir()
    (tmp_path / "kiln-build-notapid").mkdir()  # an old-style name, recent: kept
    (tmp_path / "unrelated").mkdir()
    found = {p.path.name for p in sweep.find_leftovers(tmp_path, (sweep.PARTIAL, "kiln-build-"))}
    assert found == {f"{sweep.PARTIAL}{dead}-abc", f"kiln-build-{dead}-xyz"}


def test_cache_clean_reports_and_removes_leftovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    dead = _dead_pid()
    work = temp / f"kiln-build-{dead}-q1w2"
    (work / "bundle").mkdir(parents=True)
    (work / "bundle" / "big.bin").write_bytes(b"x" * 4096)
    entry = tmp_path / "cache" / "runtimes" / "host" / "3.11-abc"
    half = unique_temp_dir(entry)
    killed = half.with_name(half.name.replace(f"-{os.getpid()}-", f"-{dead}-"))
    half.rename(killed)
    assert main(["cache", "clean", "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert str(work) in out and "leftover" in out, out
    assert not work.exists() and not killed.exists()


@pytest.mark.slow
def test_kill_9_mid_build_then_a_new_build_leaves_nothing_of_the_dead_one(tmp_path: Path) -> None:
    project = tmp_path / "tiny"
    (project / "app").mkdir(parents=True)
    (project / "app" / "tiny.py").write_text("def main():\n    print('tiny runs')\n")
    (project / "kiln.toml").write_text(PROJECT)
    temp, cache, dist = tmp_path / "tmp", tmp_path / "cache", project / "dist"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    argv = [sys.executable, "-m", "kiln", "build", str(project / "kiln.toml"), "--cache-dir", str(cache)]
    victim = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until it is mid-build: its partial and work folders exist
        partial = list(dist.glob(f"{sweep.PARTIAL}{victim.pid}-*")) if dist.is_dir() else []
        work = list(temp.glob(f"kiln-build-{victim.pid}-*"))
        relocating = list((cache / "runtimes" / "host").glob(f".*.partial-{victim.pid}-*")) \
            if (cache / "runtimes" / "host").is_dir() else []
        if partial and work and relocating:
            break
        time.sleep(0.05)
    else:
        victim.kill()
        pytest.fail("the build never got under way")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert partial[0].exists() and work[0].exists() and relocating[0].exists()  # the kill left them

    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(dist.glob(f"{sweep.PARTIAL}*")), list(dist.iterdir())
    assert not [p for p in temp.iterdir() if str(victim.pid) in p.name], list(temp.iterdir())
    assert not [p for p in (cache / "runtimes" / "host").iterdir() if str(victim.pid) in p.name]
    assert (dist / "tiny-1.0-linux-x86_64.tar.zst").is_file()


@pytest.mark.slow
def test_a_full_disk_is_named_with_its_free_space_not_called_a_bug(tmp_path: Path) -> None:
    """The output folder on a 2 MiB file system: the build fails saying so, with the path and the free space."""
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        project = tmp_path / "tiny"
        (project / "app").mkdir(parents=True)
        (project / "app" / "tiny.py").write_text("def main():\n    print('tiny runs')\n")
        (project / "kiln.toml").write_text(PROJECT.replace("compression_level = 1",
                                                           f'compression_level = 1\noutput_dir = "{small}"'))
        result = subprocess.run([sys.executable, "-m", "kiln", "build", str(project / "kiln.toml"), "--cache-dir",
                                 str(tmp_path / "cache")], capture_output=True, text=True, timeout=600,
                                env={**os.environ, "COLUMNS": "300"})
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "no space left" in output and "free there" in output and str(small) in output, output
        assert "internal error" not in output and "Traceback" not in output, output
        assert not list(small.glob(f"{sweep.PARTIAL}*"))  # the partial artifact was removed
    finally:
        subprocess.run(["umount", str(small)], check=False)
