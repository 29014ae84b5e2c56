"""The app payload: the user's files chosen by globs, dependencies cleaned up, the boot script, sizes."""

from __future__ import annotations

import os
import re
import shutil
from functools import lru_cache
from pathlib import Path

from kiln.model.errors import KilnError, Problem
from kiln.model.project import EntrySection, SourceSection

# Files pip leaves in *.dist-info that nothing reads at run time (importlib.metadata needs METADATA only).
_DIST_INFO_CLUTTER = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob with `**` (any folders), `*` and `?` (within one name) as a regex on POSIX relative paths."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def glob_match(relative: str, pattern: str) -> bool:
    return _glob_regex(pattern.strip("/")).match(relative) is not None


def select_files(root: Path, source: SourceSection) -> list[str]:
    """Relative POSIX paths of the files under root that the include/exclude globs select."""
    selected = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            relative = Path(folder, name).relative_to(root).as_posix()
            if any(glob_match(relative, p) for p in source.include) and not any(
                glob_match(relative, p) for p in source.exclude
            ):
                selected.append(relative)
    return selected


def copy_sources(root: Path, source: SourceSection, dest: Path) -> list[str]:
    """Copy the selected files into dest; an empty selection is an error that names the globs."""
    files = select_files(root, source)
    if not files:
        raise KilnError(
            f"source.include selects no files under {root} (patterns: {', '.join(source.include)})",
            hint="set [source] include to your package, e.g. include = [\"mypackage/**\"]",
        )
    for relative in files:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / relative, target)
    return files


def entry_problems(entry: EntrySection, files: set[str]) -> list[Problem]:
    """The entry module or script must be among the shipped files (a typo here fails at the user's desk).

    `files` are the relative POSIX paths that [source] selects (see select_files).
    """
    if entry.script:
        if entry.script in files:
            return []
        return [Problem("entry.script", f"'{entry.script}' is not among the files selected by [source]",
                        "check the path (relative to source.root) and source.include")]
    module = entry.module.split(":")[0]
    path = module.replace(".", "/")
    if not {f"{path}.py", f"{path}/__init__.py", f"{path}/__main__.py"} & files:
        return [Problem("entry.module", f"module '{module}' is not among the files selected by [source]",
                        f"check the spelling, source.root, and that source.include covers {path}")]
    if ":" not in entry.module and f"{path}.py" not in files and f"{path}/__main__.py" not in files:
        return [Problem("entry.module", f"package '{module}' has no __main__.py to run",
                        f"name a function instead, e.g. module = \"{module}.cli:main\"")]
    return []


def remove_unshipped(packages: Path) -> None:
    """Drop what pip leaves that an installed app never uses: scripts bound to the build machine, stray caches.

    Runs before bytecode is compiled, so the __pycache__ folders that keep_sources builds ship survive.
    """
    shutil.rmtree(packages / "bin", ignore_errors=True)
    for cache in list(packages.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)


def drop_install_records(packages: Path) -> None:
    """Drop pip's bookkeeping in *.dist-info (RECORD & co.); runs after dependency_sizes, which reads RECORD."""
    for dist_info in packages.glob("*.dist-info"):
        for name in _DIST_INFO_CLUTTER:
            (dist_info / name).unlink(missing_ok=True)


BOOT_TEMPLATE = '''\
"""Written by Kiln: puts the app and its dependencies on sys.path, then runs the entry point."""
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_here, "app"))
import site  # noqa: E402

site.addsitedir(os.path.join(_here, "packages"))
sys.argv[0] = os.environ.pop("KILN_ARGV0", None) or sys.argv[0]
if sys.platform == "win32":
    # sys.executable is the app's launcher there; child processes need the real interpreter.
    import multiprocessing  # noqa: E402

    multiprocessing.set_executable(os.path.join(_here, "runtime", "python.exe"))
{run}
'''

_RUN_FUNCTION = '''\
import importlib  # noqa: E402

_target = importlib.import_module({module!r})
for _name in {attrs!r}:
    _target = getattr(_target, _name)
sys.exit(_target())'''

_RUN_MODULE = '''\
import runpy  # noqa: E402

runpy.run_module({module!r}, run_name="__main__", alter_sys=True)'''

_RUN_SCRIPT = '''\
import runpy  # noqa: E402

_script = os.path.join(_here, "app", *{parts!r})
if not os.path.exists(_script):
    _script += "c"  # shipped as bytecode only
sys.path.insert(0, os.path.dirname(_script))
sys.argv[0] = os.environ.get("ARGV0") or sys.argv[0]
runpy.run_path(_script, run_name="__main__")'''


def boot_script(entry: EntrySection) -> str:
    """The source of kiln_boot.py for an entry point; user strings only ever appear as Python literals."""
    if entry.script:
        run_code = _RUN_SCRIPT.format(parts=tuple(Path(entry.script).parts))
    elif ":" in entry.module:
        module, function = entry.module.split(":", 1)
        run_code = _RUN_FUNCTION.format(module=module, attrs=tuple(function.split(".")))
    else:
        run_code = _RUN_MODULE.format(module=entry.module)
    return BOOT_TEMPLATE.format(run=run_code)


def tree_size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def dependency_sizes(packages: Path) -> dict[str, int]:
    """Bytes per installed distribution (by its top-level names), for the report's size picture."""
    owner: dict[str, str] = {}
    for dist_info in sorted(packages.glob("*.dist-info")):
        name = dist_info.name.split("-")[0]
        top_level = dist_info / "top_level.txt"
        names = top_level.read_text(encoding="utf-8").split() if top_level.exists() else []
        record = dist_info / "RECORD"
        if record.exists():
            names += [line.split("/")[0].split(",")[0] for line in record.read_text(encoding="utf-8").splitlines()]
        for top in {n.removesuffix(".py") for n in names if n and not n.endswith(".dist-info")}:
            owner.setdefault(top, name)
        owner[dist_info.name] = name
    sizes: dict[str, int] = {}
    for entry in packages.iterdir():
        key = owner.get(entry.name.removesuffix(".py").removesuffix(".pyc"), owner.get(entry.name, entry.name))
        if entry.name.endswith(".libs"):  # auditwheel's bundled libraries, e.g. numpy.libs
            key = owner.get(entry.name.removesuffix(".libs"), key)
        sizes[key] = sizes.get(key, 0) + tree_size(entry)
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))
