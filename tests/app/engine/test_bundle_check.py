"""The bundle check: the app's imports followed from its entry point and looked up in the staged bundle of each
target (its standard library, built-in modules, app/ and packages/), each missing module a finding with the
importing file and line and the fix as words and as data. Bundles here are small trees in the real layouts."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from kiln.engine.bundle_check import BundleCheckFailed, Finding, ImportCheck, qt_dropped_modules
from kiln.engine.bundle_index import BundleIndex
from kiln.model.project import EntrySection
from kiln.support.targets import TARGETS

LINUX, WINDOWS = TARGETS["linux-x86_64"], TARGETS["windows-x86_64"]
STDLIB = ["os", "re", "typing", "collections/__init__", "encodings/__init__", "json/__init__", "json/decoder",
          "tkinter/__init__", "tkinter/font", "curses/__init__", "sqlite3/__init__", "importlib/__init__", "contextlib"]
BUILTINS = frozenset({"sys", "builtins", "_io", "time", "_imp"})


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")


def linux_bundle(root: Path, app: dict[str, str], packages: dict[str, str] | None = None,
                 extensions: tuple[str, ...] = ("_tkinter", "_curses", "_sqlite3", "fcntl")) -> Path:
    stdlib = root / "runtime" / "lib" / "python3.11"
    _write(stdlib, {f"{name}.pyc": "" for name in STDLIB})
    _write(stdlib / "lib-dynload", {f"{name}.cpython-311-x86_64-linux-gnu.so": "" for name in extensions})
    _write(root / "app", app)
    _write(root / "packages", packages or {})
    return root


def embed_bundle(root: Path, app: dict[str, str], packages: dict[str, str] | None = None) -> Path:
    """python.org's embeddable layout: the stdlib in python311.zip (curses/ but no tkinter), .pyd files beside."""
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        for name in STDLIB:
            if not name.startswith("tkinter"):
                archive.writestr(f"{name}.pyc", b"")
    _write(root / "runtime", {"_sqlite3.pyd": "", "_socket.pyd": ""})
    (root / "runtime" / "python311.zip").write_bytes(zipped.getvalue())
    _write(root / "app", app)
    _write(root / "packages", packages or {})
    return root


def check(bundle: Path, entry: str, target: str = "linux", own: frozenset[str] = frozenset(),
          builtins: frozenset[str] | None = BUILTINS, dropped: frozenset[str] = frozenset()) -> list[Finding]:
    chosen = LINUX if target == "linux" else WINDOWS
    script = entry.endswith(".py")
    index = BundleIndex(bundle, chosen, "3.11", builtins,
                        (bundle / "app" / entry).parent if script else None)
    entry_section = EntrySection(script=entry) if script else EntrySection(module=entry)
    return ImportCheck(index, chosen, own, dropped).run(entry_section)


def brief(findings: list[Finding]) -> list[tuple[str, str, str, int]]:
    return [(f.severity, f.module, f.file, f.line) for f in findings]


TK_APP = {"tkapp/__init__.py": "", "tkapp/window.py": "import sys\nimport tkinter\nfrom tkinter import font\n\n\n"
          "def main():\n    tkinter.Tk()\n"}


def test_tkinter_on_the_embeddable_runtime_fails_with_the_standalone_runtime_as_the_fix(tmp_path: Path) -> None:
    (finding,) = check(embed_bundle(tmp_path, TK_APP), "tkapp.window:main", "windows")
    assert brief([finding]) == [("error", "tkinter", "tkapp/window.py", 2)]
    assert finding.message == "tkapp/window.py:2 imports tkinter, which is not in the windows-x86_64 bundle " \
                              "(also line 3)"
    assert finding.action == {"set": {"python.source": "download"}} and 'source = "download"' in finding.fix
    assert finding.data("windows-x86_64", ["msi"]) == {
        "check": "missing-module", "severity": "error", "platform": "windows-x86_64", "installers": ["msi"],
        "message": finding.message, "module": "tkinter", "file": "tkapp/window.py", "line": 2, "fix": finding.fix,
        "action": {"set": {"python.source": "download"}}}
    assert check(linux_bundle(tmp_path / "linux", TK_APP), "tkapp.window:main") == []


def test_curses_on_windows_needs_its_extension_and_gets_a_dependency_with_a_marker(tmp_path: Path) -> None:
    app = {"tui.py": "import curses\n\ncurses.wrapper(print)\n"}
    (finding,) = check(embed_bundle(tmp_path, app), "tui.py", "windows")
    assert brief([finding]) == [("error", "curses", "tui.py", 1)]
    assert "its _curses is not in this runtime" in finding.message
    assert finding.action == {"add": {"dependencies.requirements": 'windows-curses; sys_platform == "win32"'}}
    assert check(linux_bundle(tmp_path / "linux", app), "tui.py") == []


