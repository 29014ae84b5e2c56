"""The glibc an AppImage's payload needs, found at build time and written into the runtime's `.kiln_glibc` section.

The runtime compares it with the host's glibc before starting the app and prints one clear line when the host's is
older (instead of the loader's "version `GLIBC_2.34' not found"). It used to read the version needs of every
library through the FUSE mount at each start, which cost about as much as starting Python; the build knows the
answer once and for all. The needs come from each 64-bit ELF file's SHT_GNU_verneed section ("GLIBC_2.N"
entries), the same data the loader checks.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from kiln.installers.appimage import sections

SECTION = ".kiln_glibc"
_ELF64_LE = b"\x7fELF\x02\x01"
_SHT_GNU_VERNEED = 0x6FFFFFFE
_MAX_SECTIONS = 4096


def elf_glibc_minor(path: Path) -> int:
    """The highest N of the GLIBC_2.N versions a 64-bit little-endian ELF file needs; 0 for none or not ELF."""
    try:
        with path.open("rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:6] != _ELF64_LE:
                return 0
            shoff, = struct.unpack_from("<Q", head, 0x28)
            shentsize, shnum = struct.unpack_from("<HH", head, 0x3A)
            file_size = os.fstat(f.fileno()).st_size
            if shentsize != 64 or not 0 < shnum <= _MAX_SECTIONS or shoff + 64 * shnum > file_size:
                return 0
            f.seek(shoff)
            table = f.read(64 * shnum)
            if len(table) < 64 * shnum:
                return 0
            headers = [struct.unpack_from("<IIQQQQIIQQ", table, 64 * i) for i in range(shnum)]
            best = 0
            for _name, kind, _flags, _addr, offset, size, link, _info, _align, _entsize in headers:
                if kind != _SHT_GNU_VERNEED or link >= shnum or size > 1 << 24 or offset + size > file_size:
                    continue
                f.seek(offset)
                needs = f.read(size)
                strings_offset, strings_size = headers[link][4], headers[link][5]
                if strings_offset > file_size:
                    continue
                f.seek(strings_offset)
                strings = f.read(min(strings_size, 1 << 26))
                best = max(best, _verneed_glibc(needs, strings))
            return best
    except OSError:
        return 0


def _verneed_glibc(needs: bytes, strings: bytes) -> int:
    """Walk Elf64_Verneed entries (version, count, file, aux, next) and their Vernaux (hash, flags, other, name,
    next) records; return the highest GLIBC_2.N minor named."""
    best, at = 0, 0
    for _ in range(_MAX_SECTIONS):
        if at + 16 > len(needs):
            break
        _version, count, _file, aux, following = struct.unpack_from("<HHIII", needs, at)
        entry = at + aux
        for _ in range(min(count, _MAX_SECTIONS)):
            if entry + 16 > len(needs):
                break
            _hash, _flags, _other, name, next_aux = struct.unpack_from("<IHHII", needs, entry)
            best = max(best, _glibc_minor(strings, name))
            if next_aux == 0:
                break
            entry += next_aux
        if following == 0:
            break
        at += following
    return best


def _glibc_minor(strings: bytes, offset: int) -> int:
    end = strings.find(b"\0", offset)
    name = strings[offset:end if end >= 0 else len(strings)]
    if not name.startswith(b"GLIBC_2."):
        return 0
    minor = name[len(b"GLIBC_2."):].split(b".", 1)[0]
    return int(minor) if minor.isdigit() else 0


def payload_glibc(root: Path) -> str | None:
    """'2.N' for the newest glibc any ELF file under `root` needs (interpreter, libraries, extension modules of the
    runtime and of every dependency), or None when none needs one."""
    best = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if not path.is_symlink() and path.is_file():
                best = max(best, elf_glibc_minor(path))
    return f"2.{best}" if best else None


def embed(runtime: bytes, version: str | None) -> bytes:
    """The runtime with `version` ('2.36') in its `.kiln_glibc` section (left empty, the runtime checks at start)."""
    return sections.fill(runtime, SECTION, (version or "").encode("ascii"), "glibc version the app needs",
                         "report this as a Kiln bug: the version is a few bytes")


def read(data: bytes) -> str:
    """The recorded version of an AppImage (or runtime) given as its first bytes: '' when empty or absent."""
    return sections.text(data, SECTION)
