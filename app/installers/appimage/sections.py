"""Fixed-size sections of the AppImage runtime that Kiln fills in per AppImage (`.upd_info`, `.kiln_glibc`).

The runtime is compiled with each section zero-filled; Kiln writes a NUL-terminated text into it and readers
(`kiln inspect`, AppImageUpdate for `.upd_info`) find it through the ELF section table.
"""

from __future__ import annotations

import struct

from kiln.support.errors import KilnError

_ELF64_LE = b"\x7fELF\x02\x01"


def section_range(elf: bytes, name: str) -> tuple[int, int] | None:
    """(file offset, size) of section `name` in a 64-bit little-endian ELF file, or None if it has none."""
    if elf[:6] != _ELF64_LE or len(elf) < 64:
        return None
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    if not shoff or shentsize != 64 or shstrndx >= shnum or shoff + shnum * 64 > len(elf):
        return None
    headers = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * 64) for i in range(shnum)]
    names_offset = headers[shstrndx][4]
    wanted = name.encode()
    for header in headers:
        start = names_offset + header[0]
        if elf[start:start + len(wanted) + 1] == wanted + b"\0":
            offset, size = header[4], header[5]
            return (offset, size) if offset + size <= len(elf) else None
    return None


def fill(runtime: bytes, name: str, data: bytes, what: str, hint: str) -> bytes:
    """The runtime with `data` written into its zero-filled section `name` (`what` names it in errors; `hint`
    says how to shorten it)."""
    where = section_range(runtime, name)
    if where is None:
        raise KilnError(f"the AppImage runtime has no {name} section for {what}",
                        hint="use the runtime this Kiln ships (unset KILN_APPIMAGE_RUNTIME)")
    offset, size = where
    if len(data) >= size:
        raise KilnError(f"the {what} is {len(data)} bytes; the AppImage has room for {size - 1}", hint=hint)
    return runtime[:offset] + data.ljust(size, b"\0") + runtime[offset + size:]


def text(data: bytes, name: str) -> str:
    """The text in section `name` of an AppImage (or runtime) given as its first bytes: "" when empty or absent."""
    where = section_range(data, name)
    if where is None:
        return ""
    offset, size = where
    return data[offset:offset + size].split(b"\0", 1)[0].decode("utf-8", errors="replace")


def blank(runtime: bytes, *names: str) -> bytes:
    """The runtime with the named sections zeroed: what it was before Kiln filled them in."""
    for name in names:
        where = section_range(runtime, name)
        if where is not None:
            offset, size = where
            runtime = runtime[:offset] + bytes(size) + runtime[offset + size:]
    return runtime
