"""The host runtime: a relocatable copy of the CPython that runs Kiln (Linux), cached between builds.

A copied interpreter keeps looking for libpython and the extension modules' libraries where it was built,
and silently loads another libpython from the system when that one is gone. So the copy gets RUNPATHs
relative to itself ($ORIGIN), and every shared library it needs beyond glibc travels with it.

The cached copy's record holds its key material (the interpreter's prefix, version and libpython's size and time)
and the digest of its tree; it is used only when the key computed from that record is the one it is filed under
and its tree is unchanged (kiln.support.cache_proof), else it is made again, with a warning.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lief

from kiln.runtimes.base import ProgressCallback, Runtime
from kiln.runtimes.cache import runtime_tree
from kiln.runtimes.prune import prune_stdlib
from kiln.support.atomic import atomic_path
from kiln.support.bytecode import compile_tree
from kiln.support.cache_proof import KEY, key_of, notice, record_problem
from kiln.support.errors import KilnError
from kiln.support.locks import build_once
from kiln.support.targets import Target
from kiln.support.tools import run

# Libraries that belong to glibc: always taken from the user's system, never bundled.
GLIBC_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1", "libresolv.so.2",
    "ld-linux-x86-64.so.2", "libanl.so.1", "libmvec.so.1", "linux-vdso.so.1", "libnss_files.so.2",
}
# Extension modules whose dependencies we do not want to carry (NIS) or that are CPython's own tests.
TOOL_WORKERS = 2
"""ldd and strip run once per library: two at a time."""
SKIPPED_EXTENSIONS = re.compile(r"^(nis|_test\w*|xxlimited\w*|_ctypes_test|_xxsubinterpreters|xxsubtype)\.")
# What _tkinter brings along: Tcl/Tk and the two small X extensions Tk uses. X11, fontconfig and freetype
# themselves come from the user's desktop (like every AppImage), as they must match its X server and fonts.
TK_LIBRARIES = re.compile(r"^lib(tcl|tk)\d[\d.]*\.so|^libX(ft|ss)\.so")
RUNTIME_FORMAT = 6  # bump when the layout this module produces changes, so old caches are not reused


def glibc_version() -> str:
    """The host's glibc version: a host runtime needs at least this on the user's machine."""
    text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    name, _, version = text.partition(" ")
    return version if name == "glibc" else "?"


class HostRuntimeProvider:
    """Provides the interpreter Kiln runs on (`sys.base_prefix`), relocated; only for its own version."""

    def __init__(self, prefix: Path | None = None) -> None:
        self.prefix = prefix or Path(sys.base_prefix)

    def provide(self, target: Target, version: str, cache_dir: Path, progress: ProgressCallback) -> Runtime:
        host_version = f"{sys.version_info.major}.{sys.version_info.minor}"
        if target.os != "linux":
            raise KilnError(
                f"the host Python can only be bundled for Linux, not {target.name}",
                hint="set [python] source = \"auto\" or \"download\" to use a downloaded runtime for this target",
            )
        if version != host_version:
            raise KilnError(
                f"[python] version is {version}, but the host Python is {host_version}",
                hint=f"set [python] version = \"{host_version}\", or source = \"download\" for Python {version}",
            )
        libpython = self.prefix / "lib" / f"libpython{version}.so.1.0"
        if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not libpython.exists():
            raise KilnError(
                f"the host Python at {self.prefix} is not a shared build (no {libpython.name})",
                hint="use a Python built with --enable-shared (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared), "
                "or set [python] source = \"download\"",
            )
        material = self._key_material(version)
        final = cache_dir / "runtimes" / "host" / f"{version}-{key_of(material, 16)}"
        problems: list[str] = []

        def complete(folder: Path) -> bool:
            if not folder.exists():
                return False
            problem = _proof_problem(folder)
            if problem is not None:
                problems.append(problem)
            return problem is None

        if complete(final):
            return self._runtime(final / "python", target, version, reused=True)
        progress(0.0, f"relocating host Python {sys.version.split()[0]}")
        warnings: list[str] = []

        def relocate(temp: Path) -> None:
            if problems:
                warnings.append(notice(f"relocated host Python ({final.name})", problems[-1], "relocating it again"))
            self._relocate(temp / "python", version, progress)
            record = {KEY: material, "tree": runtime_tree(temp / "python")}
            (temp / COMPLETE).write_text(json.dumps(record), encoding="utf-8")

        # Builds sharing the cache take turns on this entry (kiln.support.locks): each relocates into its own
        # temp folder, renamed into place; a build that waited reuses what the first one made.
        reused = build_once(final, complete, relocate)
        progress(1.0, "host Python relocated")
        return self._runtime(final / "python", target, version, reused=reused, warnings=tuple(warnings))

    def _key_material(self, version: str) -> dict[str, object]:
        """What the relocated copy is made from: this interpreter (its prefix, version and libpython's size and
        modification time) and the relocation's format."""
        libpython = self.prefix / "lib" / f"libpython{version}.so.1.0"
        stat = libpython.stat()
        return {"format": RUNTIME_FORMAT, "prefix": str(self.prefix), "python": sys.version,
                "libpython_size": stat.st_size, "libpython_mtime_ns": stat.st_mtime_ns}

    def _runtime(self, root: Path, target: Target, version: str, reused: bool,
                 warnings: tuple[str, ...] = ()) -> Runtime:
        return Runtime(
            root=root, target=target, version=version, full_version=sys.version.split()[0],
            source=f"host {self.prefix}", reused=reused,
            notes=(f"built from this machine's Python: needs glibc {glibc_version()} or newer on the user's machine",),
            warnings=warnings,
        )


    def _relocate(self, dest: Path, version: str, progress: ProgressCallback) -> None:
        src_lib = self.prefix / "lib"
        (dest / "bin").mkdir(parents=True)
        (dest / "lib").mkdir()
        shutil.copy2(self.prefix / "bin" / f"python{version}", dest / "bin" / f"python{version}")
        os.symlink(f"python{version}", dest / "bin" / "python3")
        shutil.copy2(src_lib / f"libpython{version}.so.1.0", dest / "lib" / f"libpython{version}.so.1.0")
        progress(0.1, "copying the standard library")
        stdlib = dest / "lib" / f"python{version}"
        shutil.copytree(
            src_lib / f"python{version}", stdlib, symlinks=True,
            ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc"),
        )
        (stdlib / "site-packages").mkdir()
        dynload = stdlib / "lib-dynload"
        for module in list(dynload.iterdir()):
            if SKIPPED_EXTENSIONS.match(module.name):
                module.unlink()
        prune_stdlib(stdlib)
        progress(0.4, "bundling shared libraries")
        elf_files = [dest / "bin" / f"python{version}", dest / "lib" / f"libpython{version}.so.1.0"]
        elf_files += sorted(m for m in dynload.glob("*.so") if not m.name.startswith("_tkinter."))
        bundled = bundle_libraries(elf_files, dest / "lib")
        tkinter_module = next(dynload.glob("_tkinter.*.so"), None)
        if tkinter_module is not None:
            bundled += bundle_tcl_tk(tkinter_module, dest / "lib", self.prefix / "bin" / f"python{version}")
            if tkinter_module.exists():
                elf_files.append(tkinter_module)
        progress(0.6, "stripping and patching RUNPATH")
        for path in [*elf_files, *bundled]:
            path.chmod(0o755)
        with ThreadPoolExecutor(TOOL_WORKERS) as pool:  # one short process a file: two at a time
            list(pool.map(lambda path: run(["strip", "--strip-unneeded", path], what=f"stripping {path.name}"),
                          [*elf_files, *bundled]))
        set_runpath(dest / "bin" / f"python{version}", "$ORIGIN/../lib")
        for library in [dest / "lib" / f"libpython{version}.so.1.0", *bundled]:
            set_runpath(library, "$ORIGIN")
        for module in dynload.glob("*.so"):
            set_runpath(module, "$ORIGIN/../..")
        progress(0.8, "compiling the standard library")
        # The stdlib ships as bytecode only: smaller, and nothing to re-validate at start-up.
        compile_tree(dest / "bin" / f"python{version}", stdlib, optimize=0, keep=False, workers=TOOL_WORKERS)


