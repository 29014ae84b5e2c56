"""Whether the entry point is there to run: among the files [source] selects (for `kiln check`), and importable
from the staged bundle (during the build, when a dependency may provide it). Files are read, never imported."""

from __future__ import annotations

import ast
from pathlib import Path

from kiln.model.project import EntrySection
from kiln.support import pyast
from kiln.support.errors import Problem


def entry_problems(entry: EntrySection, files: set[str], has_dependencies: bool = False) -> list[Problem]:
    """An entry module in the app's own files, or a script, must be among the shipped files.

    `files` are the relative POSIX paths that [source] selects (see select_files). A module whose top-level
    name is not among them may come from a dependency: with `has_dependencies` it is left to
    installed_entry_problems, which checks the staged bundle.
    """
    if entry.script:
        if entry.script in files:
            return []
        return [Problem("entry.script", f"'{entry.script}' is not among the files selected by [source]",
                        "check the path (relative to source.root) and source.include")]
    module = entry.module.split(":")[0]
    path = module.replace(".", "/")
    top = path.split("/")[0]
    if not any(f == f"{top}.py" or f.startswith(f"{top}/") for f in files) and has_dependencies:
        return []  # not the app's own code: a dependency may provide it (checked in the bundle after installing)
    if not {f"{path}.py", f"{path}/__init__.py", f"{path}/__main__.py"} & files:
        return [Problem("entry.module", f"module '{module}' is not among the files selected by [source]",
                        f"check the spelling, source.root, and that source.include covers {path}")]
    if ":" not in entry.module and f"{path}.py" not in files and f"{path}/__main__.py" not in files:
        return [Problem("entry.module", f"package '{module}' has no __main__.py to run",
                        f"name a function instead, e.g. module = \"{module}.cli:main\"")]
    return []


def installed_entry_problems(entry: EntrySection, app_dir: Path, packages: Path) -> list[Problem]:
    """The entry module must be importable from the bundle: the app's files or any installed distribution.

    Runs on the staged bundle before bytecode is compiled (sources are still there for the function check).
    A missing module names the distribution that provides its top-level package, or says none does.
    """
    if entry.script or not entry.module:
        return []
    module, _, function = entry.module.partition(":")
    parts = module.split(".")
    roots = [root for root in (app_dir, packages) if root.is_dir()]
    found = next((f for root in roots if (f := _module_file(root, parts)) is not None), None)
    if found is None:
        owner = next((o for root in roots if (o := _provider(root, parts[0])) is not None), None)
        if owner is not None:
            return [Problem("entry.module", f"module '{module}' is not in the bundle: {owner} provides '{parts[0]}' "
                            f"but has no '{module}'", "check the spelling of the module path")]
        return [Problem("entry.module", f"module '{module}' is not in the bundle: no installed distribution and "
                        f"none of the app's files provide '{parts[0]}'",
                        f"add the distribution that provides '{parts[0]}' to [dependencies] (or to the project's "
                        "dependencies), or fix the spelling")]
    if not function and found.name.startswith("__init__.") and \
            _module_file(found.parent.parent, [found.parent.name, "__main__"]) is None:
        return [Problem("entry.module", f"package '{module}' has no __main__.py to run",
                        f"name a function instead, e.g. module = \"{module}.cli:main\"")]
    if function and found.suffix == ".py" and not defines(found, function.split(".")[0]):
        return [Problem("entry.module", f"'{function.split('.')[0]}' is not defined in module '{module}' "
                        f"({found.name})", "check the function name after the ':'")]
    return []


def _module_file(root: Path, parts: list[str]) -> Path | None:
    """The file Python would import for `parts` under `root` (source, bytecode, extension or package)."""
    base = root.joinpath(*parts)
    for candidate in (base.with_name(parts[-1] + ".py"), base.with_name(parts[-1] + ".pyc"),
                      base / "__init__.py", base / "__init__.pyc"):
        if candidate.is_file():
            return candidate
    if base.parent.is_dir():
        for extension in sorted(base.parent.glob(f"{parts[-1]}.*")):
            if extension.suffix in {".so", ".pyd"}:
                return extension
    if base.is_dir() and any(base.iterdir()):
        return base / "__init__.py"  # a namespace package: importable, nothing to read
    return None


def _provider(packages: Path, top_level: str) -> str | None:
    """'name version' of the installed distribution whose files hold `top_level`, if any."""
    for dist_info in sorted(packages.glob("*.dist-info")):
        names: set[str] = set()
        top = dist_info / "top_level.txt"
        if top.is_file():
            names |= set(top.read_text(encoding="utf-8", errors="replace").split())
        record = dist_info / "RECORD"
        if record.is_file():
            names |= {line.split("/")[0].split(",")[0].removesuffix(".py")
                      for line in record.read_text(encoding="utf-8", errors="replace").splitlines()}
        if top_level in names:
            name, _, rest = dist_info.name.removesuffix(".dist-info").partition("-")
            return f"{name} {rest}".strip()
    return None


def defines(source: Path, name: str) -> bool:
    """True unless the module's source certainly binds no top-level `name` (star imports count as maybe)."""
    try:
        tree = pyast.parse(source.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return True
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*" or (alias.asname or alias.name.split(".")[0]) == name:
                    return True
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == name:
            return True
        if isinstance(node, ast.Global) and name in node.names:
            return True
    return False
