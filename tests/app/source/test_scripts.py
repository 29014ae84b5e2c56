"""Which files are programs, read with ast: a main guard, or top-level code that runs the program as it is; and
whether a program opens windows (the toolkit it imports)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.source.scripts import is_script_name, read_script

TIPCALC = """import tkinter as tk

root = tk.Tk()
tk.Label(root, text="tip").pack()
root.mainloop()
"""


@pytest.mark.parametrize(("source", "guard", "top_level", "kind"), [
    pytest.param(TIPCALC, False, True, "gui", id="beginner-tkinter-script"),
    pytest.param("import sys\n\nprint(sys.argv)\n", False, True, "console", id="print-at-top-level"),
    pytest.param("def main():\n    pass\n\nif __name__ == '__main__':\n    main()\n", True, False, "console",
                 id="main-guard-only"),
    pytest.param("import turtle\nfor _ in range(4):\n    turtle.forward(10)\n", False, True, "gui",
                 id="turtle-in-a-loop"),
    pytest.param("async def main():\n    pass\n\nimport asyncio\nasyncio.run(main())\n", False, True, "console",
                 id="asyncio-run"),
    pytest.param("def main():\n    from PySide6.QtWidgets import QApplication\n", False, False, "gui",
                 id="imports-qt-inside-a-function"),
    pytest.param('"""Helpers."""\nimport os\nX = os.getcwd()\n\n\ndef f():\n    print(1)\n', False, False,
                 "console", id="a-module-of-definitions"),
    pytest.param("try:\n    import ujson as json\nexcept ImportError:\n    import json\n", False, False, "console",
                 id="optional-import"),
    pytest.param("import os\nif os.name == 'nt':\n    os.system('cls')\n", False, True, "console",
                 id="call-inside-a-top-level-if"),
    pytest.param("import wx.lib\nclass Frame:\n    def show(self):\n        print(1)\n", False, False, "gui",
                 id="wx-submodule-and-a-class"),
])
def test_read_script(tmp_path: Path, source: str, guard: bool, top_level: bool, kind: str) -> None:
    path = tmp_path / "program.py"
    path.write_text(source, encoding="utf-8")
    info = read_script(path)
    assert info is not None
    assert (info.main_guard, info.top_level_code, info.kind) == (guard, top_level, kind)


def test_unreadable_python_is_no_script(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def (:\n", encoding="utf-8")
    (tmp_path / "nul.py").write_bytes(b"print(1)\0\n")
    assert read_script(tmp_path / "broken.py") is None and read_script(tmp_path / "nul.py") is None
    assert read_script(tmp_path / "missing.py") is None


def test_imports_are_top_level_names_without_relative_ones(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("import helpers.text\nfrom tools import x\nfrom . import sibling\n",
                                      encoding="utf-8")
    info = read_script(tmp_path / "main.py")
    assert info is not None and info.imports == {"helpers", "tools"}


@pytest.mark.parametrize(("name", "expected"), [
    ("tipcalc.py", True), ("tools/run.py", True), ("setup.py", False), ("test_calc.py", False),
    ("calc_test.py", False), ("pkg/conftest.py", False), ("pkg/__init__.py", False),
])
def test_names_that_are_never_programs(name: str, expected: bool) -> None:
    assert is_script_name(name) is expected