COMPLETE = ".kiln-complete"
"""The relocated copy's record, written last: its key material and the digest of its `python/` tree."""


def _proof_problem(folder: Path) -> str | None:
    """Why the relocated copy in `folder` (named `<3.X>-<key>`) is not its key's, or None when it is."""
    try:
        record = json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "its record cannot be read"
    problem = record_problem(record, folder.name.rpartition("-")[2])
    if problem is None and runtime_tree(folder / "python") != record.get("tree"):
        problem = "its files are not the ones its record describes (changed or replaced)"
    return problem


def needed_libraries(elf: Path) -> dict[str, Path]:
    """Shared libraries `elf` loads (transitively, as ldd resolves them), except glibc's."""
    output = run(["ldd", elf], what=f"listing the libraries of {elf.name}", check=False).stdout.decode()
    found: dict[str, Path] = {}
    for line in output.splitlines():
        match = re.match(r"\s*(\S+)\s+=>\s+(/\S+)", line)
        if match and match.group(1) not in GLIBC_LIBRARIES and not match.group(1).startswith("libpython"):
            found[match.group(1)] = Path(match.group(2))
        elif "not found" in line:
            raise KilnError(f"{elf.name} needs {line.split()[0]}, which is not installed on this machine")
    return found


def bundle_libraries(elf_files: list[Path], lib_dir: Path) -> list[Path]:
    """Copy every non-glibc library the given files need into lib_dir; returns the copies."""
    wanted: dict[str, Path] = {}
    with ThreadPoolExecutor(TOOL_WORKERS) as pool:
        for needed in pool.map(needed_libraries, elf_files):  # in the files' order, as one after the other
            wanted.update(needed)
    copies = []
    for soname, source in sorted(wanted.items()):
        target = lib_dir / soname
        if not target.exists():
            shutil.copy2(source.resolve(), target)
            copies.append(target)
    return copies


