"""Compiling a tree to bytecode with the target's own interpreter (bytecode is version-specific)."""

from __future__ import annotations

import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.support.tools import run

# Runs inside the target interpreter. Unchecked-hash pycs are byte-reproducible and never re-validated
# against sources, which matters on read-only media (squashfs) where stale pycs could never be rewritten.
# -B: the compiling interpreter must not leave timestamped __pycache__ files of its own imports behind
# (-I makes it ignore PYTHONDONTWRITEBYTECODE).
_COMPILE_SCRIPT = r"""
import json, os, py_compile, sys
root, optimize, keep = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
drop_sources, listing = sys.argv[4] == "1", sys.argv[5] == "1"
shard, shards = (int(n) for n in sys.argv[6].split("/"))
failed, pairs = [], []
index = -1
for folder, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(files):
        if not name.endswith(".py"):
            continue
        index += 1
        if index % shards != shard:
            continue
        source = os.path.join(folder, name)
        relative = os.path.relpath(source, root)
        kept = keep is True or (isinstance(keep, list) and relative.split(os.sep)[0] in keep)
        target = None if kept else source + "c"
        try:
            written = py_compile.compile(source, cfile=target, dfile=relative, optimize=optimize, doraise=True,
                                         invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        except (py_compile.PyCompileError, SyntaxError, ValueError, UnicodeDecodeError):
            failed.append((index, relative))  # e.g. templates or Python 2 files shipped as data: kept as they are
            continue
        pairs.append((index, relative, os.path.relpath(written, root)))
        if drop_sources and not kept:
            os.remove(source)
print(json.dumps({"pairs": pairs if listing else [], "failed": failed}))
"""

Keep = bool | frozenset[str]
"""Which sources stay beside their bytecode: all (True), none (False), or those below these top-level names (the
first part of the path relative to the compiled tree: a package folder or a module file)."""


def keeps(keep: Keep, relative: str) -> bool:
    """Whether the source at `relative` (POSIX, below the compiled tree) stays under `keep`."""
    return keep is True or (not isinstance(keep, bool) and relative.split("/", 1)[0] in keep)


def compile_tree(python: Path | None, root: Path, optimize: int, keep: Keep, workers: int = 1) -> list[str]:
    """Compile every .py below `root`: a source `keep` names gets its bytecode in __pycache__ and stays, any other
    is replaced by a sourceless .pyc beside it.

    `python` is the target interpreter when it runs here; None means "the running Python" (only correct
    when it has the target's version). Returns the files that could not be compiled (kept as sources).
    `workers` interpreters share the files (every other one each, for two): the same bytes, sooner for a large
    tree such as the standard library.
    """
    return _run(python, root, optimize, keep, drop_sources=True, listing=False, workers=workers).failed


@dataclass
class Compiled:
    """What `precompile_tree` did: (source, bytecode) pairs relative to the root, the files that failed, and which
    sources it compiled to stay."""

    pairs: list[tuple[str, str]]
    failed: list[str]
    keep: Keep = False
    reasons: dict[str, str] = field(default_factory=dict)
    """Why each kept name keeps its sources (set by the caller that chose `keep`)."""


def precompile_tree(python: Path | None, root: Path, optimize: int, keep: Keep) -> Compiled:
    """Write the bytecode compile_tree would write, but leave every source in place (`finish_tree` removes them).

    For a tree compiled once and reused by many builds (the installed dependencies in Kiln's cache): the checks
    that read sources still can, and each build drops the sources after them, as compile_tree would have.
    """
    return _run(python, root, optimize, keep, drop_sources=False, listing=True)


def finish_tree(root: Path, compiled: Compiled) -> None:
    """Turn a precompiled tree into what compile_tree makes: the compiled sources `compiled.keep` does not keep go;
    the bytecode of a source removed since (e.g. by Qt pruning) goes too, as it would never have been written."""
    for source, bytecode in compiled.pairs:
        if (root / source).exists():
            if not keeps(compiled.keep, source):
                (root / source).unlink()
        else:
            (root / bytecode).unlink(missing_ok=True)
            folder = (root / bytecode).parent
            if folder.name == "__pycache__" and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()  # compiling in the bundle would not have made it


def keep_to_json(keep: Keep) -> str:
    return json.dumps(keep if isinstance(keep, bool) else sorted(keep))


def keep_from_json(text: str) -> Keep:
    value = json.loads(text)
    return value if isinstance(value, bool) else frozenset(str(v) for v in value)


def _run(python: Path | None, root: Path, optimize: int, keep: Keep, *, drop_sources: bool,
         listing: bool, workers: int = 1) -> Compiled:
    interpreter = str(python) if python is not None else sys.executable
    # Shards number the files of one walk: none may remove a source while another walks, so with several the
    # compiled sources are removed here, once all are done.
    drop_here = drop_sources and workers > 1

    def shard(number: int) -> dict[str, list[list[Any]]]:
        result = run(
            [interpreter, "-I", "-B", "-c", _COMPILE_SCRIPT, str(root), str(optimize), keep_to_json(keep),
             "1" if drop_sources and not drop_here else "0", "1" if listing or drop_here else "0",
             f"{number}/{workers}"],
            what=f"compiling {root.name} to bytecode",
        )
        data: dict[str, list[list[Any]]] = json.loads(result.stdout.decode().splitlines()[-1])
        return data

    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(shard, range(workers)))
    # In the order of one interpreter walking the whole tree, whichever shard compiled a file.
    pairs = sorted((item for part in parts for item in part["pairs"]), key=lambda item: int(item[0]))
    failed = sorted((item for part in parts for item in part["failed"]), key=lambda item: int(item[0]))
    if drop_here:
        for _index, source, _bytecode in pairs:
            if not keeps(keep, str(source)):
                (root / str(source)).unlink()
    return Compiled([(str(source), str(bytecode)) for _i, source, bytecode in pairs],
                    [str(relative) for _i, relative in failed], keep)


def script_digest() -> str:
    """Changes whenever the compile script does (a part of the key of cached compiled trees)."""
    return hashlib.sha256(_COMPILE_SCRIPT.encode()).hexdigest()[:16]
