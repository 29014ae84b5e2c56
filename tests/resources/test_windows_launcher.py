"""The Windows launchers: PE facts, and (under Wine) what they pass to Python.

The launchers under test are the shipped ones, or CI's fresh build of launcher.c when KILN_WINDOWS_LAUNCHERS names
its folder (.ci/run sets it; see resources/launchers/windows/README.md). Their reproducible build and its comparison
with the shipped files are tested in test_reproducible.py.

Wine tests run both variants against a stub python311.dll (stub_python_dll.c beside this file) that records
the arguments Py_Main receives. Set KILN_TEST_WINDOWS_PYTHON to an unpacked Windows embeddable CPython to
also run a real interpreter through the launcher.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pefile
import pytest
from kiln_testing import require_tools

from kiln.installers.msi import pe_resources as pr
from kiln.support import icons

HERE = Path(__file__).resolve().parent
LAUNCHERS = Path(__file__).resolve().parents[2] / "resources" / "launchers" / "windows"
MINGW = "x86_64-w64-mingw32-gcc"
USER_ARGS = ["a b", 'q"uote', "", "ünï", "back\\slash", "trailing\\", "-I", "--flag=x y"]


def launcher(kind: str) -> Path:
    """The launcher under test: from KILN_WINDOWS_LAUNCHERS (CI's fresh build) when set, else the shipped one."""
    return Path(os.environ.get("KILN_WINDOWS_LAUNCHERS") or LAUNCHERS) / f"launcher-{kind}.exe"


# ----------------------------------------------------------------------------- without Wine


@pytest.mark.parametrize("kind, subsystem", [("console", 3), ("gui", 2)])
def test_launcher_facts(kind: str, subsystem: int) -> None:
    name = launcher(kind).name
    data = launcher(kind).read_bytes()
    pe = pefile.PE(data=data)
    assert pe.FILE_HEADER.Machine == 0x8664
    assert pe.OPTIONAL_HEADER.Subsystem == subsystem
    assert pe.FILE_HEADER.TimeDateStamp == 0, "no link timestamp: reproducible"
    imports = {entry.dll.decode().lower() for entry in pe.DIRECTORY_ENTRY_IMPORT}
    assert imports <= {"kernel32.dll", "msvcrt.dll", "shell32.dll", "user32.dll"}
    assert not any(d.lower().startswith(b"python") for d in (e.dll for e in pe.DIRECTORY_ENTRY_IMPORT))
    for leak in (b"/tmp/", b"/work/", b"/root/", b"/home/", b"python311", b"python3.11"):
        assert leak not in data.lower(), f"{leak!r} compiled into {name}"
    assert len(data) < 64 * 1024


def test_sha256sums_match_shipped_files() -> None:
    recorded = {}
    for line in (LAUNCHERS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        recorded[name] = digest
    assert set(recorded) == {"launcher-console.exe", "launcher-gui.exe"}
    for name, digest in recorded.items():
        assert hashlib.sha256((LAUNCHERS / name).read_bytes()).hexdigest() == digest


# ----------------------------------------------------------------------------- under Wine


@pytest.fixture(scope="session")
def wine_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private Wine prefix for the session (the first boot takes seconds, so it is shared)."""
    require_tools("wine", "wineboot", "wineserver", "timeout")
    root = tmp_path_factory.mktemp("wine")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(
        HOME=str(root),
        WINEPREFIX=str(root / "prefix"),
        WINEDEBUG="-all",
        LANG="C.UTF-8",
        WINEDLLOVERRIDES="winemenubuilder.exe=d;mscoree=d;mshtml=d",
        KILN_LAUNCHER_NO_DIALOG="1",
    )
    subprocess.run(["timeout", "180", "wineboot", "-i"], env=env, capture_output=True, check=True)
    yield env
    subprocess.run(["timeout", "60", "wineserver", "-k"], env=env, capture_output=True, check=False)


@pytest.fixture(scope="session")
def stub_dll(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools(MINGW)
    out = tmp_path_factory.mktemp("stub") / "python311.dll"
    subprocess.run(
        [MINGW, "-shared", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out), str(HERE / "stub_python_dll.c")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


Bundle = Callable[..., Path]


@pytest.fixture
def bundle(tmp_path: Path, stub_dll: Path) -> Bundle:
    """make(kind) -> App.exe in tmp/<folder>/ with runtime/python311.dll (+ python3.dll, ._pth) and kiln_boot.py."""

    def make(kind: str = "console", folder: str = "App", exe: Path | None = None) -> Path:
        app = tmp_path / folder
        (app / "runtime").mkdir(parents=True)
        shutil.copy(exe or launcher(kind), app / "App.exe")
        shutil.copy(stub_dll, app / "runtime" / "python311.dll")
        shutil.copy(stub_dll, app / "runtime" / "python3.dll")  # the forwarder must be skipped
        pr.write_runtime_pth(app / "runtime", "3.11")
        (app / "kiln_boot.py").write_text("# boot\n")
        return app / "App.exe"

    return make


def run_wine(
    env: dict[str, str], exe: Path, args: list[str], out: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    extra = {"KILN_STUB_OUT": str(out)} if out else {}
    # stdin/stdout/stderr are pipes: under Wine 8 CPython cannot init its streams on regular files.
    return subprocess.run(
        ["timeout", "120", "wine", str(exe), *args],
        env={**env, **extra},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=150,
    )


def recorded(out: Path) -> tuple[str, list[str]]:
    fields = out.read_bytes().decode("utf-8").split("\0")
    assert fields[-1] == ""
    dll, count, *argv = fields[:-1]
    assert int(count) == len(argv)
    return dll, argv


def windows_path(path: Path) -> str:
    return "Z:" + str(path).replace("/", "\\")


@pytest.mark.slow
@pytest.mark.wine
@pytest.mark.parametrize("kind", ["console", "gui"])
def test_arguments_reach_python_exactly(wine_env: dict[str, str], bundle: Bundle, tmp_path: Path, kind: str) -> None:
    exe = bundle(kind)
    out = tmp_path / "seen.bin"
    result = run_wine(wine_env, exe, [*USER_ARGS, "--stub-exit=7"], out)
    assert result.returncode == 7, result.stderr.decode(errors="replace")
    dll, argv = recorded(out)
    assert dll.lower() == windows_path(exe.parent / "runtime" / "python311.dll").lower()
    assert argv[0].lower() == windows_path(exe).lower()
    assert argv[1] == "-I"
    assert argv[2].lower() == windows_path(exe.parent / "kiln_boot.py").lower()
    assert argv[3:] == [*USER_ARGS, "--stub-exit=7"]


@pytest.mark.slow
@pytest.mark.wine
def test_exit_code_comes_back_cut_to_8_bits(wine_env: dict[str, str], bundle: Bundle, tmp_path: Path) -> None:
    exe = bundle("console")
    assert run_wine(wine_env, exe, ["--stub-exit=0"], tmp_path / "a").returncode == 0
    assert run_wine(wine_env, exe, ["--stub-exit=300"], tmp_path / "b").returncode == 300 % 256


@pytest.mark.slow
@pytest.mark.wine
def test_folder_with_spaces_and_non_ascii(wine_env: dict[str, str], bundle: Bundle, tmp_path: Path) -> None:
    exe = bundle("gui", folder="Mÿ Äpp (x86)")
    out = tmp_path / "seen.bin"
    assert run_wine(wine_env, exe, ["x"], out).returncode == 0
    dll, argv = recorded(out)
    assert "Mÿ Äpp (x86)" in dll and argv[2].endswith("Mÿ Äpp (x86)\\kiln_boot.py") and argv[3:] == ["x"]


@pytest.mark.slow
@pytest.mark.wine
def test_branded_launcher_still_runs(wine_env: dict[str, str], bundle: Bundle, tmp_path: Path) -> None:
    ico = tmp_path / "app.ico"
    icons.write_ico(icons.load_icon(None), ico)
    branded = tmp_path / "Branded.exe"
    version = pr.VersionInfo(product_name="Hi & <Bye>", version="1.0")
    pr.brand_launcher(launcher("gui"), branded, ico, version)
    exe = bundle(exe=branded)
    out = tmp_path / "seen.bin"
    result = run_wine(wine_env, exe, ["ünï", "--stub-exit=3"], out)
    assert result.returncode == 3
    assert recorded(out)[1][3:] == ["ünï", "--stub-exit=3"]


@pytest.mark.slow
@pytest.mark.wine
@pytest.mark.parametrize("kind", ["console", "gui"])
@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda app: (app / "runtime" / "python311.dll").unlink(), "no python3XX.dll"),
        (lambda app: (app / "runtime" / "python311._pth").unlink(), "python311._pth"),
        (lambda app: (app / "kiln_boot.py").unlink(), "kiln_boot.py"),
        (lambda app: shutil.copy(app / "runtime/python311.dll", app / "runtime/python312.dll"), "more than one"),
        (lambda app: (app / "runtime" / "python311.dll").write_bytes(b"MZ not really"), "could not be loaded"),
    ],
    ids=["no-dll", "no-pth", "no-boot", "two-dlls", "bad-dll"],
)
def test_broken_bundle_explains_and_exits_1(
    wine_env: dict[str, str], bundle: Bundle, tmp_path: Path, kind: str, damage: Callable[[Path], object], expected: str
) -> None:
    exe = bundle(kind)
    damage(exe.parent)
    result = run_wine(wine_env, exe, ["x"], tmp_path / "never.bin")
    message = result.stderr.decode("utf-8", errors="replace")
    assert result.returncode == 1, message
    assert "This application cannot start" in message and expected in message
    assert not (tmp_path / "never.bin").exists()


@pytest.mark.slow
@pytest.mark.wine
def test_real_cpython(wine_env: dict[str, str], tmp_path: Path) -> None:
    """Opt-in: KILN_TEST_WINDOWS_PYTHON = a folder with python3XX.dll and its stdlib (e.g. the embeddable zip)."""
    source = os.environ.get("KILN_TEST_WINDOWS_PYTHON")
    if not source:
        pytest.skip("set KILN_TEST_WINDOWS_PYTHON to an unpacked Windows CPython to run this")
    app = tmp_path / "Real App"
    shutil.copytree(source, app / "runtime", ignore=shutil.ignore_patterns("*._pth", "python.exe", "pythonw.exe"))
    (dll,) = [p for p in (app / "runtime").glob("python3*.dll") if p.name != "python3.dll"]
    pr.write_runtime_pth(app / "runtime", f"3.{dll.stem[len('python3') :]}")
    shutil.copy(launcher("console"), app / "Real.exe")
    (app / "kiln_boot.py").write_text(
        "import json, os, sys\n"
        "json.dump({'argv': sys.argv[1:], 'isolated': sys.flags.isolated, 'path': sys.path, 'prefix': sys.prefix},"
        " open(os.environ['BOOT_OUT'], 'w', encoding='utf-8'))\n"
        "sys.exit(5)\n",
        encoding="utf-8",
    )
    out = tmp_path / "boot.json"
    env = {**wine_env, "BOOT_OUT": str(out), "PYTHONPATH": "C:\\elsewhere", "PYTHONHOME": "C:\\elsewhere"}
    result = run_wine(env, app / "Real.exe", USER_ARGS)
    assert result.returncode == 5, result.stderr.decode(errors="replace")
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["argv"] == USER_ARGS and seen["isolated"] == 1
    assert seen["prefix"].lower() == windows_path(app / "runtime").lower()
    assert not any("elsewhere" in p for p in seen["path"])
    assert windows_path(app / "packages").lower() in [p.lower() for p in seen["path"]]