def test_how_surely_an_import_runs_decides_error_warning_or_nothing(tmp_path: Path) -> None:
    app = {
        "pkg/__init__.py": "",
        "pkg/cli.py": "import os\nimport sys\nimport yaml\nfrom pkg import helpers\n"
                      "try:\n    import ujson\nexcept ImportError:\n    ujson = None\n"
                      'if sys.platform == "win32":\n    import winreg\n'
                      "if os.environ.get('X'):\n    import rare\n"
                      "\n\ndef main():\n    import toml_tool\n\n\ndef export():\n    import reportlab\n",
        "pkg/helpers.py": "import PIL\n",
        "pkg/unused.py": "import never_imported_by_anyone\n",
    }
    findings = check(linux_bundle(tmp_path, app, {"dep/__init__.py": "import dep_optional_thing\n"}),
                     "pkg.cli:main")
    assert brief(findings) == [("error", "yaml", "pkg/cli.py", 3), ("error", "toml_tool", "pkg/cli.py", 16),
                               ("error", "PIL", "pkg/helpers.py", 1), ("warning", "rare", "pkg/cli.py", 12),
                               ("warning", "reportlab", "pkg/cli.py", 20)]
    actions = {f.module: f.action for f in findings}
    assert actions["yaml"] == {"add": {"dependencies.requirements": "PyYAML"}}
    assert actions["PIL"] == {"add": {"dependencies.requirements": "Pillow"}}


def test_a_module_for_another_system_is_named_so(tmp_path: Path) -> None:
    app = {"tool.py": "import winreg\n\n\ndef later():\n    import msvcrt\n"}
    findings = check(linux_bundle(tmp_path, app), "tool.py")
    assert brief(findings) == [("error", "winreg", "tool.py", 1), ("warning", "msvcrt", "tool.py", 5)]
    assert findings[0].fix.startswith("winreg exists on Windows only") and findings[0].action is None


def test_qt_modules_pruning_dropped_or_the_wheel_lacks(tmp_path: Path) -> None:
    packages = {"PySide6/__init__.py": "", "PySide6/QtCore.abi3.so": "", "PySide6/QtGui.abi3.so": ""}
    app = {"viewer/__init__.py": "", "viewer/main.py":
           "import importlib\nfrom PySide6 import QtCore, QtPrintSupport\nAPI = 'PySide6'\n"
           "charts = importlib.import_module(API + '.QtCharts')\ngui = importlib.import_module(API + '.QtGui')\n"
           "plugin = importlib.import_module(API.lower())\n"}
    dropped = qt_dropped_modules(["PySide6/QtPrintSupport.abi3.so", "PySide6/Qt/lib/libQt6PrintSupport.so.6"])
    assert dropped == {"QtPrintSupport"}
    findings = check(linux_bundle(tmp_path, app, packages), "viewer.main", dropped=dropped)
    assert brief(findings) == [("error", "PySide6.QtPrintSupport", "viewer/main.py", 2),
                               ("warning", "QtCharts", "viewer/main.py", 4), ("warning", "", "viewer/main.py", 6)]
    printing, charts, computed = findings
    assert printing.action == {"add": {"dependencies.qt_modules": "QtPrintSupport"}}
    assert charts.check == "computed-import" and "(importlib.import_module(API + '.QtCharts'))" in charts.message
    assert charts.action == {"add": {"dependencies.qt_modules": "QtCharts"}}
    assert computed.action is None and "importlib.import_module(API.lower())" in computed.message


def test_only_the_apps_own_code_is_followed(tmp_path: Path) -> None:
    packages = {"mine/__init__.py": "from . import core\n", "mine/core.py": "import not_installed\n",
                "theirs/__init__.py": "import their_optional_dependency\n"}
    app = {"start.py": "import mine\nimport theirs\n"}
    bundle = linux_bundle(tmp_path, app, packages)
    assert brief(check(bundle, "start.py", own=frozenset({"mine"}))) == [
        ("error", "not_installed", "mine/core.py", 1)]
    assert check(bundle, "start.py", own=frozenset()) == []  # mine is a dependency then: checked, not followed


def test_an_entry_in_a_dependency_is_read_but_not_followed(tmp_path: Path) -> None:
    packages = {"cowsay/__init__.py": "from .main import cli\n", "cowsay/__main__.py": "from cowsay import cli\n"
                "import missing_at_start\n", "cowsay/main.py": "import its_own_business\n"}
    assert brief(check(linux_bundle(tmp_path, {}, packages), "cowsay.__main__:cli")) == [
        ("error", "missing_at_start", "cowsay/__main__.py", 2)]


def test_folders_the_app_puts_on_sys_path_and_pth_files_count(tmp_path: Path) -> None:
    app = {"main.py": "import sys\nsys.path.insert(0, 'vendored')\nimport tinylib\nimport pthlib\n",
           "vendored/tinylib.py": ""}
    bundle = linux_bundle(tmp_path, app, {"extra.pth": "extra_dir\nimport something\n",
                                          "extra_dir/pthlib/__init__.py": ""})
    assert check(bundle, "main.py") == []


