"""What a module imports, read with ast: relative names resolved, guards and platform conditions decided for the
target, the function each import sits in, computed names with the constants they hold."""

from __future__ import annotations

import pytest

from kiln.source.imports import Facts, ImportSite, module_imports

LINUX = Facts.for_target("linux", "3.11")
WINDOWS = Facts.for_target("windows", "3.11")


def sites(source: str, facts: Facts = LINUX, module: str = "pkg.mod", as_main: bool = False) -> dict[str, ImportSite]:
    found = module_imports(source.encode(), module, False, facts, as_main)
    assert found is not None
    return {site.module: site for site in found.sites}


def need(source: str, facts: Facts = LINUX, **kwargs: object) -> dict[str, str]:
    return {name: site.need for name, site in sites(source, facts, **kwargs).items()}  # type: ignore[arg-type]


def test_plain_and_relative_imports() -> None:
    found = sites("import a.b\nfrom c import d, e\nfrom . import sibling\nfrom ..top import x\nfrom __future__ import "
                  "annotations\n", module="pkg.sub.mod")
    assert sorted(found) == ["a.b", "c", "pkg.sub", "pkg.top"]
    assert found["c"].names == ("d", "e") and found["pkg.sub"].names == ("sibling",) and found["a.b"].line == 1
    package = module_imports(b"from . import x\n", "pkg.sub", True, LINUX, False)
    assert package is not None and package.sites[0].module == "pkg.sub"
    assert sites("from .. import x\n", module="top") == {}  # climbs above the top: not an import Kiln can name


@pytest.mark.parametrize(("condition", "linux", "windows"), [
    pytest.param('sys.platform == "win32"', None, "required", id="sys.platform"),
    pytest.param('sys.platform.startswith("linux")', "required", None, id="startswith"),
    pytest.param('sys.platform.startswith(("win", "cygwin"))', None, "required", id="startswith-tuple"),
    pytest.param('os.name == "nt"', None, "required", id="os.name"),
    pytest.param('platform.system() != "Windows"', "required", None, id="platform.system"),
    pytest.param('sys.platform in ("win32", "cygwin")', None, "required", id="in-tuple"),
    pytest.param("sys.version_info >= (3, 8)", "required", "required", id="version-true"),
    pytest.param("sys.version_info < (3, 11)", None, None, id="version-false"),
    pytest.param("sys.version_info[:2] >= (3, 12)", None, None, id="version-slice"),
    pytest.param("sys.version_info.major == 2", None, None, id="version-major"),
    pytest.param("sys.version_info < (3, 11, 4)", "conditional", "conditional", id="patch-level-unknown"),
    pytest.param("TYPE_CHECKING", None, None, id="type-checking"),
    pytest.param("not TYPE_CHECKING and WINDOWS", None, "required", id="flag"),
    pytest.param("args.gui", "conditional", "conditional", id="unknown"),
    pytest.param('WINDOWS or os.environ.get("X")', "conditional", "required", id="or-unknown"),
])
def test_conditions_are_decided_for_the_target(condition: str, linux: str | None, windows: str | None) -> None:
    source = f'import os, sys, platform\nWINDOWS = sys.platform == "win32"\nif {condition}:\n    import target\n'
    assert need(source).get("target") == linux
    assert need(source, WINDOWS).get("target") == windows


def test_else_branches_and_main_blocks() -> None:
    source = 'import sys\nif sys.platform == "win32":\n    import a\nelse:\n    import b\n' \
             'if __name__ == "__main__":\n    import c\n'
    assert need(source) == {"sys": "required", "b": "required"}
    assert need(source, as_main=True) == {"sys": "required", "b": "required", "c": "required"}


def test_guarded_imports_are_optional() -> None:
    source = """
try:
    import ujson as json
except ImportError:
    import json
try:
    import fast
except (ValueError, ModuleNotFoundError):
    pass
try:
    import strict
except ValueError:
    import fallback
import contextlib
with contextlib.suppress(ImportError):
    import maybe
try:
    import numpy
    HAVE_NUMPY = True
except Exception:
    HAVE_NUMPY = False
try:
    import workbench
    workbench.run()
except Exception:
    import reporting
"""
    assert need(source) == {"ujson": "optional", "json": "optional", "fast": "optional", "strict": "required",
                            "fallback": "conditional", "contextlib": "required", "maybe": "optional",
                            "numpy": "optional", "workbench": "required", "reporting": "conditional"}


def test_the_function_an_import_sits_in() -> None:
    found = sites("import top\nclass App:\n    import in_class\n    def run(self):\n        import in_method\n"
                  "def main():\n    import in_main\n    def inner():\n        import nested\n")
    assert (found["top"].in_function, found["top"].function) == (False, "")
    assert (found["in_class"].in_function, found["in_class"].function) == (False, "")
    assert (found["in_method"].in_function, found["in_method"].function) == (True, "App.run")
    assert found["in_main"].function == "main" and found["nested"].function == "main.inner"


def test_computed_names_and_sys_path_changes() -> None:
    source = """import importlib as _importlib
import sys
sys.path.insert(0, "vendored")
API = "PySide6"
QtSvg = _importlib.import_module(API + ".QtSvg")
fixed = _importlib.import_module("json")
relative = _importlib.import_module(".plugins", __package__)
builtin = __import__(f"{API}.QtCore")
"""
    found = module_imports(source.encode(), "pkg.mod", False, LINUX, False)
    assert found is not None and found.extends_path
    assert [s.module for s in found.sites] == ["importlib", "sys", "json", "pkg.plugins"]
    assert [(c.line, c.constants) for c in found.computed] == [(5, (".QtSvg",)), (8, (".QtCore",))]
    assert found.computed[0].text == "_importlib.import_module(API + '.QtSvg')"


def test_code_that_does_not_parse_is_none() -> None:
    assert module_imports(b"def (:\n", "x", False, LINUX, False) is None