def bundle_tcl_tk(tkinter_module: Path, lib_dir: Path, host_python: Path) -> list[Path]:
    """Copy Tcl/Tk's libraries and their script folders (tcl8.6/, tk8.6/) beside libpython.

    Tcl looks for its scripts in ../lib/tclX.Y relative to the interpreter, and the bundle's _kiln_bundle.py
    points TCL_LIBRARY/TK_LIBRARY there. When this machine's Tcl/Tk is not usable, tkinter is left out.
    """
    libraries = {n: p for n, p in needed_libraries(tkinter_module).items() if TK_LIBRARIES.match(n)}
    probe = run([host_python, "-I", "-c", "import tkinter; print(tkinter.Tcl().eval('info library'))"],
                what="finding Tcl's script folder", check=False)
    tcl_scripts = Path(probe.stdout.decode(errors="replace").strip() or "/nonexistent")
    tk_scripts = tcl_scripts.parent / tcl_scripts.name.replace("tcl", "tk", 1)
    if probe.returncode != 0 or not (tcl_scripts / "init.tcl").is_file() or not (tk_scripts / "tk.tcl").is_file():
        tkinter_module.unlink()  # no usable Tcl/Tk here: an app importing tkinter gets a clear ImportError
        return []
    copies = []
    for soname, source in sorted(libraries.items()):
        if not (lib_dir / soname).exists():
            shutil.copy2(source.resolve(), lib_dir / soname)
            copies.append(lib_dir / soname)
    for scripts in (tcl_scripts, tk_scripts):
        shutil.copytree(scripts, lib_dir / scripts.name, symlinks=False)
    return copies


def set_runpath(path: Path, runpath: str) -> None:
    """Replace every RPATH/RUNPATH of an ELF file by one RUNPATH."""
    binary = lief.ELF.parse(str(path))
    if binary is None:
        raise KilnError(f"{path} is not an ELF file lief can read")
    for tag in (lief.ELF.DynamicEntry.TAG.RPATH, lief.ELF.DynamicEntry.TAG.RUNPATH):
        while binary.has(tag):
            binary.remove(tag)
    binary.add(lief.ELF.DynamicEntryRunPath(runpath))
    with atomic_path(path) as temp:  # keeps the file's mode
        binary.write(str(temp))


def runpath_of(path: Path) -> list[str]:
    """The RUNPATH entries of an ELF file (tests and `kiln inspect`)."""
    binary = lief.ELF.parse(str(path))
    if binary is None:
        return []
    entry = binary.get(lief.ELF.DynamicEntry.TAG.RUNPATH)
    return list(entry.paths) if isinstance(entry, lief.ELF.DynamicEntryRunPath) else []
