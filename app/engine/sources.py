"""Which Python sources ship beside their bytecode (`[build] keep_sources`).

`"auto"` (the default) keeps the sources of the app's own code (tracebacks show its lines, and it may run or read
its own files) and of every installed distribution that names one of its own .py files: thonny starts its backend
with `python -u -B …/cp_launcher.py`, which bytecode alone cannot do. Everything else ships as bytecode only.
`true` keeps every source, `false` none (a distribution found to need its sources is then a warning).

Measured (docs/project-file.md): keeping every source grows examples/hello's AppImage by 8 % (rich's sources), the
Qt example's by 0.1 %, thonny's by 10 %; the app's own sources and those the scan finds cost thonny 1.5 %.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from kiln.support import pyast
from kiln.support.bytecode import Keep

GENERIC_NAMES = frozenset({"__init__.py", "__main__.py", "setup.py", "conftest.py"})
"""File names too common to say a distribution means its own file (mypy looks for users' __init__.py)."""
TEST_FOLDERS = frozenset({"tests", "test", "testing"})


def sources_needed(site: Path) -> dict[str, str]:
    """Each top-level package of `site` with a string constant naming a .py file of its own tree -> where
    (`thonny/plugins/x.py:144 names 'cp_launcher.py'`)."""
    needed = {}
    for top in sorted(site.iterdir()) if site.is_dir() else []:
        if top.is_dir() and not top.name.endswith((".dist-info", ".data")) and top.name not in ("__pycache__", "bin"):
            where = _names_own_file(top, site)
            if where:
                needed[top.name] = where
    return needed


def _names_own_file(package: Path, site: Path) -> str:
    names: set[str] = set()
    modules: list[Path] = []
    for current, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d not in TEST_FOLDERS and d != "__pycache__")
        names.update(files)
        modules += [Path(current, f) for f in sorted(files) if f.endswith(".py")]
    names -= GENERIC_NAMES
    for module in modules:
        try:
            source = module.read_bytes()
        except OSError:
            continue
        if b".py" not in source:
            continue
        try:
            tree = pyast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".py")
                    and node.value.replace("\\", "/").rsplit("/", 1)[-1] in names):
                return f"{module.relative_to(site).as_posix()}:{node.lineno} names {node.value!r}"
    return ""


def keep_for(setting: bool | str, site: Path, own: frozenset[str] = frozenset()) -> tuple[Keep, dict[str, str]]:
    """What `[build] keep_sources` keeps in `site` (a bundle's packages/): True, False, or (for "auto") the app's own
    top-level names `own` with the packages found to need their sources; and what the scan found (not run for
    True)."""
    if setting is True:
        return True, {}
    needed = sources_needed(site)
    if setting is False:
        return False, needed
    return own | frozenset(needed), needed


def describe(needed: dict[str, str]) -> str:
    return ", ".join(f"{name} ({where})" for name, where in sorted(needed.items()))
