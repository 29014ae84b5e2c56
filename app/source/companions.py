"""The folders and files beside an app's scripts that ship with them, although the include globs name only code.

A folder of scripts reads its pictures, sounds and levels from folders beside it (`assets/`, `data/`). `kiln new`
writes include globs for the code it finds; this module adds, for projects whose files are chosen by globs:

- **folders the code names**: a string constant in a shipped .py file (`"assets"`, `"data/levels.json"`,
  `"img/*.png"`) that names a file or folder of the source folder, resolved from the module's folder or the source
  root. The top folder holding it ships whole; a file at the top ships alone. Always on (for projects built by
  globs, whatever `include` says): what the code reads is never left behind.
- **every folder beside the scripts**, for a folder of scripts (no pyproject.toml / setup.py / setup.cfg) unless
  `[source] folders` lists the ones to ship: each top-level folder that is not hidden, not `tests/` or `test/`,
  and not a folder no app owns (caches, virtual environments, version control, build output: kiln.source.tree).

`[source] exclude` wins over both: an excluded path never ships.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from kiln.model.project import SourceSection
from kiln.source.app_wheel import is_python_project
from kiln.source.source_tree import Selection, select_sources
from kiln.source.tree import skipped_dir
from kiln.support import pyast

TEST_FOLDERS = frozenset({"tests", "test"})
_MAX_NAME = 255


@dataclass
class Companions:
    """What ships beside the scripts, and why."""

    folders: list[str] = field(default_factory=list)
    """Top-level folders shipped whole because they sit beside the scripts (or `[source] folders` lists them)."""
    named: dict[str, str] = field(default_factory=dict)
    """Top-level folders and files shipped because the code names them -> where (`main.py:12`)."""
    added: dict[str, int] = field(default_factory=dict)
    """Each folder or file above that brought files the globs did not select -> how many."""

    def patterns(self) -> list[str]:
        paths = sorted(set(self.folders) | set(self.named))
        return [p for path in paths for p in (path, f"{path}/**")]

    def beside(self) -> str:
        """The log line for folders shipped because they sit beside the scripts; empty when none brought files."""
        shipped = [f"{path}/ ({_files(count)})" for path, count in sorted(self.added.items()) if path not in self.named]
        if not shipped:
            return ""
        return (f"shipping the folders beside the scripts: {', '.join(shipped)}; [source] folders lists the ones to "
                "ship, [source] exclude leaves a path out")

    def named_warning(self) -> str:
        """The warning for paths the code names that the include globs left out; empty when none."""
        shipped = [f"{path} ({_files(count)}; {self.named[path]})" for path, count in sorted(self.added.items())
                   if path in self.named]
        if not shipped:
            return ""
        return (f"added what the app's code names but [source] include leaves out: {', '.join(shipped)}; add them "
                "to [source] include, or to [source] exclude if the app does not need them")

    def reasons(self) -> dict[str, str]:
        """Each added path -> why it ships (for the build report)."""
        return {path: f"named in {self.named[path]}" if path in self.named else "beside the scripts"
                for path in sorted(self.added)}


def _files(count: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}"


def select_with_companions(root: Path, source: SourceSection) -> tuple[Selection, Companions]:
    """[source]'s selection with the companions added (for projects whose files are chosen by globs)."""
    plain = select_sources(root, source)
    found = companions(root, source, plain.files)
    if not found.folders and not found.named:
        return plain, found
    widened = source.model_copy(update={"include": [*source.include, *found.patterns()]})
    selection = select_sources(root, widened)
    before = set(plain.files)
    for path in sorted(set(found.folders) | set(found.named)):
        count = sum(1 for f in selection.files if f not in before and (f == path or f.startswith(f"{path}/")))
        if count:
            found.added[path] = count
    return selection, found


def companions(root: Path, source: SourceSection, selected: list[str]) -> Companions:
    found = Companions()
    if source.folders is not None:
        found.folders = [f.strip("/") for f in source.folders if (root / f).is_dir()]
    elif not is_python_project(root):
        found.folders = [p.name for p in sorted(root.iterdir()) if p.is_dir() and _may_ship(p, root)]
    for relative in selected:
        if relative.endswith(".py"):
            for path, line in _named_paths(root, root / relative):
                found.named.setdefault(path, f"{relative}:{line}")
    for path in list(found.named):
        if path in selected or path in found.folders:
            del found.named[path]
    return found


def _may_ship(folder: Path, root: Path) -> bool:
    name = folder.name
    return not (name.startswith(".") or name in TEST_FOLDERS or skipped_dir(folder, root))


def _named_paths(root: Path, module: Path) -> list[tuple[str, int]]:
    """(top-level path under root, line) for each string constant of `module` that names an existing path."""
    try:
        tree = pyast.parse(module.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    real_root = root.resolve()
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        text = _path_text(node.value)
        if not text:
            continue
        for base in (module.parent, root):
            top = _top_level(root, real_root, base / text)
            if top is not None:
                found.append((top, node.lineno))
                break
    return found


def _path_text(value: str) -> str:
    """The literal path part of a string constant (before any wildcard), or "" when it cannot name a path."""
    if not value or len(value) > _MAX_NAME or any(c in value for c in "\n\r\0") or "://" in value:
        return ""
    text = value.replace("\\", "/")
    for wildcard in "*?[":
        text = text.split(wildcard, 1)[0]
    text = text.removeprefix("./").rstrip("/")
    if not text or text.startswith("/") or text in (".", ".."):
        return ""
    return text


def _top_level(root: Path, real_root: Path, candidate: Path) -> str | None:
    """The first part of `candidate` below root when it exists inside root and may ship; else None."""
    try:
        if not candidate.exists():
            return None
        real = candidate.resolve()
    except (OSError, RuntimeError):
        return None
    if real == real_root or real_root not in real.parents:
        return None
    parts = PurePosixPath(real.relative_to(real_root).as_posix()).parts
    top = root / parts[0]
    if len(parts) == 1 and top.is_file():
        return None if top.name.startswith(".") or top.suffix == ".py" else parts[0]
    return parts[0] if top.is_dir() and _may_ship(top, root) else None
