"""Kiln's AppImage runtime, run for real: FUSE mode, extract-and-run fallback, options, damage, other readers."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kit.testing import require_tools as need

from kiln.installers.appimage import glibc_need
from kiln.installers.appimage.format import assemble, elf_end_offset, make_squashfs

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "resources" / "launchers" / "appimage"


def runtime_path() -> Path:
    """The runtime under test: CI's fresh build of the sources when KILN_APPIMAGE_RUNTIME is set (.ci/run sets it;
    see resources/launchers/appimage/README.md), else the shipped one."""
    return Path(os.environ.get("KILN_APPIMAGE_RUNTIME") or RUNTIME_DIR / "runtime-x86_64")

NASTY_ARGS = ["two words", "quote \" and ' single", "ünïcødé ✓", "", "--appimage-offset", "$HOME", "line\nbreak"]

# AppRun: NUL-separated "KEY=value" records (args may contain anything), then behaviour chosen by $1:
# an exit code, "sleep" (announce, then become a long sleep we can kill) or "mark" (drop a file in APPDIR).
APP_RUN = r"""#!/bin/sh
mode="$1"
printf '%s\0' "APPIMAGE=$APPIMAGE" "APPDIR=$APPDIR" "ARGV0=$ARGV0" "OWD=$OWD" "PWD=$(pwd)"
for a in "$@"; do printf 'ARG=%s\0' "$a"; done
if [ -e "$APPDIR/marker" ]; then printf 'MARKER=yes\0'; else printf 'MARKER=no\0'; fi
if grep -q " $APPDIR fuse" /proc/self/mounts; then printf 'MOUNTED=yes\0'; else printf 'MOUNTED=no\0'; fi
printf 'PID=%s\0' "$$"
case "$mode" in
  sleep) printf 'READY\0'; exec sleep 60 ;;
  mark) : > "$APPDIR/marker"; exit 0 ;;
  *[!0-9]*|"") exit 0 ;;
  *) exit "$mode" ;;
esac
"""



def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces / switching user)")


def fuse_usable() -> bool:
    return os.access("/dev/fuse", os.R_OK | os.W_OK)


def make_appdir(root: Path) -> Path:
    appdir = root / "AppDir"
    (appdir / "usr" / "share" / "data").mkdir(parents=True)
    (appdir / "AppRun").write_text(APP_RUN)
    (appdir / "AppRun").chmod(0o755)
    (appdir / "hello.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Hello\nExec=hello\nIcon=hello\nCategories=Utility;\n"
    )
    # Smallest valid PNG (1x1); enough for an icon file.
    (appdir / "hello.png").write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
        )
    )
    (appdir / ".DirIcon").symlink_to("hello.png")
    (appdir / "usr" / "share" / "data" / "readonly.txt").write_text("read only\n")
    (appdir / "usr" / "share" / "data" / "readonly.txt").chmod(0o444)
    (appdir / "usr" / "share" / "data" / "ünï.txt").write_text("non-ascii name\n")
    # Incompressible data, so truncating the payload really cuts into file contents.
    (appdir / "usr" / "share" / "data" / "blob.bin").write_bytes(os.urandom(300_000))
    return appdir


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(AppImage, AppDir) built with the shipped runtime and Kiln's own helpers."""
    need("mksquashfs")
    root = tmp_path_factory.mktemp("appimage")
    appdir = make_appdir(root)
    make_squashfs(appdir, root / "payload.sqfs")
    image = root / "Hello-x86_64.AppImage"
    assemble(runtime_path(), root / "payload.sqfs", image)
    return image, appdir


