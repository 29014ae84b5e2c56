"""Whether an entry point's module is missing from the app's own files (for a typed entry, like detection does).

A Python project's entry is checked against the installed bundle during the build, because its module may come
from a dependency. One case is certain before any build: the module's top-level package is the project's own
(in its folder or src/), but the module is not in it, or its source does not define the function — a typo the
user should hear about at once.
"""

from __future__ import annotations

from pathlib import Path

from kiln.source.entry_checks import defines


def missing_in_project(folder: Path, module: str) -> bool:
    """True when `module` (`pkg.mod` or `pkg.mod:func`) belongs to the project in `folder` but does not exist."""
    parts = module.split(":")[0].strip().split(".")
    if not parts or not all(part.isidentifier() for part in parts):
        return False  # malformed: the model's own check says so
    for base in (folder, folder / "src"):
        top = base / parts[0]
        if top.is_dir() or top.with_suffix(".py").is_file():
            target = base.joinpath(*parts)
            return not (target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()
                        or (len(parts) == 1 and top.is_dir()))
    return False


def missing_function(folder: Path, module: str) -> str | None:
    """The function of `module` (`pkg.mod:func`) that the project's own source of `pkg.mod` certainly does not define
    (read with ast, never run), or None: found, maybe bound (a star import), or not the project's module."""
    name, _, function = module.strip().partition(":")
    parts = name.split(".")
    if not function or not all(part.isidentifier() for part in parts):
        return None
    for base in (folder, folder / "src"):
        target = base.joinpath(*parts)
        for source in (target.with_suffix(".py"), target / "__init__.py"):
            if source.is_file():
                first = function.split(".")[0]
                return None if defines(source, first) else first
    return None
