"""The smoke start: the bundle's interpreter imports the app's start; a missing module or a missing file of the
bundle is an error with the fix, anything else the app does when imported headless is a warning."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kiln.engine import smoke_start as smoke
from kiln.engine.bundle_check import ImportCheck
from kiln.engine.bundle_index import BundleIndex
from kiln.model.project import EntrySection
from kiln.support.targets import TARGETS

LINUX = TARGETS["linux-x86_64"]


def _bundle(root: Path, files: dict[str, str]) -> ImportCheck:
    for relative, text in files.items():
        (root / "app" / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / "app" / relative).write_text(text, encoding="utf-8")
    return ImportCheck(BundleIndex(root, LINUX, "3.11", None), LINUX, frozenset())


def _start(check: ImportCheck, modules: list[str]) -> list[smoke.Finding]:
    # The running interpreter stands in for the bundle's (its .pth would put app/ on sys.path): app/ goes first.
    return smoke.smoke_start(Path(sys.executable), str(check.index.bundle / "app"), modules, check)


APP = {
    "good/__init__.py": "import json\n",
    "computed/__init__.py": "import importlib\nimportlib.import_module('yaml_' + 'not_installed')\n",
    "reader/__init__.py": "import os\nopen(os.path.join(os.path.dirname(__file__), 'data', 'gone.txt')).read()\n",
    "headless/__init__.py": "raise RuntimeError('no display')\n",
    "quits/__init__.py": "import sys\nsys.exit(2)\n",
}


def test_an_app_that_imports_is_fine(tmp_path: Path) -> None:
    assert _start(_bundle(tmp_path, APP), ["good"]) == []


def test_a_module_missing_at_start_is_an_error_with_the_fix(tmp_path: Path) -> None:
    (finding,) = _start(_bundle(tmp_path, APP), ["good", "computed"])
    assert (finding.check, finding.severity, finding.module) == ("smoke-start", "error", "yaml_not_installed")
    assert finding.message.startswith("importing computed in the built linux-x86_64 bundle raised "
                                      "ModuleNotFoundError: No module named 'yaml_not_installed'")
    assert (finding.file, finding.line) == ("computed/__init__.py", 2)
    assert finding.action == {"add": {"dependencies.requirements": "yaml_not_installed"}}


def test_a_file_missing_from_the_bundle_is_an_error(tmp_path: Path) -> None:
    (finding,) = _start(_bundle(tmp_path, APP), ["reader"])
    assert finding.severity == "error" and "FileNotFoundError" in finding.message
    assert "the app reads app/reader/data/gone.txt, which is not in the bundle" in finding.fix


@pytest.mark.parametrize("module", ["headless", "quits"])
def test_what_else_an_app_does_headless_is_a_warning(tmp_path: Path, module: str) -> None:
    (finding,) = _start(_bundle(tmp_path, APP), [module])
    assert finding.severity == "warning" and finding.action is None


def test_an_import_that_never_ends_is_stopped_and_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke, "TIME_LIMIT", 1.0)
    check = _bundle(tmp_path, {"forever/__init__.py": "import threading\nthreading.Event().wait()\n"})
    (finding,) = _start(check, ["forever"])
    assert finding.severity == "warning" and "did not finish" in finding.message


def test_what_is_imported_for_each_kind_of_entry(tmp_path: Path) -> None:
    check = _bundle(tmp_path, {"main.py": "import os\nimport good\nif True:\n    import json\n\n\ndef f():\n"
                                          "    import later\n"})
    assert smoke.modules_to_import(EntrySection(script="main.py"), check) == (str(tmp_path / "app"),
                                                                              ["os", "good", "json"])
    check.entry_imports = ["pkg._start"]
    assert smoke.modules_to_import(EntrySection(module="pkg:start"), check) == ("", ["pkg", "pkg._start"])
