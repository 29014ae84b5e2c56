"""The AppImage runtime's start cache, run for real: the first start mounts, a background process extracts the
payload into the user's cache folder, later starts run from that read-only copy; off by the project or the user."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kit.testing import require_tools as need

from kiln.installers.appimage import glibc_need, start_cache
from kiln.installers.appimage.format import assemble, make_squashfs

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "resources" / "launchers" / "appimage"

# AppRun: where it runs from, and whether that is a FUSE mount.
APP_RUN = r"""#!/bin/sh
printf 'APPDIR=%s\n' "$APPDIR"
if grep -q " $APPDIR fuse" /proc/self/mounts; then echo MOUNTED=yes; else echo MOUNTED=no; fi
exit "${1:-0}"
"""
OLD = time.time() - 40 * 24 * 3600  # unused for 40 days: past the 30 the runtime keeps a copy


def runtime_path() -> Path:
    """CI's fresh build of the sources when KILN_APPIMAGE_RUNTIME is set, else the shipped runtime."""
    return Path(os.environ.get("KILN_APPIMAGE_RUNTIME") or RUNTIME_DIR / "runtime-x86_64")


def make_image(root: Path, cache: bool, name: str = "Cached-x86_64.AppImage") -> tuple[Path, Path, str]:
    """(image, AppDir, digest): an AppImage whose runtime records its payload's digest, as Kiln's builds do."""
    need("mksquashfs")
    appdir = root / "AppDir"
    (appdir / "usr" / "lib").mkdir(parents=True)
    (appdir / "AppRun").write_text(APP_RUN)
    (appdir / "AppRun").chmod(0o755)
    (appdir / "usr" / "lib" / "data.bin").write_bytes(os.urandom(200_000))
    (appdir / "usr" / "lib" / "link").symlink_to("data.bin")
    make_squashfs(appdir, root / "payload.sqfs")
    digest = start_cache.payload_digest(root / "payload.sqfs")
    runtime = glibc_need.embed(runtime_path().read_bytes(), "2.17")
    (root / "runtime").write_bytes(start_cache.embed(runtime, digest, cache))
    assemble(root / "runtime", root / "payload.sqfs", root / name)
    return root / name, appdir, digest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "tmp").mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APPIMAGE", "XDG_CACHE_HOME"))}
    return {**clean, "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "TMPDIR": str(tmp_path / "tmp")}


def start(image: Path, env: dict[str, str], *args: str) -> dict[str, str]:
    result = subprocess.run([str(image), *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == (int(args[0]) if args else 0), result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Waits for the background extraction (at the lowest priority on a shared machine: up to two minutes)."""
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def need_fuse() -> None:
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        pytest.skip("/dev/fuse is not usable here")


def test_first_start_mounts_and_later_starts_run_from_a_read_only_copy(tmp_path: Path, env: dict[str, str]) -> None:
    need_fuse()
    image, appdir, digest = make_image(tmp_path, cache=True)
    copy = tmp_path / "cache" / "kiln-appimage" / f"Cached-x86_64-{digest}"
    first = start(image, env, "3")
    assert first["MOUNTED"] == "yes" and first["APPDIR"].startswith(str(tmp_path / "tmp" / ".mount_"))

    wait_for(copy.exists, "the cached copy")
    later = start(image, env, "4")
    assert later == {"APPDIR": str(copy), "MOUNTED": "no"}
    assert (copy / "usr" / "lib" / "data.bin").read_bytes() == (appdir / "usr" / "lib" / "data.bin").read_bytes()
    assert os.readlink(copy / "usr" / "lib" / "link") == "data.bin"
    for path in copy.rglob("*"):  # files read-only like the mount; folders stay writable, so rm -rf works
        mode = path.lstat().st_mode
        assert stat.S_ISLNK(mode) or (stat.S_ISDIR(mode) and mode & 0o200) or not mode & 0o222, oct(mode)
    assert [p.name for p in copy.parent.iterdir()] == [copy.name], "no partial folder left behind"

    # The user's switch: mounted again, the copy left alone.
    assert start(image, {**env, "APPIMAGE_KILN_CACHE": "0"})["MOUNTED"] == "yes"

    # A copy damaged by hand (no AppRun) is removed: that start mounts, and the copy is made again after it.
    (copy / "AppRun").unlink()
    assert start(image, env)["MOUNTED"] == "yes"
    wait_for((copy / "AppRun").exists, "the copy made again")
    assert start(image, env)["APPDIR"] == str(copy)


def test_start_stamps_the_copy_and_making_one_removes_copies_unused_for_30_days(tmp_path: Path,
                                                                              env: dict[str, str]) -> None:
    need_fuse()
    image, _appdir, digest = make_image(tmp_path, cache=True)
    root = tmp_path / "cache" / "kiln-appimage"
    stale = root / f"Other-x86_64-{'a' * 32}"
    recent = root / f"Recent-x86_64-{'b' * 32}"
    kept = [root / "not-a-kiln-copy", root / f"Hashed-x86_64-{'c' * 16}"]  # foreign, or extract-and-run's old key
    for folder in (stale, recent, *kept):
        (folder / "usr").mkdir(parents=True)
        (folder / "usr").chmod(0o555)
        os.utime(folder, (OLD, OLD))
    os.utime(recent, None)

    start(image, env)
    wait_for(lambda: not stale.exists(), "the stale copy's removal")
    copy = root / f"Cached-x86_64-{digest}"
    assert copy.is_dir() and recent.is_dir() and all(folder.is_dir() for folder in kept)

    os.utime(copy, (OLD, OLD))
    assert start(image, env)["APPDIR"] == str(copy)
    assert copy.stat().st_mtime > OLD + 24 * 3600, "a start from the copy stamps it as used"


def test_off_in_the_project_always_mounts_and_makes_no_copy(tmp_path: Path, env: dict[str, str]) -> None:
    need_fuse()
    image, _appdir, _digest = make_image(tmp_path, cache=False)
    for _ in range(2):
        assert start(image, env)["MOUNTED"] == "yes"
    assert not (tmp_path / "cache" / "kiln-appimage").exists()  # no background process was started at all


def test_extract_and_run_uses_the_digest_named_folder(tmp_path: Path, env: dict[str, str]) -> None:
    image, _appdir, digest = make_image(tmp_path, cache=True)
    shown = start(image, {**env, "APPIMAGE_EXTRACT_AND_RUN": "1"}, "5")
    assert shown == {"APPDIR": str(tmp_path / "cache" / "kiln-appimage" / f"Cached-x86_64-{digest}"), "MOUNTED": "no"}


def test_a_disk_without_room_for_the_copy_is_refused_before_writing(tmp_path: Path, env: dict[str, str]) -> None:
    """A 200 KiB tmpfs as the cache folder, in a private mount namespace: the payload's 200 kB file would just fit,
    but the space check keeps an eighth free, so extraction stops before writing, with one line, leaving nothing."""
    if os.geteuid() != 0:
        pytest.skip("needs root (a tmpfs in a private mount namespace)")
    need("unshare", "mount")
    image, _appdir, _digest = make_image(tmp_path, cache=True)
    (tmp_path / "cache").mkdir()
    script = 'mount -t tmpfs -o size=200k tmpfs "$XDG_CACHE_HOME" && "$@"; echo "rc=$?"; ls -A "$XDG_CACHE_HOME"/*'
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", str(image)],
                            env={**env, "APPIMAGE_EXTRACT_AND_RUN": "1"}, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.stdout == "rc=1\n", result.stderr
    assert "not enough free space for the app's files" in result.stderr
    assert result.stderr.count("\n") == 1


def test_no_copy_on_a_cache_folder_mounted_noexec(tmp_path: Path, env: dict[str, str]) -> None:
    """Where the cache folder's file system is mounted noexec, the copy's AppRun could not run: no copy is made
    (decided before anything is forked), and every start mounts."""
    if os.geteuid() != 0:
        pytest.skip("needs root (a tmpfs in a private mount namespace)")
    need_fuse()
    need("unshare", "mount")
    image, _appdir, _digest = make_image(tmp_path, cache=True)
    (tmp_path / "cache").mkdir()
    script = ('mount -t tmpfs -o noexec tmpfs "$XDG_CACHE_HOME" && for i in 1 2; do "$@"; done; '
              'ls -A "$XDG_CACHE_HOME"/kiln-appimage')
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", str(image)],
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("MOUNTED=yes") == 2 and result.stdout.splitlines()[-1].startswith("MOUNTED=")
