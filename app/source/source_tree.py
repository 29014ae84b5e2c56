"""Which files of the source folder ship, and the symbolic-link policy.

- A link that stays inside the source folder counts as what it points to, the same way for files and folders:
  a linked file ships as a copy of its target under the link's name, a linked folder is walked like a folder.
- A link that leaves the source folder (`pkg/passwd -> /etc/passwd`, `data -> ~/Documents`), a dangling link
  and a link loop are problems that name the link, when the include patterns select it; with
  `[source] allow_links_outside = true` links leaving the folder are followed like the others.
- Special files (FIFOs, sockets, devices) are problems when selected: copying a FIFO would block forever.
- Patterns are compiled once per selection into one regular expression each for include and exclude; `**` and
  `*` also match names holding a newline (DOTALL), so no file is kept by one pattern and dropped by another.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from kiln.model.project import SourceSection
from kiln.support.errors import Problem

MAX_FILES = 200_000
"""Files walked before Kiln stops: a source folder that big is almost surely the wrong folder."""


def pattern_regex(pattern: str) -> str:
    """A glob with `**` (any folders), `*` and `?` (within one name) as a regex on POSIX relative paths."""
    out, i = "", 0
    pattern = pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def compile_patterns(patterns: list[str]) -> re.Pattern[str]:
    """One regex matching a relative path when any of `patterns` does (never matches for no patterns)."""
    if not patterns:
        return re.compile(r"(?!)")
    return re.compile("|".join(f"(?:{pattern_regex(p)})" for p in patterns) + r"\Z", re.DOTALL)


@dataclass
class Selection:
    files: list[str] = field(default_factory=list)
    """Relative POSIX paths (through links that stay inside the folder) of the files that ship."""
    problems: list[Problem] = field(default_factory=list)


class _Walker:
    def __init__(self, root: Path, source: SourceSection) -> None:
        self.root = root
        self.real_root = root.resolve()
        self.include = compile_patterns(source.include)
        self.exclude = compile_patterns(source.exclude)
        self.allow_outside = getattr(source, "allow_links_outside", False)
        self.selection = Selection()
        self.count = 0

    def selected(self, relative: str) -> bool:
        return self.include.match(relative) is not None and self.exclude.match(relative) is None

    def could_select_below(self, relative: str) -> bool:
        """Whether a file somewhere in folder `relative` could be selected (for links we will not follow)."""
        return any(self.selected(f"{relative}/{probe}") for probe in ("__init__.py", "x", "x.txt"))

    def problem(self, relative: str, message: str, hint: str) -> None:
        self.selection.problems.append(Problem("source.include", f"'{relative}' {message}", hint))

    def inside(self, real: Path) -> bool:
        return real == self.real_root or self.real_root in real.parents

    def walk(self, folder: Path, relative: str, seen: frozenset[Path]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            self.problem(relative or ".", f"cannot be read ({e.strerror})", "fix its permissions or exclude it")
            return
        for entry in entries:
            self.count += 1
            if self.count > MAX_FILES:
                if self.count == MAX_FILES + 1:
                    self.selection.problems.append(Problem(
                        "source.root", f"holds more than {MAX_FILES} files", "point source.root at your app's folder"))
                return
            path = Path(entry.path)
            rel = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_symlink():
                self.link(path, rel, seen)
                continue
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                self.walk(path, rel, seen | {path.resolve()})
            elif stat.S_ISREG(mode):
                if self.selected(rel):
                    self.selection.files.append(rel)
            elif self.selected(rel):
                self.problem(rel, "is a special file (a FIFO, socket or device), not a regular file",
                             "exclude it in [source] exclude")

    def link(self, path: Path, rel: str, seen: frozenset[Path]) -> None:
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            if self.selected(rel) or self.could_select_below(rel):
                self.problem(rel, f"is a broken or looping symbolic link (-> {os.readlink(path)})",
                             "remove the link or exclude it in [source] exclude")
            return
        is_dir = real.is_dir()
        wanted = self.could_select_below(rel) if is_dir else self.selected(rel)
        if not wanted:
            return
        if not self.inside(real) and not self.allow_outside:
            self.problem(rel, f"is a symbolic link to {real}, outside the source folder",
                         "copy what it points to into the project, exclude the link, or set "
                         "[source] allow_links_outside = true")
            return
        if is_dir:
            if real in seen:
                self.problem(rel, f"is a symbolic link loop (-> {real})", "remove the link or exclude it")
                return
            self.walk(path, rel, seen | {real})
        elif real.is_file():
            self.selection.files.append(rel)
        else:
            self.problem(rel, "points to a special file (a FIFO, socket or device)", "exclude it")


def select_sources(root: Path, source: SourceSection) -> Selection:
    """The files of `root` that [source] selects, and the problems of the links and special files among them."""
    walker = _Walker(root, source)
    walker.walk(root, "", frozenset({walker.real_root}))
    return walker.selection
