"""An app that imports tkinter, built on python.org's embeddable Windows runtime (which has no tkinter): without the
bundle check the build warns (and the report keeps the warning); with it, the check fails the MSI with the fix
(tests/app/engine/test_bundle_check.py), and this step only logs."""

from __future__ import annotations

from pathlib import Path

from kiln.engine import staging
from kiln.support.targets import TARGETS


class Stage:
    def __init__(self) -> None:
        self.logs: list[str] = []
        self.warnings: list[str] = []

    def log(self, message: str) -> None:
        self.logs.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def bundle(tmp_path: Path, with_tk: bool) -> Path:
    root = tmp_path / ("with" if with_tk else "without")
    (root / "app").mkdir(parents=True)
    (root / "app" / "gui.py").write_text("import tkinter\n", encoding="utf-8")
    (root / "runtime").mkdir()
    (root / "runtime" / "python311.zip").write_bytes(b"")
    if with_tk:  # python-build-standalone's Windows layout
        (root / "runtime" / "DLLs").mkdir()
        (root / "runtime" / "DLLs" / "_tkinter.pyd").write_bytes(b"MZ")
    return root


def test_embeddable_runtime_without_tkinter_is_a_warning(tmp_path: Path) -> None:
    stage = Stage()
    staging._keep_tkinter_only_if_used(bundle(tmp_path, with_tk=False), TARGETS["windows-x86_64"], None, stage)
    (warning,) = stage.warnings
    assert warning.startswith("gui.py imports tkinter, but this Windows runtime has none")
    assert 'source = "download"' in warning


def test_standalone_runtime_keeps_tkinter(tmp_path: Path) -> None:
    stage = Stage()
    staging._keep_tkinter_only_if_used(bundle(tmp_path, with_tk=True), TARGETS["windows-x86_64"], frozenset(), stage)
    assert stage.warnings == [] and stage.logs == ["keeping tkinter and Tcl/Tk: gui.py imports it"]


def test_with_the_bundle_check_the_apps_own_tkinter_is_left_to_it(tmp_path: Path) -> None:
    stage = Stage()
    staging._keep_tkinter_only_if_used(bundle(tmp_path, with_tk=False), TARGETS["windows-x86_64"], frozenset(), stage)
    assert stage.warnings == [] and stage.logs == [
        "gui.py imports tkinter, which this windows-x86_64 runtime lacks: the bundle check says what to do"]
