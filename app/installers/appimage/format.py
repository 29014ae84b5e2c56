"""AppImage type-2 file format helpers: payload offset, detection, runtime lookup, squashfs payload, assembly.

A type-2 AppImage is an ELF runtime with b"AI\\x02" at file offset 8, followed directly by a squashfs
image. The squashfs starts where the ELF ends; `elf_end_offset` computes that exactly like Kiln's runtime
(resources/launchers/appimage/elf.c) does, so both always agree.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from kiln.support.atomic import atomic_path
from kiln.support.errors import KilnError
from kiln.support.prebuilt import prebuilt_launcher
from kiln.support.progress import mksquashfs_fraction, run_with_progress
from kiln.support.tools import run

APPIMAGE_MAGIC = b"AI\x02"
APPIMAGE_MAGIC_OFFSET = 8
SQUASHFS_MAGIC = b"hsqs"
RUNTIME_NAME = "runtime-x86_64"
RUNTIME_ENV = "KILN_APPIMAGE_RUNTIME"

_ELF_MAGIC = b"\x7fELF"
_SHT_NOBITS = 8
# Reproducible payload: fixed owner and timestamps, no build-machine xattrs (e.g. SELinux labels).
_MKSQUASHFS_FLAGS = [
    "-comp",
    "zstd",
    "-root-owned",
    "-noappend",
    "-all-time",
    "0",
    "-mkfs-time",
    "0",
    "-no-xattrs",
    "-no-progress",
    "-quiet",
]


class AppImageFormatError(KilnError):
    """A file is not a usable ELF runtime or AppImage."""


Reader = Callable[[int, int], bytes]


def _unpack(read: Reader, fmt: str, offset: int) -> tuple[int, ...]:
    raw = read(offset, struct.calcsize(fmt))
    if len(raw) < struct.calcsize(fmt):
        raise AppImageFormatError("truncated ELF header tables")
    return struct.unpack(fmt, raw)


def _elf_end(read: Reader, size: int) -> int:
    """Largest of: ELF header, program/section header table ends, segment file ends, non-NOBITS section ends."""
    ident = read(0, 16)
    if len(ident) < 16 or ident[:4] != _ELF_MAGIC or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise AppImageFormatError("not an ELF file")
    is64 = ident[4] == 2
    order = "<" if ident[5] == 1 else ">"
    if is64:
        ehdr_fmt, phdr_fmt, shdr_fmt = "16xHHIQQQIHHHHHH", "IIQQQQQQ", "IIQQQQIIQQ"
    else:
        ehdr_fmt, phdr_fmt, shdr_fmt = "16xHHIIIIIHHHHHH", "IIIIIIII", "IIIIIIIIII"
    ehdr_size = struct.calcsize(order + ehdr_fmt)
    _type, _machine, _version, _entry, phoff, shoff, _flags, _ehsize, phentsize, phnum, shentsize, shnum, _ = _unpack(
        read, order + ehdr_fmt, 0
    )
    end = max(ehdr_size, phoff + phnum * phentsize, shoff + shnum * shentsize)
    if end > size:
        raise AppImageFormatError("ELF header tables point past the end of the file (truncated?)")
    for i in range(phnum):
        fields = _unpack(read, order + phdr_fmt, phoff + i * phentsize)
        # 64-bit: type, flags, offset, vaddr, paddr, filesz, ...; 32-bit: type, offset, vaddr, paddr, filesz, ...
        offset, filesz = (fields[2], fields[5]) if is64 else (fields[1], fields[4])
        end = max(end, offset + filesz)
    for i in range(shnum):
        fields = _unpack(read, order + shdr_fmt, shoff + i * shentsize)
        sh_type = fields[1]
        offset, sh_size = fields[4], fields[5]  # same positions in both classes
        if sh_type != _SHT_NOBITS:
            end = max(end, offset + sh_size)
    if end > size:
        raise AppImageFormatError("ELF sections or segments extend past the end of the file (truncated?)")
    return end


def elf_end_offset(data_or_path: bytes | bytearray | memoryview | str | os.PathLike[str]) -> int:
    """Byte offset where the ELF file ends, i.e. where an AppImage's squashfs payload starts.

    Accepts the file's bytes or a path (only the headers are read). Raises AppImageFormatError for
    non-ELF or truncated input.
    """
    if isinstance(data_or_path, bytes | bytearray | memoryview):
        data = bytes(data_or_path)
        return _elf_end(lambda offset, size: data[offset : offset + size], len(data))
    path = Path(data_or_path)
    try:
        with path.open("rb") as f:

            def read(offset: int, size: int) -> bytes:
                f.seek(offset)
                return f.read(size)

            return _elf_end(read, path.stat().st_size)
    except OSError as e:
        raise AppImageFormatError(f"cannot read {path}: {e.strerror}") from e
    except AppImageFormatError as e:
        raise AppImageFormatError(f"{path}: {e.message}") from e


def is_type2_appimage(path: str | os.PathLike[str]) -> bool:
    """True for a complete type-2 AppImage: ELF with the AI\\x02 magic and a squashfs right after the ELF."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            if head[:4] != _ELF_MAGIC or head[APPIMAGE_MAGIC_OFFSET : APPIMAGE_MAGIC_OFFSET + 3] != APPIMAGE_MAGIC:
                return False
            f.seek(elf_end_offset(path))
            return f.read(4) == SQUASHFS_MAGIC
    except (OSError, AppImageFormatError):
        return False


