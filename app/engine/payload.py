"""The app payload: the user's files chosen by globs, dependencies cleaned up, the boot script, sizes."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from functools import lru_cache
from pathlib import Path, PurePosixPath

from kiln.model.project import EntrySection, SourceSection
from kiln.resources import resource_path
from kiln.source.companions import Companions, select_with_companions
from kiln.support.errors import KilnError

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
    return re.compile(out + r"\Z", re.DOTALL)  # `*` and `**` also match names holding a newline


def glob_match(relative: str, pattern: str) -> bool:
    return _glob_regex(pattern.strip("/")).match(relative) is not None


def select_files(root: Path, source: SourceSection) -> list[str]:
    """Relative POSIX paths of the files under root that the include/exclude globs select.

    The walk and the symlink policy live in kiln.source.source_tree (`kiln check` reports its problems)."""
    from kiln.source.source_tree import select_sources

    return select_sources(root, source).files


def copy_sources(root: Path, source: SourceSection, dest: Path) -> tuple[list[str], Companions]:
    """Copy the selected files, with what the app reads beside them (kiln.source.companions), into dest; returns
    the files and what was added beyond the globs. An empty selection is an error that names the globs."""
    selection, companions = select_with_companions(root, source)
    files = selection.files
    if not files:
        raise KilnError(
            f"source.include selects no files under {root} (patterns: {', '.join(source.include)})",
            hint="set [source] include to your package, e.g. include = [\"mypackage/**\"]",
        )
    for relative in files:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / relative, target)
    return files, companions


def copy_script(root: Path, script: str, dest: Path) -> None:
    """Copy one script (relative to root) into dest, for a project whose entry is a script file."""
    source = root / script
    if not source.is_file() or not source.resolve().is_relative_to(root.resolve()):
        raise KilnError(f"entry.script: '{script}' is not a file in {root}", hint="check the path (relative to "
                        "source.root)")
    target = dest / script
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


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


# Written into the bundle's copy of the runtime's site-packages, with a one-line .pth that imports it, so that
# EVERY start of the bundled interpreter gets the bundle's paths: the launcher's, and also the app's own
# `subprocess.run([sys.executable, "-m", ...])` and multiprocessing's spawn/forkserver children.
BUNDLE_SITE_MODULE = "_kiln_bundle"
BOOT_FILES = "boot"
"""Kiln's resources folder of the boot code: kiln_boot.py and _kiln_bundle.py, real modules (linted, type-checked)
copied into each bundle."""
_ENTRY_LINE = '    _run_module("ENTRY")  # the build writes the app\'s entry point in place of this line\n'


def _boot_file(name: str) -> str:
    path = resource_path(BOOT_FILES, name)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise KilnError(f"{name} is missing from this Kiln installation ({path}: {e.strerror})",
                        hint="reinstall Kiln") from None


def boot_script(entry: EntrySection) -> str:
    """The source of kiln_boot.py for an entry point; user strings only ever appear as Python literals."""
    if entry.script:
        run_code = f"_run_script({tuple(PurePosixPath(entry.script).parts)!r})"
    elif ":" in entry.module:
        module, function = entry.module.split(":", 1)
        run_code = f"_run_function({module!r}, {tuple(function.split('.'))!r})"
    else:
        run_code = f"_run_module({entry.module!r})"
    template = _boot_file("kiln_boot.py")
    if not template.endswith(_ENTRY_LINE):
        raise KilnError("kiln_boot.py of this Kiln installation does not end with its entry-point line",
                        hint="reinstall Kiln")
    return template.removesuffix(_ENTRY_LINE) + f"    {run_code}\n"


def runtime_site_packages(runtime: Path, target_os: str, python_version: str) -> Path:
    """The runtime's own site-packages folder (where the bundle's .pth goes)."""
    if target_os == "windows":
        return runtime / "Lib" / "site-packages"
    return runtime / "lib" / f"python{python_version}" / "site-packages"


def write_bundle_site(site_packages: Path) -> None:
    """Write _kiln_bundle.py and the .pth that imports it into the bundle's copy of the runtime.

    The runtime folder is hard-linked from Kiln's cache: these are new files, nothing linked is modified.
    """
    site_packages.mkdir(parents=True, exist_ok=True)
    (site_packages / f"{BUNDLE_SITE_MODULE}.py").write_text(_boot_file(f"{BUNDLE_SITE_MODULE}.py"), encoding="utf-8")
    (site_packages / "kiln-bundle.pth").write_text(f"import {BUNDLE_SITE_MODULE}\n", encoding="utf-8")


_TK_IMPORT = re.compile(
    rb"^[ \t]*(?:import|from)[ \t]+(?:_?tkinter|turtle)\b|import_module\(\s*[\"'](?:_?tkinter|turtle)", re.M
)


def imports_tkinter(tree: Path) -> str | None:
    """The first file under `tree` whose source imports tkinter (or turtle), or None: whether Tcl/Tk ships."""
    if not tree.is_dir():
        return None
    for path in sorted(tree.rglob("*.py")):
        try:
            if _TK_IMPORT.search(path.read_bytes()):
                return path.relative_to(tree).as_posix()
        except OSError:
            continue
    return None


def file_owners(packages: Path) -> dict[str, str]:
    """Every file under packages/ (a relative POSIX path) -> the distribution it belongs to (the name part of its
    .dist-info folder). Read before drop_install_records: it reads RECORD.

    A file belongs to the distribution whose RECORD lists it, so distributions sharing one folder (PySide6,
    PySide6_Essentials and PySide6_Addons all install into PySide6/) each get their own; files no RECORD lists
    (compiled bytecode, files written after install) go to the owner of their source file or top folder.
    """
    owner: dict[str, str] = {}
    owner_of_file: dict[str, str] = {}
    for dist_info in sorted(packages.glob("*.dist-info")):
        name = dist_info.name.split("-")[0]
        top_level = dist_info / "top_level.txt"
        names = top_level.read_text(encoding="utf-8").split() if top_level.exists() else []
        record = dist_info / "RECORD"
        if record.exists():
            for line in record.read_text(encoding="utf-8").splitlines():
                path = line.rsplit(",", 2)[0].strip('"')
                if path and not path.startswith(".."):
                    owner_of_file[path] = name
                    names.append(path.split("/")[0])
        for top in {n.removesuffix(".py") for n in names if n and not n.endswith(".dist-info")}:
            owner.setdefault(top, name)
        owner[dist_info.name] = name
    owners: dict[str, str] = {}
    for folder, _dirs, files in os.walk(packages):
        for file_name in files:
            relative = Path(folder, file_name).relative_to(packages).as_posix()
            owners[relative] = (owner_of_file.get(relative) or owner_of_file.get(_source_of(relative))
                                or _top_owner(relative, owner))
    return owners


def dependency_sizes(packages: Path, owners: dict[str, str] | None = None) -> dict[str, int]:
    """Bytes per installed distribution, for the report's size picture (`owners`: file_owners(packages))."""
    sizes: dict[str, int] = {}
    for relative, key in (owners if owners is not None else file_owners(packages)).items():
        with contextlib.suppress(OSError):
            sizes[key] = sizes.get(key, 0) + (packages / relative).lstat().st_size
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def _source_of(relative: str) -> str:
    """The .py a compiled file came from: pkg/mod.pyc and pkg/__pycache__/mod.cpython-311.pyc -> pkg/mod.py."""
    if not relative.endswith(".pyc"):
        return ""
    parts = relative.split("/")
    if len(parts) >= 2 and parts[-2] == "__pycache__":
        return "/".join([*parts[:-2], parts[-1].split(".")[0] + ".py"])
    return relative[:-1]


def _top_owner(relative: str, owner: dict[str, str]) -> str:
    top = relative.split("/")[0]
    key = owner.get(top.removesuffix(".py").removesuffix(".pyc"), owner.get(top, top))
    if top.endswith(".libs"):  # auditwheel's bundled libraries, e.g. numpy.libs
        key = owner.get(top.removesuffix(".libs"), key)
    return key
