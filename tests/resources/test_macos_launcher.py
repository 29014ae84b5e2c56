"""The macOS launcher: the shipped Mach-O files read back (Kiln's reader and lief), and launcher.c's logic run here.

The Mach-O files are the shipped ones, or CI's fresh build when KILN_MACOS_LAUNCHERS names its folder (.ci/run sets
it). Nothing here can run them; what they do is tested by compiling the same launcher.c for Linux, where it loads
runtime/lib/libpython3.X.so.1.0 instead of .dylib and finds itself through /proc/self/exe instead of
_NSGetExecutablePath: against a stub libpython that records what Py_BytesMain receives (stub_libpython.c beside this
file), and against this machine's real CPython. Their reproducible build is tested in test_reproducible.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import lief
import pytest
from kit.macos import linux_launcher
from kit.testing import REPO

from kiln.installers.dmg.app_bundle import BUNDLE_FROM_LAUNCHER
from kiln.installers.dmg.macho import MH_EXECUTE, check_file

HERE = Path(__file__).resolve().parent
SOURCES = REPO / "resources" / "launchers" / "macos"
ARCHS = {"arm64": (lief.MachO.Header.CPU_TYPE.ARM64, [11, 0, 0]),
         "x86_64": (lief.MachO.Header.CPU_TYPE.X86_64, [10, 13, 0])}
USER_ARGS = ["a b", 'q"uote', "", "ünï", "back\\slash", "$HOME `id`", "*", "new\nline", "-I", "--flag=x y"]


def shipped(name: str) -> Path:
    """A launcher under test: from KILN_MACOS_LAUNCHERS (CI's fresh build) when set, else the shipped one."""
    return Path(os.environ.get("KILN_MACOS_LAUNCHERS") or SOURCES) / name


def tbd_symbols() -> set[str]:
    text = (SOURCES / "libSystem.tbd").read_text()
    listed = re.search(r"symbols:\s*\[(.*?)\]", text, re.S)
    assert listed
    return {s.strip().strip("'") for s in listed.group(1).split(",")}


# ----------------------------------------------------------------------------- the Mach-O files


@pytest.mark.parametrize("arch", ARCHS)
def test_thin_launcher_is_a_signed_macos_executable(arch: str) -> None:
    path = shipped(f"launcher-{arch}")
    parsed = lief.MachO.parse(str(path))
    assert parsed is not None and parsed.size == 1
    binary = parsed.at(0)
    cpu, minimum = ARCHS[arch]
    assert binary.header.cpu_type == cpu and binary.header.file_type == lief.MachO.Header.FILE_TYPE.EXECUTE
    assert [lib.name for lib in binary.libraries] == ["/usr/lib/libSystem.B.dylib"]
    assert binary.has_main_command
    version = binary.build_version.minos if binary.has_build_version else binary.version_min.version
    assert list(version) == minimum
    # Every function it imports is one the hand-written stub declares (and macOS's libSystem exports).
    assert {s.name for s in binary.imported_symbols} <= tbd_symbols()

    # Kiln's reader agrees with lief on the load commands and the signature, and the ad-hoc linker signature holds.
    macho, checks = check_file(path)
    (piece,) = macho.slices
    assert piece.arch == arch and piece.filetype == MH_EXECUTE
    assert [c.cmd for c in piece.load_commands] == [int(c.command) for c in binary.commands]
    assert piece.signature is not None
    assert (piece.signature.offset, piece.signature.size) == (binary.code_signature.data_offset,
                                                             binary.code_signature.data_size)
    assert checks[0].state == "ad hoc" and not checks[0].problems

    data = path.read_bytes()
    for leak in (b"/tmp/", b"/work/", b"/root/", b"/home/", b"clang version", b"python3.1"):
        assert leak not in data, f"{leak!r} compiled into {path.name}"
    assert len(data) < 64 * 1024


def test_universal_launcher_holds_both_thin_launchers() -> None:
    macho, checks = check_file(shipped("launcher-universal"))
    assert macho.universal and sorted(macho.archs) == sorted(ARCHS)
    data = shipped("launcher-universal").read_bytes()
    for piece in macho.slices:
        assert data[piece.offset:piece.offset + piece.size] == shipped(f"launcher-{piece.arch}").read_bytes()
    assert [c.state for c in checks] == ["ad hoc", "ad hoc"]


def test_sha256sums_match_shipped_files() -> None:
    recorded = dict(reversed(line.split("  ")) for line in (SOURCES / "SHA256SUMS").read_text().splitlines())
    assert set(recorded) == {"launcher-arm64", "launcher-x86_64", "launcher-universal"}
    for name, digest in recorded.items():
        assert hashlib.sha256((SOURCES / name).read_bytes()).hexdigest() == digest


def test_launcher_and_bundle_agree_on_the_layout() -> None:
    source = (SOURCES / "launcher.c").read_text()
    assert f'#define BUNDLE_FROM_MACOS "/{BUNDLE_FROM_LAUNCHER}"' in source
    assert '"/kiln_boot.py"' in source and '"/runtime/lib/libpython"' in source and '"/runtime/bin/python"' in source


# ----------------------------------------------------------------------------- launcher.c's logic, on Linux


@pytest.fixture(scope="session")
def linux_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(launcher, stub libpython) compiled for this machine from the same sources."""
    out = tmp_path_factory.mktemp("linux-launcher")
    launcher = linux_launcher(out)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out / "libpython.so"),
                    str(HERE / "stub_libpython.c")], check=True, capture_output=True, timeout=120)
    return launcher, out / "libpython.so"


App = Callable[..., Path]


@pytest.fixture
def app(tmp_path: Path, linux_build: tuple[Path, Path]) -> App:
    """make(folder) -> <folder>/Hello.app/Contents/MacOS/hello, with a stub runtime and kiln_boot.py."""

    def make(folder: str = "Apps", minor: int = 11) -> Path:
        contents = tmp_path / folder / "Hello.app" / "Contents"
        bundle = contents / "Resources" / "app-bundle"
        (contents / "MacOS").mkdir(parents=True)
        (bundle / "runtime" / "lib").mkdir(parents=True)
        (bundle / "runtime" / "bin").mkdir()
        shutil.copy(linux_build[0], contents / "MacOS" / "hello")
        shutil.copy(linux_build[1], bundle / "runtime" / "lib" / f"libpython3.{minor}.so.1.0")
        (bundle / "runtime" / "bin" / f"python3.{minor}").write_text("#!/bin/sh\nexit 99\n")
        (bundle / "kiln_boot.py").write_text("# boot\n")
        return contents / "MacOS" / "hello"

    return make


def run(launcher: Path | str, args: list[str], out: Path, **kwargs: object) -> tuple[int, list[str], str]:
    """Run the launcher; returns (exit code, what the stub received: KILN_ARGV0 then argv, stderr)."""
    env = {"PATH": "/usr/bin:/bin", "KILN_STUB_OUT": str(out), "__PYVENV_LAUNCHER__": "/elsewhere/python"}
    result = subprocess.run([str(launcher), *args], capture_output=True, env=env, timeout=60, **kwargs)  # type: ignore[call-overload]
    seen: list[str] = []
    if out.exists():
        argv0, count, *argv = out.read_bytes().decode().split("\0")[:-1]
        assert int(count) == len(argv)
        seen = [argv0, *argv]
    return result.returncode, seen, result.stderr.decode()


def expected_argv(launcher: Path, user_args: list[str], minor: int = 11) -> list[str]:
    bundle = launcher.resolve().parent.parent / "Resources" / "app-bundle"
    return [f"{bundle}/runtime/bin/python3.{minor}", "-I", f"{bundle}/kiln_boot.py", *user_args]


def test_python_gets_the_interpreter_the_boot_script_and_every_argument(app: App, tmp_path: Path) -> None:
    launcher = app("we'ird \"dir\" $HOME & `x`\nÜ")
    code, seen, stderr = run(launcher, [*USER_ARGS, "--stub-exit=7"], tmp_path / "seen")
    assert code == 7, stderr
    assert seen == [str(launcher), *expected_argv(launcher, [*USER_ARGS, "--stub-exit=7"])]


def test_exit_codes_come_back(app: App, tmp_path: Path) -> None:
    launcher = app()
    assert run(launcher, ["--stub-exit=0"], tmp_path / "a")[0] == 0
    assert run(launcher, ["--stub-exit=300"], tmp_path / "b")[0] == 300 % 256


def test_finder_process_serial_number_is_dropped_only_first(app: App, tmp_path: Path) -> None:
    launcher = app()
    _, seen, _ = run(launcher, ["-psn_0_12345", "x", "-psn_later"], tmp_path / "seen")
    assert seen[1:] == expected_argv(launcher, ["x", "-psn_later"])


def test_found_through_a_chain_of_symlinks_on_path_and_by_relative_name(app: App, tmp_path: Path) -> None:
    launcher = app()
    bin_dir, other = tmp_path / "usr local" / "bin", tmp_path / "other"
    bin_dir.mkdir(parents=True)
    other.mkdir()
    (other / "middle").symlink_to(launcher)  # absolute link
    (bin_dir / "hello").symlink_to(Path("..", "..", "other", "middle"))  # relative link to the absolute one
    _, seen, _ = run(bin_dir / "hello", ["a b"], tmp_path / "a")
    assert seen == [str(bin_dir / "hello"), *expected_argv(launcher, ["a b"])]
    _, seen, _ = run("./hello", ["c"], tmp_path / "b", cwd=bin_dir)
    assert seen == ["./hello", *expected_argv(launcher, ["c"])]  # sys.argv[0] is what the user typed


def test_the_bundles_python_version_is_found_not_compiled_in(app: App, tmp_path: Path) -> None:
    launcher = app(minor=13)
    _, seen, _ = run(launcher, [], tmp_path / "seen")
    assert seen[1:] == expected_argv(launcher, [], minor=13)


def test_a_runtime_without_libpython_is_executed(app: App, tmp_path: Path) -> None:
    launcher = app()
    runtime = launcher.parent.parent / "Resources" / "app-bundle" / "runtime"
    (runtime / "lib" / "libpython3.11.so.1.0").unlink()
    probe = runtime / "bin" / "python3.11"
    probe.write_text('#!/bin/sh\nprintf "%s\\0" "$KILN_ARGV0" "$0" "$@" > "$KILN_STUB_OUT.exec"\nexit 5\n')
    probe.chmod(0o755)
    code, _, stderr = run(launcher, ["a b", ""], tmp_path / "seen")
    assert code == 5, stderr
    seen = (tmp_path / "seen.exec").read_bytes().decode().split("\0")[:-1]
    assert seen == [str(launcher), *expected_argv(launcher, ["a b", ""])]


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda b: (b / "runtime" / "lib" / "libpython3.11.so.1.0").unlink(), "no Python runtime"),
        (lambda b: shutil.copy(b / "runtime/lib/libpython3.11.so.1.0", b / "runtime/lib/libpython3.12.so.1.0"),
         "more than one Python runtime"),
        (lambda b: (b / "kiln_boot.py").unlink(), "kiln_boot.py is missing"),
        (lambda b: (b / "runtime" / "lib" / "libpython3.11.so.1.0").write_bytes(b"not a library"),
         "could not be loaded"),
        (lambda b: shutil.rmtree(b), "the app's files are missing"),
    ],
    ids=["no-runtime", "two-runtimes", "no-boot", "bad-library", "no-bundle"],
)
def test_a_broken_bundle_explains_and_exits_1(app: App, tmp_path: Path, damage: Callable[[Path], object],
                                              expected: str) -> None:
    launcher = app()
    (launcher.parent / ".." / "Resources" / "app-bundle" / "runtime" / "bin" / "python3.11").unlink()
    damage(launcher.parent.parent / "Resources" / "app-bundle")
    code, seen, stderr = run(launcher, ["x"], tmp_path / "never")
    assert code == 1 and seen == []
    assert stderr.startswith("This application cannot start: ") and expected in stderr, stderr


# ----------------------------------------------------------------------------- with a real CPython

PROBE = """\
import json, os, sys
json.dump({"argv": sys.argv, "executable": sys.executable, "prefix": sys.prefix, "isolated": sys.flags.isolated,
           "path": sys.path, "process": os.readlink("/proc/self/exe")}, open(os.environ["PROBE_OUT"], "w"))
import _json, multiprocessing  # an extension module: libpython's symbols are visible to it (RTLD_GLOBAL)
sys.exit(4)
"""


def test_real_cpython_runs_inside_the_launcher(tmp_path: Path, linux_build: tuple[Path, Path]) -> None:
    """This machine's shared CPython, laid out as a bundle's runtime: Python starts in the launcher's process,
    finds its home from the interpreter path it is given, is isolated, and returns the exit code."""
    import sysconfig

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    library = Path(sysconfig.get_config_var("LIBDIR")) / f"libpython{version}.so.1.0"
    if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not library.exists():
        pytest.skip("this Python is not a shared build")
    contents = tmp_path / "Real App" / "Hello.app" / "Contents"
    bundle = contents / "Resources" / "app-bundle"
    (contents / "MacOS").mkdir(parents=True)
    shutil.copy(linux_build[0], contents / "MacOS" / "hello")
    runtime = bundle / "runtime"
    (runtime / "bin").mkdir(parents=True)
    (runtime / "lib").mkdir()
    # Python takes its home from the interpreter's real folder: the binary is a copy, the rest may be links.
    shutil.copy(Path(sys.base_prefix) / "bin" / f"python{version}", runtime / "bin" / f"python{version}")
    os.symlink(library, runtime / "lib" / library.name)
    os.symlink(Path(sys.base_prefix) / "lib" / f"python{version}", runtime / "lib" / f"python{version}")
    (bundle / "kiln_boot.py").write_text(PROBE)
    out = tmp_path / "probe.json"
    env = {"PATH": "/usr/bin:/bin", "PROBE_OUT": str(out), "PYTHONPATH": "/elsewhere", "PYTHONHOME": "/elsewhere",
           "LD_LIBRARY_PATH": str(Path(sysconfig.get_config_var("LIBDIR")))}
    result = subprocess.run([str(contents / "MacOS" / "hello"), "a b", ""], env=env, capture_output=True, timeout=60)
    assert result.returncode == 4, result.stderr.decode()
    seen = json.loads(out.read_text())
    assert seen["argv"] == [str(bundle / "kiln_boot.py"), "a b", ""]  # kiln_boot.py itself sets argv[0]
    assert seen["executable"] == str(runtime / "bin" / f"python{version}")
    assert seen["prefix"] == str(runtime) and seen["isolated"] == 1
    assert seen["process"] == str(contents / "MacOS" / "hello")  # Python runs in the launcher's own process
    assert not any("elsewhere" in p for p in seen["path"])