@pytest.fixture
def image(built: tuple[Path, Path]) -> Path:
    return built[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Isolated HOME / cache / TMPDIR so mounts and extractions land in tmp_path."""
    for name in ("home", "tmp"):
        (tmp_path / name).mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APPIMAGE", "XDG_CACHE_HOME"))}
    return {**clean, "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp"), "LC_ALL": "C.UTF-8"}


def parse(stdout: bytes) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    args: list[str] = []
    for record in stdout.split(b"\0"):
        key, _, value = record.decode().partition("=")
        if key == "ARG":
            args.append(value)
        elif key:
            values[key] = value
    return values, args


def run_image(
    image: Path, args: list[str], env: dict[str, str], cwd: Path | None = None, argv0: str | None = None
) -> tuple[subprocess.CompletedProcess[bytes], dict[str, str], list[str]]:
    result = subprocess.run(
        [argv0 or str(image), *args], executable=image, env=env, cwd=cwd, capture_output=True, timeout=60
    )
    values, app_args = parse(result.stdout)
    return result, values, app_args


def mounts() -> str:
    return Path("/proc/self/mounts").read_text()


def assert_gone(mountpoint: str) -> None:
    assert f" {mountpoint} " not in mounts()
    assert not Path(mountpoint).exists(), "the private mount point should be removed"


# ---- options ---------------------------------------------------------------------------------


def test_offset_option_matches_python_and_runtime_size(image: Path, env: dict[str, str]) -> None:
    result = subprocess.run([image, "--appimage-offset"], env=env, capture_output=True, check=True)
    offset = int(result.stdout)
    assert offset == elf_end_offset(image) == runtime_path().stat().st_size
    assert image.read_bytes()[offset : offset + 4] == b"hsqs"


def test_version_and_help(image: Path, env: dict[str, str]) -> None:
    version = subprocess.run([image, "--appimage-version"], env=env, capture_output=True, check=True)
    assert re.fullmatch(rb"Kiln AppImage runtime \d+\.\d+\.\d+\n", version.stdout)
    help_text = subprocess.run([image, "--appimage-help"], env=env, capture_output=True, check=True)
    assert b"--appimage-extract" in help_text.stdout


def test_unknown_option_is_one_line_error(image: Path, env: dict[str, str]) -> None:
    result = subprocess.run([image, "--appimage-bogus"], env=env, capture_output=True)
    assert result.returncode == 1
    assert result.stderr.decode().count("\n") == 1
    assert "unknown option --appimage-bogus" in result.stderr.decode()


def test_bare_runtime_says_so(tmp_path: Path, env: dict[str, str]) -> None:
    bare = tmp_path / "runtime"
    shutil.copy2(runtime_path(), bare)
    result = subprocess.run([bare], env=env, capture_output=True)
    assert result.returncode == 1
    assert "bare Kiln AppImage runtime" in result.stderr.decode()


# ---- FUSE mode -------------------------------------------------------------------------------


def test_fuse_run_passes_args_env_and_exit_code(image: Path, env: dict[str, str], tmp_path: Path) -> None:
    if not fuse_usable():
        pytest.skip("/dev/fuse is not usable here")
    cwd = tmp_path / "some dir"
    cwd.mkdir()
    result, values, args = run_image(image, ["7", *NASTY_ARGS], env, cwd=cwd, argv0="my-argv0")
    assert result.returncode == 7, result.stderr
    assert result.stderr == b""
    assert args == ["7", *NASTY_ARGS]
    assert values["APPIMAGE"] == str(image)
    assert values["ARGV0"] == "my-argv0"
    assert values["OWD"] == values["PWD"] == str(cwd)
    assert values["APPDIR"].startswith(str(tmp_path / "tmp" / ".mount_"))
    assert values["MOUNTED"] == "yes"
    assert_gone(values["APPDIR"])


@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_fuse_exit_codes(image: Path, env: dict[str, str], code: int) -> None:
    if not fuse_usable():
        pytest.skip("/dev/fuse is not usable here")
    result, values, _ = run_image(image, [str(code)], env)
    assert result.returncode == code
    assert values["MOUNTED"] == "yes"


def start_sleeping(image: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Start the AppImage in "sleep" mode and return once AppRun has announced itself."""
    proc = subprocess.Popen([image, "sleep"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    data = b""
    deadline = time.monotonic() + 20
    while b"READY\0" not in data and time.monotonic() < deadline:
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        data += chunk
    assert b"READY\0" in data, data
    return proc, parse(data)[0]


def test_app_killed_by_signal_leaves_no_mount(image: Path, env: dict[str, str]) -> None:
    if not fuse_usable():
        pytest.skip("/dev/fuse is not usable here")
    proc, values = start_sleeping(image, env)
    assert f" {values['APPDIR']} " in mounts()
    os.kill(int(values["PID"]), signal.SIGKILL)
    assert proc.wait(timeout=20) == 128 + signal.SIGKILL
    assert_gone(values["APPDIR"])


def test_sigterm_to_runtime_is_forwarded(image: Path, env: dict[str, str]) -> None:
    if not fuse_usable():
        pytest.skip("/dev/fuse is not usable here")
    proc, values = start_sleeping(image, env)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert_gone(values["APPDIR"])


def test_runtime_killed_still_unmounts(image: Path, env: dict[str, str]) -> None:
    """auto_unmount: fusermount3 removes the mount even when the runtime itself is SIGKILLed."""
    if not fuse_usable():
        pytest.skip("/dev/fuse is not usable here")
    need("fusermount3")
    proc, values = start_sleeping(image, env)
    try:
        proc.kill()
        proc.wait(timeout=20)
        deadline = time.monotonic() + 10
        while f" {values['APPDIR']} " in mounts() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f" {values['APPDIR']} " not in mounts()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(values["PID"]), signal.SIGKILL)
        time.sleep(0.1)
        with contextlib.suppress(OSError):
            Path(values["APPDIR"]).rmdir()  # the dead runtime could not remove its empty mount point


# ---- extract-and-run -------------------------------------------------------------------------


def test_forced_extraction_runs_from_cache_and_reuses_it(image: Path, env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "APPIMAGE_EXTRACT_AND_RUN": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result, values, args = run_image(image, ["3", *NASTY_ARGS], env, cwd=tmp_path, argv0="argv zero")
    assert result.returncode == 3, result.stderr
    assert args == ["3", *NASTY_ARGS]
    appdir = Path(values["APPDIR"])
    assert appdir.parent == tmp_path / "cache" / "kiln-appimage"
    assert appdir.name.startswith("Hello-x86_64-")
    assert values["MOUNTED"] == "no"
    assert values["APPIMAGE"] == str(image)
    assert values["ARGV0"] == "argv zero"
    assert values["OWD"] == str(tmp_path)
    assert values["MARKER"] == "no"
    inode = (appdir / "AppRun").stat().st_ino

    # Second start: same folder, not re-extracted (the marker written by the app survives).
    assert run_image(image, ["mark"], env)[0].returncode == 0
    result, values, _ = run_image(image, ["0"], env)
    assert values["APPDIR"] == str(appdir)
    assert values["MARKER"] == "yes"
    assert (appdir / "AppRun").stat().st_ino == inode
    assert [p.name for p in appdir.parent.iterdir()] == [appdir.name], "no leftovers next to the cache entry"


def test_extract_and_run_option_and_home_cache(image: Path, env: dict[str, str], tmp_path: Path) -> None:
    result, values, args = run_image(image, ["--appimage-extract-and-run", "5", "a b"], env)
    assert result.returncode == 5, result.stderr
    assert args == ["5", "a b"]
    assert Path(values["APPDIR"]).parent == tmp_path / "home" / ".cache" / "kiln-appimage"


def test_interrupted_extraction_is_never_reused(image: Path, env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "APPIMAGE_EXTRACT_AND_RUN": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    appdir = Path(run_image(image, ["0"], env)[1]["APPDIR"])
    shutil.rmtree(appdir)
    # What a killed extraction leaves: a half-filled partial folder of a process that no longer exists.
    dead = subprocess.Popen(["true"])
    dead.wait()
    partial = appdir.parent / f".{appdir.name}.partial.{dead.pid}"
    (partial / "usr").mkdir(parents=True)
    (partial / "AppRun").write_text("#!/bin/sh\nexit 99\n")
    result, values, _ = run_image(image, ["4"], env)
    assert result.returncode == 4
    assert values["APPDIR"] == str(appdir)
    assert (appdir / "usr" / "share" / "data" / "blob.bin").stat().st_size == 300_000
    assert not partial.exists()


def test_fallback_when_fuse_mount_fails(image: Path, env: dict[str, str], tmp_path: Path) -> None:
    """A private mount namespace where /dev/fuse is /dev/null: the mount fails, the runtime extracts."""
    need_root()
    need("unshare")
    script = 'mount --bind /dev/null /dev/fuse && exec "$@"'
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", str(image), "6", "x y"]
    result = subprocess.run(cmd, env=env, capture_output=True, timeout=60)
    values, args = parse(result.stdout)
    assert result.returncode == 6, result.stderr
    assert result.stderr == b"", "the failed mount attempt must stay quiet"
    assert args == ["6", "x y"]
    assert values["MOUNTED"] == "no"
    assert Path(values["APPDIR"]).parent == tmp_path / "home" / ".cache" / "kiln-appimage"


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the `nobody` user can read (tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="kiln-appimage-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_minimal_env(cmd: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run with a small environment whose HOME and TMPDIR are `home` (for commands that switch to nobody)."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home), "TMPDIR": str(home), "LC_ALL": "C.UTF-8"}
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, timeout=60)


AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def test_unprivileged_without_fuse_access_extracts(image: Path, shared_dir: Path) -> None:
    """As `nobody`, with /dev/fuse not accessible to that user, the runtime falls back to extraction."""
    need_root()
    need("setpriv")
    if os.path.exists("/dev/fuse") and os.stat("/dev/fuse").st_mode & 0o006:
        pytest.skip("/dev/fuse is world-accessible here; see the namespace test for the unprivileged FUSE path")
    home = shared_dir / "home"
    home.mkdir()
    shutil.chown(home, "nobody")
    copy = shared_dir / image.name
    shutil.copy2(image, copy)
    result = run_minimal_env([*AS_NOBODY, str(copy), "8", "ä b"], home, shared_dir)
    values, args = parse(result.stdout)
    assert result.returncode == 8, result.stderr
    assert args == ["8", "ä b"]
    assert values["MOUNTED"] == "no"
    assert Path(values["APPDIR"]).parent == home / ".cache" / "kiln-appimage"
    assert Path(values["APPDIR"]).stat().st_uid == (home.stat().st_uid)


def test_unprivileged_fuse_mount_via_fusermount3(image: Path, shared_dir: Path) -> None:
    """As `nobody` with a private world-accessible /dev/fuse node: mounts through setuid fusermount3."""
    need_root()
    need("unshare", "setpriv", "fusermount3", "mknod")
    if not fuse_usable():
        pytest.skip("/dev/fuse is not usable here")
    home = shared_dir / "home"
    home.mkdir()
    shutil.chown(home, "nobody")
    copy = shared_dir / image.name
    shutil.copy2(image, copy)
    fuse_dev = os.stat("/dev/fuse").st_rdev
    script = (
        f'd=$(mktemp -d) && mount -t tmpfs tmpfs "$d" && '
        f'mknod -m 666 "$d/fuse" c {os.major(fuse_dev)} {os.minor(fuse_dev)} && mount --bind "$d/fuse" /dev/fuse && '
        f'{" ".join(AS_NOBODY)} "$@"; rc=$?; '
        "grep fuse.kiln-appimage /proc/self/mounts >&2; exit $rc"
    )
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", str(copy), "9", "x"]
    result = run_minimal_env(cmd, home, shared_dir)
    values, args = parse(result.stdout)
    assert result.returncode == 9, result.stderr
    assert args == ["9", "x"]
    assert values["MOUNTED"] == "yes"
    assert values["APPDIR"].startswith(str(home / ".mount_"))
    assert result.stderr == b"", "no kiln-appimage mount may remain after the app exits"
    assert not Path(values["APPDIR"]).exists()


# ---- --appimage-extract ----------------------------------------------------------------------


def test_extract_keeps_modes_symlinks_and_names(built: tuple[Path, Path], tmp_path: Path, env: dict[str, str]) -> None:
    image, appdir = built
    result = subprocess.run([image, "--appimage-extract"], cwd=tmp_path, env=env, capture_output=True)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "squashfs-root"
    assert "squashfs-root/AppRun" in result.stdout.decode().splitlines()
    for source in appdir.rglob("*"):
        target = out / source.relative_to(appdir)
        assert target.is_symlink() == source.is_symlink(), source
        if source.is_symlink():
            assert os.readlink(target) == os.readlink(source)
            continue
        assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(source.stat().st_mode), source
        if source.is_file():
            assert target.read_bytes() == source.read_bytes()
    # Extracting again over an existing tree works (read-only files are replaced).
    again = subprocess.run([image, "--appimage-extract"], cwd=tmp_path, env=env, capture_output=True)
    assert again.returncode == 0, again.stderr


def test_extract_with_pattern(image: Path, tmp_path: Path, env: dict[str, str]) -> None:
    result = subprocess.run([image, "--appimage-extract", "*.desktop"], cwd=tmp_path, env=env, capture_output=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == ["squashfs-root/hello.desktop"]
    assert sorted(p.name for p in (tmp_path / "squashfs-root").iterdir()) == ["hello.desktop"]


def test_extract_refuses_escaping_names(tmp_path: Path, env: dict[str, str]) -> None:
    """A crafted image with a directory entry named ".." must not write outside the target."""
    need("mksquashfs")
    appdir = tmp_path / "evil"
    (appdir / "QZ").mkdir(parents=True)
    (appdir / "QZ" / "pwned").write_text("x")
    (appdir / "AppRun").write_text("#!/bin/sh\n")
    payload = tmp_path / "evil.sqfs"
    # Uncompressed metadata so the name can be patched in place.
    subprocess.run(
        ["mksquashfs", appdir, payload, "-noI", "-noD", "-noF", "-noX", "-quiet", "-no-progress"],
        check=True,
        capture_output=True,
    )
    data = bytearray(payload.read_bytes())
    assert data.count(b"QZ") == 1
    data[data.index(b"QZ") : data.index(b"QZ") + 2] = b".."
    payload.write_bytes(bytes(data))
    image = tmp_path / "evil.AppImage"
    assemble(runtime_path(), payload, image)
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run([image, "--appimage-extract"], cwd=work, env=env, capture_output=True)
    assert result.returncode == 1
    assert len(result.stderr.decode().splitlines()) == 1
    assert "unsafe path" in result.stderr.decode() or "corrupt" in result.stderr.decode()
    assert not (work / "pwned").exists() and not (tmp_path / "pwned").exists()


# ---- damaged images --------------------------------------------------------------------------


def superblock_bytes_used(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset + 40 : offset + 48], "little")


@pytest.mark.parametrize("mode", ["run", "extract-and-run", "extract"])
def test_truncated_image_is_one_line_error(image: Path, tmp_path: Path, env: dict[str, str], mode: str) -> None:
    data = image.read_bytes()
    offset = elf_end_offset(data)
    cut = tmp_path / "cut.AppImage"
    cut.write_bytes(data[: offset + superblock_bytes_used(data, offset) // 2])
    cut.chmod(0o755)
    args = {"run": ["0"], "extract-and-run": ["--appimage-extract-and-run", "0"], "extract": ["--appimage-extract"]}
    result = subprocess.run([cut, *args[mode]], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cut.AppImage: "), lines
    assert "damaged or incomplete" in lines[0]


def test_missing_squashfs_magic_is_one_line_error(image: Path, tmp_path: Path, env: dict[str, str]) -> None:
    data = bytearray(image.read_bytes())
    offset = elf_end_offset(data)
    data[offset : offset + 4] = b"\0\0\0\0"
    broken = tmp_path / "broken.AppImage"
    broken.write_bytes(bytes(data))
    broken.chmod(0o755)
    result = subprocess.run([broken], env=env, capture_output=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.decode().count("\n") == 1
    assert "no squashfs found" in result.stderr.decode()


# ---- other readers agree -------------------------------------------------------------------------

EXPECTED_FILES = {"AppRun", "hello.desktop", "hello.png", ".DirIcon", "usr/share/data/blob.bin"}


def test_readelf_shows_appimage_magic(image: Path) -> None:
    need("readelf")
    header = subprocess.run(["readelf", "-h", image], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^\s*ABI Version:\s+65$", header, re.MULTILINE), header  # 'A' at EI_ABIVERSION
    assert image.read_bytes()[8:11] == b"AI\x02"


def test_unsquashfs_lists_files_at_offset(image: Path) -> None:
    need("unsquashfs")
    listing = subprocess.run(
        ["unsquashfs", "-o", str(elf_end_offset(image)), "-l", image], capture_output=True, text=True, check=True
    ).stdout
    names = {line.removeprefix("squashfs-root/") for line in listing.splitlines()}
    assert names >= EXPECTED_FILES


def test_7zip_lists_files(image: Path) -> None:
    seven = shutil.which("7z") or shutil.which("7zz")
    if seven is None:
        need("7z")
    listing = subprocess.run([str(seven), "l", image], capture_output=True, text=True, check=True).stdout
    for name in ("AppRun", "hello.desktop", "usr/share/data/blob.bin"):
        assert name in listing


def load_libappimage() -> ctypes.CDLL:
    for name in ("libappimage.so.1.0abi1", "libappimage.so.1.0", "libappimage.so"):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    if os.environ.get("CI"):
        pytest.fail("libappimage is not installed (CI must install libappimage1.0abi1)")
    pytest.skip("libappimage is not installed (Debian: libappimage1.0abi1)")


def test_libappimage_agrees(image: Path) -> None:
    lib = load_libappimage()
    lib.appimage_get_type.argtypes = [ctypes.c_char_p, ctypes.c_bool]
    lib.appimage_get_type.restype = ctypes.c_int
    lib.appimage_get_payload_offset.argtypes = [ctypes.c_char_p]
    lib.appimage_get_payload_offset.restype = ctypes.c_int64
    lib.appimage_list_files.argtypes = [ctypes.c_char_p]
    lib.appimage_list_files.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.appimage_string_list_free.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    path = os.fsencode(image)
    assert lib.appimage_get_type(path, False) == 2
    assert lib.appimage_get_payload_offset(path) == elf_end_offset(image)
    files = lib.appimage_list_files(path)
    try:
        names: set[str] = set()
        i = 0
        while files[i]:
            names.add(files[i].decode())
            i += 1
    finally:
        lib.appimage_string_list_free(files)
    assert names >= EXPECTED_FILES


# ---- the shipped binary ----------------------------------------------------------------------


# Its reproducible build, and the comparison with this file when the toolchain is the recorded one, are tested in
# test_reproducible.py.


def test_runtime_under_test_is_a_verified_appimage_runtime() -> None:
    """The shipped runtime, or CI's rebuilt one: an AppImage type-2 runtime matching the sha256 file beside it."""
    path = runtime_path()
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[8:11] == b"AI\x02"
    assert os.access(path, os.X_OK)
    recorded = (path.parent / "runtime-x86_64.sha256").read_text().split()
    assert recorded == [hashlib.sha256(data).hexdigest(), "runtime-x86_64"]


def test_sha256_file_matches_binary() -> None:
    recorded = (RUNTIME_DIR / "runtime-x86_64.sha256").read_text().split()
    assert recorded[1] == "runtime-x86_64"
    assert recorded[0] == hashlib.sha256((RUNTIME_DIR / "runtime-x86_64").read_bytes()).hexdigest()


def image_recording_glibc(tmp_path: Path, version: str, name: str) -> Path:
    """The test AppImage with `version` written into its runtime's .kiln_glibc, as Kiln's builds do."""
    need("mksquashfs")
    make_squashfs(make_appdir(tmp_path), tmp_path / "payload.sqfs")
    runtime = tmp_path / "runtime"
    runtime.write_bytes(glibc_need.embed(runtime_path().read_bytes(), version))
    assemble(runtime, tmp_path / "payload.sqfs", tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize("mode", ["run", "extract-and-run"])
def test_recorded_glibc_newer_than_the_host_stops_before_the_app(tmp_path: Path, env: dict[str, str],
                                                                  mode: str) -> None:
    """Kiln writes the payload's glibc need into .kiln_glibc at build time; the runtime trusts it (no scan of the
    payload at start) and stops with one line when this system's glibc is older."""
    image = image_recording_glibc(tmp_path, "2.99", "Needy-x86_64.AppImage")
    if mode == "run" and not fuse_usable():
        pytest.skip("no usable /dev/fuse")
    args = ["--appimage-extract-and-run"] if mode == "extract-and-run" else []
    result, values, _ = run_image(image, [*args, "0"], env)
    assert result.returncode == 127
    assert values == {}  # AppRun never ran
    stderr = result.stderr.decode()
    assert stderr.startswith(f"{image.name}: this app needs a Linux with glibc 2.99 or newer; this system has 2.")
    assert stderr.count("\n") == 1
    assert not any(mount.startswith(image.name[:8]) for mount in mounts().split())  # unmounted again


def test_recorded_glibc_the_host_has_runs_the_app(tmp_path: Path, env: dict[str, str]) -> None:
    image = image_recording_glibc(tmp_path, "2.17", "Old-x86_64.AppImage")
    result, values, args = run_image(image, ["--appimage-extract-and-run", "7", "x"], env)
    assert result.returncode == 7, result.stderr
    assert args == ["7", "x"] and values["APPDIR"]


PUSH_APP_RUN = r"""#!/bin/sh
# Read the first 4 KiB of a large file, then map which of its pages are in the page cache (PUSH_PROBE), then read it.
big="$APPDIR/usr/share/data/big.bin"
head -c 4096 "$big" > /dev/null
printf 'PAGES=%s\0' "$("$PUSH_PYTHON" "$PUSH_PROBE" "$big")"
printf 'SHA=%s\0' "$(sha256sum < "$big" | cut -d' ' -f1)"
"""

# Which pages of a file are resident (mincore on a mapping, which reads nothing): polled until all are, or for at
# most 20 s, since the runtime pushes at low priority and a loaded machine may give it little time. Prints the map
# with the most resident pages seen, one 0/1 a page.
PUSH_PROBE = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
pages = -(-size // os.sysconf("SC_PAGE_SIZE"))
address = libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
assert address not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
best, deadline = "", time.monotonic() + 20
while True:
    vector = ctypes.create_string_buffer(pages)
    assert libc.mincore(address, size, vector) == 0, os.strerror(ctypes.get_errno())
    seen = "".join("1" if byte & 1 else "0" for byte in vector.raw[:pages])
    best = max(best, seen, key=lambda m: m.count("1"))
    if "0" not in best or time.monotonic() > deadline:
        break
    time.sleep(0.05)
print(best, end="")
"""


def test_large_file_is_pushed_whole_into_the_page_cache_and_reads_back_intact(tmp_path: Path,
                                                                              env: dict[str, str]) -> None:
    """When the app starts reading a library-sized file, the runtime decompresses all of it on a second thread and
    stores it in the kernel's page cache (mount.c): the pages are resident before the app asks for them, and what
    the app then reads is the file's exact content."""
    need("mksquashfs", "sha256sum")
    if not fuse_usable():
        pytest.skip("no usable /dev/fuse")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("the runtime pushes files ahead only with two or more CPUs")
    appdir = make_appdir(tmp_path)
    (appdir / "AppRun").write_text(PUSH_APP_RUN)
    rng_data = os.urandom(1 << 20) + bytes(range(256)) * (8 << 10)  # 1 MiB random, 2 MiB compressible: 3 MiB
    (appdir / "usr" / "share" / "data" / "big.bin").write_bytes(rng_data)
    make_squashfs(appdir, tmp_path / "payload.sqfs")
    image = tmp_path / "Push-x86_64.AppImage"
    assemble(runtime_path(), tmp_path / "payload.sqfs", image)
    (tmp_path / "probe.py").write_text(PUSH_PROBE)
    probe_env = {**env, "PUSH_PYTHON": sys.executable, "PUSH_PROBE": str(tmp_path / "probe.py")}
    result, values, _ = run_image(image, [], probe_env)
    assert result.returncode == 0, result.stderr
    assert values["SHA"] == hashlib.sha256(rng_data).hexdigest()
    pages = values["PAGES"]
    assert len(pages) == len(rng_data) // 4096
    if "0" in pages:
        # The kernel may evict clean pages under memory pressure at any time, so a few can be gone again. The push
        # still shows: the app read one page, and the kernel's read-ahead (at most 128 KiB) reaches only the first
        # of the file's 24 blocks; every later block holding pages, and nearly all pages resident, is the push.
        blocks = [pages[start:start + 32] for start in range(0, len(pages), 32)]
        assert all("1" in block for block in blocks[1:]), pages
        assert pages.count("1") >= 0.9 * len(pages), pages


LIST_APP_RUN = r"""#!/bin/sh
# List a folder through the mount (the kernel asks with READDIRPLUS), then stat and read each entry.
cd "$APPDIR/usr/share/data" || exit 3
for name in *; do
    printf 'ENTRY=%s|%s|%s|%s\0' "$name" "$(stat -c '%F|%a' -- "$name")" \
        "$(if [ -L "$name" ]; then readlink -- "$name"; else wc -c < "$name"; fi)" \
        "$(if [ -f "$name" ] && [ ! -L "$name" ]; then sha256sum < "$name" | cut -c1-16; fi)"
done
"""


def test_listing_through_the_mount_gives_names_types_modes_and_contents(tmp_path: Path, env: dict[str, str]) -> None:
    """The runtime answers READDIRPLUS (entries with their attributes, cached by the kernel as looked up): what a
    program sees listing a folder and then using its entries must be what the AppDir held."""
    need("mksquashfs")
    if not fuse_usable():
        pytest.skip("no usable /dev/fuse")
    appdir = make_appdir(tmp_path)
    (appdir / "AppRun").write_text(LIST_APP_RUN)
    data = appdir / "usr" / "share" / "data"
    for index in range(300):  # more entries than one READDIRPLUS reply holds
        (data / f"module_{index:03d}_{'x' * 40}.pyc").write_bytes(bytes([index % 256]) * index)
    (data / "run.sh").write_text("#!/bin/sh\n")
    (data / "run.sh").chmod(0o755)
    (data / "link").symlink_to("readonly.txt")
    (data / "folder").mkdir()
    make_squashfs(appdir, tmp_path / "payload.sqfs")
    image = tmp_path / "List-x86_64.AppImage"
    assemble(runtime_path(), tmp_path / "payload.sqfs", image)
    result = subprocess.run([str(image)], env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = [r.decode().removeprefix("ENTRY=") for r in result.stdout.split(b"\0") if r.startswith(b"ENTRY=")]

    def expected(path: Path) -> str:
        if path.is_symlink():
            return f"{path.name}|symbolic link|777|{os.readlink(path)}|"
        if path.is_dir():
            return f"{path.name}|directory|755|{path.stat().st_size}|"
        mode = "755" if path.stat().st_mode & 0o111 else f"{stat.S_IMODE(path.stat().st_mode):o}"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        return f"{path.name}|{'regular empty file' if not path.stat().st_size else 'regular file'}|{mode}|" \
               f"{path.stat().st_size}|{digest}"

    wanted = {expected(p) for p in data.iterdir()}
    folder_line = next(line for line in seen if line.startswith("folder|"))
    assert set(seen) - {folder_line} == wanted - {expected(data / "folder")}
    assert len(seen) == len(wanted) == 306
    assert folder_line.startswith("folder|directory|755|")
