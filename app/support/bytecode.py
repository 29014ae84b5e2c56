"""Compiling a tree to bytecode with the target's own interpreter (bytecode is version-specific)."""

from __future__ import annotations

import sys
from pathlib import Path

from kiln.support.tools import run

# Runs inside the target interpreter. Unchecked-hash pycs are byte-reproducible and never re-validated
# against sources, which matters on read-only media (squashfs) where stale pycs could never be rewritten.
# -B: the compiling interpreter must not leave timestamped __pycache__ files of its own imports behind
# (-I makes it ignore PYTHONDONTWRITEBYTECODE).
_COMPILE_SCRIPT = r"""
import os, py_compile, sys
root, optimize, keep_sources = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
failed = []
for folder, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(files):
        if not name.endswith(".py"):
            continue
        source = os.path.join(folder, name)
        relative = os.path.relpath(source, root)
        target = None if keep_sources else source + "c"
        try:
            py_compile.compile(source, cfile=target, dfile=relative, optimize=optimize, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        except (py_compile.PyCompileError, SyntaxError, ValueError, UnicodeDecodeError):
            failed.append(relative)  # e.g. templates or Python 2 files shipped as data: keep them as they are
            continue
        if not keep_sources:
            os.remove(source)
for relative in failed:
    print(relative)
"""


def compile_tree(python: Path | None, root: Path, optimize: int, keep_sources: bool) -> list[str]:
    """Compile every .py below `root`; without keep_sources, replace each by a sourceless .pyc beside it.

    `python` is the target interpreter when it runs here; None means "the running Python" (only correct
    when it has the target's version). Returns the files that could not be compiled (kept as sources).
    """
    interpreter = str(python) if python is not None else sys.executable
    result = run(
        [interpreter, "-I", "-B", "-c", _COMPILE_SCRIPT, str(root), str(optimize), "1" if keep_sources else "0"],
        what=f"compiling {root.name} to bytecode",
    )
    return [line for line in result.stdout.decode().splitlines() if line]
