"""Whether an entry point's module is missing from the app's own files (for a typed entry, like detection does).

A Python project's entry is checked against the installed bundle during the build, because its module may come
from a dependency. One case is certain before any build: the module's top-level package is the project's own
(in its folder or src/), but the module is not in it — a typo the user should hear about at once.
"""

from __future__ import annotations

from pathlib import Path


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