def test_a_standard_library_that_cannot_be_read_is_taken_as_present(tmp_path: Path) -> None:
    bundle = tmp_path / "standin"  # tests/kit/msi.py's stand-in: os and encodings, nothing else
    _write(bundle, {"runtime/Lib/os.py": "", "runtime/Lib/encodings/__init__.py": "", "app/main.py":
                    "import json.decoder\nimport xml.etree.ElementTree\nimport tkinter\nimport not_stdlib\n"})
    index = BundleIndex(bundle, WINDOWS, "3.11", None)
    assert not index.stdlib_known
    findings = ImportCheck(index, WINDOWS, frozenset()).run(EntrySection(script="main.py"))
    assert brief(findings) == [("error", "not_stdlib", "main.py", 4)]


def test_the_index_finds_packages_modules_extensions_and_namespaces(tmp_path: Path) -> None:
    bundle = linux_bundle(tmp_path, {}, {"ns/a/__init__.py": "", "plain.py": "", "fast.cpython-311-x86_64-linux-gnu.so":
                                         "", "pkg/__init__.pyc": "", "pkg/sub.abi3.so": "", "data/readme.txt": ""})
    index = BundleIndex(bundle, LINUX, "3.11", BUILTINS)
    assert index.stdlib_known
    assert index.find("time") is not None and index.find("time").where == "builtin"  # type: ignore[union-attr]
    assert index.find("json.decoder").where == "stdlib"  # type: ignore[union-attr]
    assert index.find("ns.a").is_package and index.find("ns").is_package  # type: ignore[union-attr]
    assert index.find("plain").path.name == "plain.py"  # type: ignore[union-attr]
    assert index.find("fast").path.suffix == ".so"  # type: ignore[union-attr]
    assert index.find("pkg.sub") is not None and index.find("pkg.nope") is None
    assert index.find("nothere") is None
    # A module's "submodule" is one the module puts into sys.modules itself (os.path, six.moves): taken as present.
    assert index.find("os.path").where == "stdlib" and index.find("plain.sub").unread  # type: ignore[union-attr]
    embed = BundleIndex(embed_bundle(tmp_path / "embed", {}), WINDOWS, "3.11", frozenset({"nt"}))
    assert embed.stdlib_known and embed.find("json.decoder") is not None and embed.find("tkinter") is None
    assert embed.find("_sqlite3").path.name == "_sqlite3.pyd"  # type: ignore[union-attr]


@pytest.mark.parametrize("entry", ["pkg", "pkg.__main__"])
def test_a_package_run_as_main_is_followed_through_its_main(tmp_path: Path, entry: str) -> None:
    app = {"pkg/__init__.py": "", "pkg/__main__.py": "import missing_one\nif __name__ == '__main__':\n"
                                                     "    import missing_two\n"}
    assert [f.module for f in check(linux_bundle(tmp_path, app), entry)] == ["missing_one", "missing_two"]


def test_the_failure_names_the_first_error_and_counts_the_others() -> None:
    modules = ["tkinter", "tkinter", "yaml"]
    errors = [Finding("missing-module", "error", f"pkg/m{n}.py:1 imports {module}, which is not in the bundle",
                      module, f"pkg/m{n}.py", 1, f"fix {module}") for n, module in enumerate(modules)]
    failed = BundleCheckFailed(errors, [e.data("windows-x86_64", ["msi"]) for e in errors])
    assert failed.message == "pkg/m0.py:1 imports tkinter, which is not in the bundle (2 more imports of tkinter, " \
                             "yaml fail: see the build report)"
    assert failed.hint == "fix tkinter" and [f["module"] for f in failed.findings] == ["tkinter", "tkinter", "yaml"]


def test_os_path_and_a_modules_own_submodules_are_not_missing(tmp_path: Path) -> None:
    app = {"tool/__init__.py": "", "tool/main.py": "import os.path\nimport six.moves.urllib\n"
           "from os.path import join\n\n\ndef main():\n    pass\n"}
    assert check(linux_bundle(tmp_path, app, {"six.py": ""}), "tool.main:main") == []


def test_built_in_modules_not_read_from_the_runtime_are_this_pythons(tmp_path: Path) -> None:
    """A runtime whose built-in modules cannot be read (a stand-in interpreter) still has sys and itertools."""
    app = {"tool/__init__.py": "", "tool/main.py": "import itertools\nimport sys\n\n\ndef main():\n    pass\n"}
    assert check(linux_bundle(tmp_path, app), "tool.main:main", builtins=None) == []
    assert brief(check(linux_bundle(tmp_path / "read", app), "tool.main:main")) == [
        ("error", "itertools", "tool/main.py", 1)]  # read, and without it: missing
