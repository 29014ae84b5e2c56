"""Which files of a folder are programs to run, read with `ast` (never imported): a package's `__main__.py`, a
script with an `if __name__ == "__main__":` block, or a script whose top-level code runs the program as it is (a
beginner's `tipcalc.py` that builds a window and calls `mainloop()`). And whether a program opens windows."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kiln.support import pyast

GUI_TOOLKITS = frozenset({
    "tkinter", "turtle", "customtkinter", "PySide6", "PySide2", "PyQt5", "PyQt6", "wx", "kivy", "pygame",
    "pyglet", "arcade", "PySimpleGUI", "toga", "flet", "dearpygui",
})
"""Top-level modules whose import makes a program a window app (`gui`: no terminal, no console window)."""
NOT_SCRIPTS = frozenset({"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "__init__.py", "__main__.py"})
"""Files that are never the app's program, whatever code they hold."""
MAX_BYTES = 1 << 20
"""Larger files are not parsed (a generated module, not a program someone runs)."""


@dataclass(frozen=True)
class ScriptInfo:
    """What a Python file's syntax says about it."""

    main_guard: bool
    """It has an `if __name__ == "__main__":` block at the top level."""
    top_level_code: bool
    """Its top level calls something (outside functions and classes): running the file runs a program."""
    imports: frozenset[str]
    """The top-level names of the modules it imports (`from . import x` counts as nothing)."""
    kind: Literal["console", "gui"]


def read_script(path: Path) -> ScriptInfo | None:
    """What `path` holds, or None when it is not readable Python (too large, not UTF-8, a syntax error)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        tree = pyast.parse(path.read_bytes(), str(path))
    except (SyntaxError, ValueError, OSError):
        return None
    imports = _imports(tree)
    return ScriptInfo(
        main_guard=any(_is_main_guard(node) for node in tree.body),
        top_level_code=_calls_at_top_level(tree.body),
        imports=frozenset(imports),
        kind="gui" if imports & GUI_TOOLKITS else "console",
    )


def is_script_name(relative: str) -> bool:
    """A name a program may have: not setup.py and the like, not a test module."""
    name = relative.rsplit("/", 1)[-1]
    return name not in NOT_SCRIPTS and not name.startswith("test_") and not name.endswith("_test.py")


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    text = ast.unparse(node.test)
    return "__name__" in text and "__main__" in text


def _calls_at_top_level(body: list[ast.stmt]) -> bool:
    """A call made when the module runs: an expression statement (`main()`, `root.mainloop()`, `print(…)`) at the
    top level or inside top-level if/for/while/with/try blocks, but not in functions, classes or the main guard
    (that one is counted on its own)."""
    for node in body:
        if isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
            return True
        if _calls_at_top_level(_blocks(node)):
            return True
    return False


def _blocks(node: ast.stmt) -> list[ast.stmt]:
    """The statements a top-level if/for/while/with/try runs as the module runs (none for the main guard)."""
    if _is_main_guard(node):
        return []
    if isinstance(node, (ast.If, ast.For, ast.AsyncFor, ast.While)):
        return [*node.body, *node.orelse]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return list(node.body)
    if isinstance(node, ast.Try):
        return [*node.body, *node.orelse, *node.finalbody, *(s for handler in node.handlers for s in handler.body)]
    return []


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names
