"""Qt pruning: the import scan, lief's dependency lists, and pruned Qt apps that still run.

The fast tests read sources and real binaries (ELF from the installed PySide6, PE from Kiln's Windows
launchers). The slow ones prune a copy of the real PySide6 wheel's files and run an app on it with the host
interpreter, and build examples/qt-hello and examples/qml-hello as AppImages through the CLI and run them
offscreen (extracted, and through FUSE where the machine allows it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit
from kit.testing import REPO, require_tools

from kiln.engine.qt_prune import BINDINGS, distribution_sizes, imported_qt_modules, library_names, prune_qt

QT_HELLO_LINE = "window shown: Qt Hello / Hello from a Qt window packaged by Kiln / platform offscreen"
QML_HELLO_LINE = ("qml shown: QML Hello / Hello from QML packaged by Kiln / button Quit / "
                  "widget Hello from QtWidgets beside QML / platform offscreen")


def _pyside6_site() -> Path:
    pyside6 = pytest.importorskip("PySide6")
    assert pyside6.__file__
    return Path(pyside6.__file__).parent.parent


def test_scan_finds_every_import_form(tmp_path: Path) -> None:
    app = tmp_path / "app" / "pkg"
    app.mkdir(parents=True)
    (app / "a.py").write_text("import PySide6.QtSvg\nfrom PySide6.QtWidgets import QApplication\n", encoding="utf-8")
    (app / "b.py").write_text("from PySide6 import (QtNetwork,\n    QtSql)\nimport PyQt6.QtCore as C\n",
                              encoding="utf-8")
    (app / "c.py").write_text("import importlib\nimportlib.import_module('PySide6.QtPrintSupport')\n",
                              encoding="utf-8")
    (app / "broken.py").write_text("from PySide6 import QtCharts\nthis is not python (\n", encoding="utf-8")
    (app / "d.py").write_text("# mentions PySide6 but imports nothing of it\nimport os\n", encoding="utf-8")
    own = tmp_path / "packages" / "PySide6"
    own.mkdir(parents=True)
    (own / "__init__.py").write_text("from PySide6 import QtWebEngineCore\n", encoding="utf-8")
    found = imported_qt_modules([tmp_path / "app", tmp_path / "packages"], skip={own})
    assert found == {"PySide6": {"QtSvg", "QtWidgets", "QtNetwork", "QtSql", "QtPrintSupport", "QtCharts"},
                     "PyQt6": {"QtCore"}}


def test_library_names_reads_elf_and_pe() -> None:
    site = _pyside6_site()
    widgets = next((site / "PySide6").glob("QtWidgets.*so"))
    elf = library_names(widgets)
    assert any(name.startswith("libQt6Widgets.so") for name in elf) and "libc.so.6" in elf
    pe = library_names(REPO / "resources" / "launchers" / "windows" / "launcher-console.exe")
    assert "kernel32.dll" in {name.lower() for name in pe}


def _copy_pyside6(packages: Path) -> None:
    site = _pyside6_site()
    packages.mkdir(parents=True)
    for name in ("PySide6", "shiboken6"):
        shutil.copytree(site / name, packages / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for dist_info in site.glob("*.dist-info"):
        if dist_info.name.lower().startswith(("pyside6", "shiboken6")):
            shutil.copytree(dist_info, packages / dist_info.name)


def _run_offscreen(bundle: Path, module: str) -> subprocess.CompletedProcess[str]:
    code = (f"import sys; sys.path[:0] = [{str(bundle / 'app')!r}, {str(bundle / 'packages')!r}]; "
            f"from {module} import main; sys.exit(main())")
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "HOME": str(bundle),
           "XDG_RUNTIME_DIR": str(bundle)}
    return subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=300, env=env,
                          check=False)


@pytest.mark.slow
def test_pruned_pyside6_runs_the_widgets_example(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    _copy_pyside6(bundle / "packages")
    shutil.copytree(REPO / "examples" / "qt-hello" / "qt_hello", bundle / "app" / "qt_hello")
    before = distribution_sizes(bundle / "packages")
    logs: list[str] = []
    result = prune_qt(bundle / "packages", ["QtSvg"], ["de"], "linux", logs.append)
    assert result is not None and result.binding == "PySide6"
    assert {"QtCore", "QtGui", "QtWidgets", "QtSvg"} <= set(result.modules)
    assert "QtQuick" not in result.modules and "QtQml" not in result.modules
    dropped = set(result.dropped)
    assert "PySide6/Qt/lib/libQt6Quick.so.6" in dropped and "PySide6/QtQml.abi3.so" in dropped
    assert "platforms/libqxcb.so" in result.plugins and "platforms/libqoffscreen.so" in result.plugins
    assert not any("eglfs" in p or "qmltooling" in p for p in result.plugins)
    translations = bundle / "packages" / "PySide6" / "Qt" / "translations"
    kept_translations = sorted(p.name for p in translations.iterdir()) if translations.exists() else []
    assert kept_translations and all(name.endswith("_de.qm") for name in kept_translations)
    assert (bundle / "packages" / "PySide6" / "QtSvg.abi3.so").exists()  # kept on request
    essentials = next(name for name in before if name.lower().startswith("pyside6"))
    sizes = result.by_distribution[essentials]
    assert sizes["unpruned"] == before[essentials] and sizes["pruned"] < sizes["unpruned"] * 0.6
    assert logs and "dropped" in logs[0] and any("MB shipped" in line for line in logs)
    assert result.icu["removed_items"] > 1000 and not result.icu["skipped"]  # kiln.engine.qt_icu, tested there
    assert any("ICU data trimmed to what Qt reads" in line for line in logs)
    run = _run_offscreen(bundle, "qt_hello.window")
    assert run.returncode == 0, run.stderr
    assert QT_HELLO_LINE in run.stdout


@pytest.mark.slow
def test_pruned_pyside6_runs_the_qml_example(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    _copy_pyside6(bundle / "packages")
    shutil.copytree(REPO / "examples" / "qml-hello" / "qml_hello", bundle / "app" / "qml_hello")
    result = prune_qt(bundle / "packages", [], [], "linux")
    assert result is not None
    assert {"QtQml", "QtQuick", "QtWidgets"} <= set(result.modules)
    assert {"QtQuick.Controls", "QtQuick.Layouts", "QtQuick.Window"} <= set(result.qml_modules)
    assert "PySide6/Qt/lib/libQt6Designer.so.6" in result.dropped
    assert not (bundle / "packages" / "PySide6" / "Qt" / "translations").exists()
    run = _run_offscreen(bundle, "qml_hello.app")
    assert run.returncode == 0, run.stderr
    assert QML_HELLO_LINE in run.stdout


def test_star_keeps_everything(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    (packages / BINDINGS[0]).mkdir(parents=True)
    (packages / BINDINGS[0] / "QtQuick.abi3.so").write_bytes(b"\x7fELF not really")
    assert prune_qt(packages, ["*"], [], "linux") is None
    assert (packages / BINDINGS[0] / "QtQuick.abi3.so").exists()


# -- through the CLI: AppImages of the examples ------------------------------------------------------------
@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kiln-cache")


def _build(tmp_path: Path, example: str, cache: Path, qt_modules: list[str] | None = None) -> Path:
    require_tools("mksquashfs")
    project = tmp_path / example
    shutil.copytree(REPO / "examples" / example, project, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    document = tomlkit.parse((project / "kiln.toml").read_text(encoding="utf-8"))
    document["installer"] = [{"kind": "appimage"}]
    if qt_modules is not None:
        document["dependencies"]["qt_modules"] = qt_modules  # type: ignore[index]
    (project / "kiln.toml").write_text(tomlkit.dumps(document), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "kiln", "build", str(project / "kiln.toml")],
                            capture_output=True, text=True, timeout=1800, check=False, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(REPO), "KILN_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "dist"


def _run_appimage(image: Path, tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_RUNTIME_DIR": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    if mode == "extract":
        env["APPIMAGE_EXTRACT_AND_RUN"] = "1"
    return subprocess.run([str(image)], capture_output=True, text=True, timeout=300, env=env, check=False)


def _fuse_works(image: Path) -> bool:
    probe = subprocess.run([str(image), "--appimage-version"], capture_output=True, text=True, timeout=60,
                           check=False)
    return probe.returncode == 0 and os.path.exists("/dev/fuse") and shutil.which("fusermount") is not None


@pytest.mark.slow
def test_qt_hello_appimage_is_pruned_smaller_and_runs(tmp_path: Path, cache: Path) -> None:
    pruned = _build(tmp_path / "pruned", "qt-hello", cache)
    whole = _build(tmp_path / "whole", "qt-hello", cache, qt_modules=["*"])
    image = pruned / "qt-hello-1.0.0-linux-x86_64.AppImage"
    unpruned_image = whole / "qt-hello-1.0.0-linux-x86_64.AppImage"
    assert image.stat().st_size < 0.75 * unpruned_image.stat().st_size
    report = json.loads((pruned / "qt-hello-report.json").read_text(encoding="utf-8"))
    qt = report["qt"]["linux-x86_64"]
    assert "PySide6/Qt/lib/libQt6Quick.so.6" in qt["dropped"] and qt["dropped_bytes"] > 50_000_000
    assert all(v["pruned"] <= v["unpruned"] for v in qt["by_distribution"].values())
    assert "qt" not in json.loads((whole / "qt-hello-report.json").read_text(encoding="utf-8")) or \
        not json.loads((whole / "qt-hello-report.json").read_text(encoding="utf-8"))["qt"]
    modes = ["extract"] + (["fuse"] if _fuse_works(image) else [])
    for mode in modes:
        run = _run_appimage(image, tmp_path / mode, mode)
        assert run.returncode == 0, (mode, run.stderr)
        assert QT_HELLO_LINE in run.stdout


@pytest.mark.long  # bash .ci/long
@pytest.mark.slow
def test_qml_hello_appimage_runs_pruned(tmp_path: Path, cache: Path) -> None:
    dist = _build(tmp_path, "qml-hello", cache)
    image = dist / "qml-hello-1.0.0-linux-x86_64.AppImage"
    report = json.loads((dist / "qml-hello-report.json").read_text(encoding="utf-8"))
    assert "QtQuick.Controls" in report["qt"]["linux-x86_64"]["qml_modules"]
    modes = ["extract"] + (["fuse"] if _fuse_works(image) else [])
    for mode in modes:
        run = _run_appimage(image, tmp_path / mode, mode)
        assert run.returncode == 0, (mode, run.stderr)
        assert QML_HELLO_LINE in run.stdout
