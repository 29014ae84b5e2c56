"""The layers of `kiln` (docs/architecture.md), checked on the import graph of every module.

Low to high: resources < support < kinds < model < runtimes < source < installers < engine < ui < cli. A module
imports only from its own layer or lower ones, and no two modules import each other, however indirectly. The graph
is every module's runtime imports, function-level ones included; imports under `if TYPE_CHECKING:` are for type
checkers only and are left out.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from kit.testing import REPO

LAYERS = ("resources", "support", "kinds", "model", "runtimes", "source", "installers", "engine", "ui", "cli")
FOLDERS = {"kiln.ui": "ui", "kiln.runtimes": "runtimes", "kiln.resources": "resources", "kiln": "app"}
"""[tool.setuptools.package-dir]: the installed name of each folder's modules."""
NOT_MODULES = ("resources/launchers", "resources/icons")
"""Build scripts of shipped binaries: standalone tools, not part of the package."""


def python_files(folder: str) -> list[Path]:
    """The repository's own modules under `folder` (not a virtual environment or a cache someone left there)."""
    return sorted(p for p in (REPO / folder).rglob("*.py")
                  if not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(REPO).parts))


@cache
def modules() -> dict[str, Path]:
    """Every module of the `kiln` package by its installed name."""
    found: dict[str, Path] = {}
    for package, folder in FOLDERS.items():
        for path in python_files(folder):
            relative = path.relative_to(REPO)
            if relative.as_posix().startswith(NOT_MODULES):
                continue
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.setdefault(".".join((package, *parts)), path)
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            for other in node.orelse:
                yield from _import_nodes(ast.Module(body=[other], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _import_nodes(node)


def imported_names(path: Path, name: str) -> set[str]:
    """Every name `path` (the module `name`) imports at run time: modules, and `module.attribute` for from-imports."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            parent = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parent, base] if base else parent)
        found.add(base)
        found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@cache
def graph() -> dict[str, set[str]]:
    """Module → the kiln modules it imports (a from-import of a module names that module, else its package), but not
    its own packages."""
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for imported in imported_names(path, name):
            while imported not in known and "." in imported:
                imported = imported.rpartition(".")[0]
            if imported in known and imported.split(".")[0] == "kiln" and not name.startswith(f"{imported}."):
                targets.add(imported)  # (a module's own packages are imported before it, whatever it says)
        edges[name] = targets
    return edges


def _kind_package(name: str) -> str | None:
    """`kiln.installers.<kind>` for a module of a kind's package."""
    parts = name.split(".")
    return ".".join(parts[:3]) if len(parts) >= 3 and parts[:2] == ["kiln", "installers"] else None


@cache
def light_kind_modules() -> frozenset[str]:
    """What the registry imports of each kind: its package (the SPEC), its options, and the modules of its own
    package those import. They belong to the kinds layer; the rest of a kind's package is its installer code."""
    edges = graph()
    light = {m for m in edges if _kind_package(m) in (m, m.removesuffix(".options"))}
    pending = list(light)
    while pending:
        for target in edges[pending.pop()]:
            if _kind_package(target) is not None and target not in light:
                light.add(target)
                pending.append(target)
    return frozenset(light | {"kiln.installers"})


def layer(name: str) -> str:
    if name == "kiln":
        return "resources"  # the package itself holds only the version
    if name == "kiln.__main__":
        return "cli"
    top = name.split(".")[1]
    if top == "installers":
        return "kinds" if name in light_kind_modules() else "installers"
    assert top in LAYERS, f"{name}: no layer for kiln.{top} (add it to LAYERS and docs/architecture.md)"
    return top


def test_every_module_has_a_layer() -> None:
    assert {layer(name) for name in modules()} == set(LAYERS)


@pytest.mark.parametrize("low", LAYERS[:-1])
def test_no_layer_imports_a_higher_one(low: str) -> None:
    rank = LAYERS.index
    upward = sorted(f"{name} ({layer(name)}) imports {target} ({layer(target)})"
                    for name, targets in graph().items() if layer(name) == low
                    for target in targets if rank(layer(target)) > rank(low))
    assert upward == []


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components: any component of more than one module is a cycle."""
    edges = graph()
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(edges)))
    try:
        for node in sorted(edges):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    assert cycles == []


def test_a_kinds_light_modules_hold_no_installer_code() -> None:
    """The registry loads every kind for the model: its SPEC and options must not pull in the installer."""
    heavy = sorted(m for m in light_kind_modules() if m.endswith((".installer", ".reader")))
    assert heavy == []
    assert {"kiln.installers.msi", "kiln.installers.msi.options"} <= light_kind_modules()


def test_the_graph_sees_function_level_imports_and_skips_type_checking_blocks(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import kiln.ui\nelse:\n    import os\n"
                      "def f():\n    from kiln.engine import engine\n    from . import sibling\n")
    assert imported_names(sample, "kiln.source.sample") == {
        "typing", "typing.TYPE_CHECKING", "os", "kiln.engine", "kiln.engine.engine", "kiln.source",
        "kiln.source.sibling"}


def test_the_core_never_imports_qt() -> None:
    """Qt only in kiln.ui; the CLI reaches the wizard through one import (`kiln wizard`)."""
    qt = {"PySide6", "shiboken6", "PyQt5", "PyQt6"}
    broken = sorted(f"{name} imports {imported}" for name, path in modules().items() if layer(name) != "ui"
                    for imported in imported_names(path, name) if imported.split(".")[0] in qt)
    assert broken == []
    assert [name for name, targets in graph().items() if layer(name) == "cli" and any(
        layer(t) == "ui" for t in targets)] == ["kiln.cli.main"]


def test_nothing_imports_the_old_top_level_names() -> None:
    """Everything is `kiln.…`; an `import app` or `from ui import …` would only work from a checkout."""
    old = {"app", "ui", "runtimes", "resources"}
    broken = [
        f"{path.relative_to(REPO)} imports {module}"
        for folder in ("app", "ui", "runtimes", "tests", "bench")
        for path in python_files(folder)
        for module in imported_names(path, "x")
        if module.split(".")[0] in old
    ]
    assert broken == []


def test_no_test_module_imports_another() -> None:
    """What tests share lives in tests/kit/ (imported as `kit.…`), never in a test module or a conftest."""
    broken = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in python_files("tests")
        for module in imported_names(path, "x")
        if module.split(".")[0] == "tests" or module.split(".")[-1].startswith("test_")
        or module.split(".")[-1] == "conftest"
    ]
    assert broken == []