def runtime_path() -> Path:
    """The prebuilt runtime shipped in resources/launchers/appimage/ (built by build.py there), or the build
    KILN_APPIMAGE_RUNTIME names."""
    return prebuilt_launcher("appimage", RUNTIME_NAME, RUNTIME_ENV)


def make_squashfs(appdir: Path, out: Path, progress: Callable[[float], None] | None = None) -> None:
    """Pack `appdir` into a reproducible zstd squashfs at `out` (replaced if present); `progress` gets the
    fraction of blocks written, read from mksquashfs's own progress bar."""
    if not (appdir / "AppRun").exists():
        raise KilnError(f"{appdir} has no AppRun, so it cannot become an AppImage")
    out.parent.mkdir(parents=True, exist_ok=True)
    if progress is None:
        run(["mksquashfs", appdir, out, *_MKSQUASHFS_FLAGS], what="creating the AppImage payload")
        return
    flags = [f for f in _MKSQUASHFS_FLAGS if f != "-no-progress"]  # the bar is display only: same bytes
    run_with_progress(["mksquashfs", appdir, out, *flags], mksquashfs_fraction, progress,
                      what="creating the AppImage payload")


def append_squashfs(tree: Path, image: Path) -> None:
    """Add the entries of `tree` to the root of the squashfs `image` (mksquashfs's append mode).

    The image keeps its data blocks and compressor settings; mksquashfs rewrites only its tables. The root must
    not already hold a name of `tree` (mksquashfs would rename the new one). The same flags as a new image, less
    -noappend: options mksquashfs ignores when appending (-comp, -b, -X...) do no harm, and times, owners and
    xattrs stay fixed. -no-recovery: no recovery file in the user's home folder.
    """
    flags = [f for f in _MKSQUASHFS_FLAGS if f != "-noappend"]
    run(["mksquashfs", tree, image, *flags, "-no-recovery"], what="adding the app to the AppImage payload")


@lru_cache(maxsize=1)
def squashfs_settings() -> dict[str, object]:
    """What decides the bytes mksquashfs writes for a given tree: its version and the flags (a cache key part)."""
    version = run(["mksquashfs", "-version"], what="asking mksquashfs for its version").stdout.decode(
        errors="replace").splitlines()
    return {"mksquashfs": version[0] if version else "", "flags": list(_MKSQUASHFS_FLAGS)}


def assemble(runtime: Path, squashfs: Path, out: Path) -> None:
    """Write runtime + squashfs to `out` atomically (temp file in the same folder, chmod 0755, rename)."""
    runtime_bytes = runtime.read_bytes()
    magic = runtime_bytes[APPIMAGE_MAGIC_OFFSET : APPIMAGE_MAGIC_OFFSET + 3]
    if runtime_bytes[:4] != _ELF_MAGIC or magic != APPIMAGE_MAGIC:
        raise AppImageFormatError(f"{runtime} is not an AppImage type-2 runtime (no AI\\x02 magic)")
    if elf_end_offset(runtime_bytes) != len(runtime_bytes):
        # Anything after the ELF would shift the payload away from where the runtime looks for it.
        raise AppImageFormatError(f"{runtime} has data appended after its ELF image; use the bare runtime")
    with squashfs.open("rb") as f:
        if f.read(4) != SQUASHFS_MAGIC:
            raise AppImageFormatError(f"{squashfs} is not a squashfs image")
    with atomic_path(out, mode=0o755) as tmp, tmp.open("wb") as dst:
        dst.write(runtime_bytes)
        with squashfs.open("rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
