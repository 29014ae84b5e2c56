"""The bundle check in real builds: a tkinter app's MSI around python.org's embeddable runtime (no Tcl/Tk there) is
refused with the module, the file and line and the fix, while its AppImage builds; a Qt app importing a module by a
computed name gets the qt_modules fix (a warning from the static check for the MSI, an error from the AppImage's
smoke start), and builds once the project keeps that module."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from kit.app_shapes import SETUPTOOLS, SHAPES
from kit.runner import KilnRun, kiln
from kit.testing import require_tools

pytestmark = pytest.mark.slow
UNREACHABLE = "http://127.0.0.1:9/mirror"
"""python-build-standalone's place (GitHub): refused at once, so `[python] source = "auto"` takes python.org's
embeddable runtime for Windows, whatever this machine can reach."""

QT_APP = {
    "pyproject.toml": SETUPTOOLS + '[project]\nname = "qtapi"\nversion = "1.0"\ndependencies = ["PySide6-Essentials"]\n'
    '[project.gui-scripts]\nqtapi = "qtapi.main:main"\n',
    "qtapi/__init__.py": "",
    "qtapi/main.py": "import importlib\n\nfrom PySide6 import QtCore\n\nAPI = 'PySide6'\n"
    "QtPrintSupport = importlib.import_module(API + '.QtPrintSupport')\n\n\ndef main():\n"
    "    print('printing', QtPrintSupport.QPrinter.__name__, QtCore.__name__)\n",
}


def _build(folder: Path, cache: Path, installers: list[str], **tables: Any) -> tuple[KilnRun, dict[str, Any]]:
    document = tomlkit.parse((folder / "kiln.toml").read_text(encoding="utf-8"))
    for name, value in tables.items():
        document[name] = value
    array = tomlkit.aot()
    for kind in installers:
        array.append(tomlkit.table().add("kind", kind))
    document["installer"] = array
    (folder / "kiln.toml").write_text(tomlkit.dumps(document), encoding="utf-8")
    run = kiln("build", folder / "kiln.toml", "--events", "jsonl", cwd=folder,
               env={"KILN_CACHE_DIR": str(cache), "PBS_INSTALLER_BASE_URL": UNREACHABLE}, timeout=1500)
    done = run.events[-1]
    assert done.kind == "done", run.output
    return run, {o["kind"]: o for o in done.data["installers"]}


def _new(folder: Path, cache: Path) -> None:
    made = kiln("new", folder, cwd=folder.parent, env={"KILN_CACHE_DIR": str(cache)})
    assert made.returncode == 0, made.output


def test_tkinter_on_the_embeddable_runtime_refuses_the_msi_with_the_fix(tmp_path: Path) -> None:
    require_tools("mksquashfs", "wixl", "msibuild", "msiinfo")
    folder = SHAPES["tkinter-window"].write(tmp_path)
    _new(folder, tmp_path / "cache")
    run, outcomes = _build(folder, tmp_path / "cache", ["appimage", "msi"])
    assert run.returncode == 1 and outcomes["appimage"]["status"] == "ok", run.output
    msi = outcomes["msi"]
    assert msi["status"] == "failed" and msi["platform"] == "windows-x86_64"
    assert msi["message"] == "tkapp/window.py:2 imports tkinter, which is not in the windows-x86_64 bundle"
    assert 'set [python] source = "download"' in msi["hint"]
    (finding,) = msi["findings"]
    assert finding == {"check": "missing-module", "severity": "error", "platform": "windows-x86_64",
                       "installers": ["msi"], "message": msi["message"], "module": "tkinter",
                       "file": "tkapp/window.py", "line": 2, "fix": msi["hint"],
                       "action": {"set": {"python.source": "download"}}}
    (error,) = [e for e in run.events if e.kind == "error"]
    assert error.stage == "msi" and error.data["findings"] == [finding]
    assert not list((folder / "dist").glob("*.msi"))
    report = json.loads((folder / "dist" / "tkapp-report.json").read_text(encoding="utf-8"))
    assert report["findings"]["windows-x86_64"] == [finding] and report["findings"]["linux-x86_64"] == []


@pytest.mark.long  # bash .ci/long
def test_a_computed_qt_import_gets_the_qt_modules_fix(tmp_path: Path) -> None:
    require_tools("mksquashfs", "wixl", "msibuild", "msiinfo")
    folder = tmp_path / "qtapi"
    for relative, text in QT_APP.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")
    cache = tmp_path / "cache"
    _new(folder, cache)
    run, outcomes = _build(folder, cache, ["appimage", "msi"])
    assert run.returncode == 1, run.output
    appimage, msi = outcomes["appimage"], outcomes["msi"]
    assert appimage["status"] == "failed" and "No module named 'PySide6.QtPrintSupport'" in appimage["message"]
    assert appimage["hint"] == 'keep it: add "QtPrintSupport" to [dependencies] qt_modules'
    assert [f["action"] for f in appimage["findings"] if f["severity"] == "error"] == [
        {"add": {"dependencies.qt_modules": "QtPrintSupport"}}]
    assert msi["status"] == "ok"  # Kiln cannot start a Windows bundle here: the static check warns
    (warning,) = msi["findings"]
    assert (warning["check"], warning["severity"], warning["file"], warning["line"]) == (
        "computed-import", "warning", "qtapi/main.py", 6)
    assert warning["action"] == {"add": {"dependencies.qt_modules": "QtPrintSupport"}}
    assert any(e.kind == "warning" and e.data == warning for e in run.events)

    shutil.rmtree(folder / "dist")
    run, outcomes = _build(folder, cache, ["appimage", "msi"],
                           dependencies={"qt_modules": ["QtPrintSupport"]})
    assert run.returncode == 0, run.output
    assert [o["findings"] for o in outcomes.values()] == [[], []]
