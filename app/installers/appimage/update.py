"""AppImage updates: the update information in the runtime's `.upd_info` section and the `.zsync` file beside it.

The AppImage specification puts one line of text into a 1024-byte ELF section of the runtime; AppImageUpdate and
appimageupdatetool read it from the file (and Kiln's runtime prints it for `--appimage-updateinformation`):
`zsync|<URL of the .zsync file>` or `gh-releases-zsync|<user>|<repo>|<tag>|<file pattern>.zsync`. The `.zsync`
file (Debian `zsync`'s zsyncmake) lists block checksums of the new AppImage, so an updater fetches only the
blocks the old one lacks.
"""

from __future__ import annotations

import struct
from pathlib import Path

from kiln.model.errors import KilnError
from kiln.support.tools import run

SECTION = ".upd_info"
TRANSPORTS = ("zsync|", "gh-releases-zsync|", "pling-v1-zsync|")
"""Update-information kinds AppImageUpdate understands; each points at a .zsync file."""

_ELF64_LE = b"\x7fELF\x02\x01"


def check_update_url(value: str) -> str:
    """An http(s) URL without spaces or control characters, or empty."""
    if value and (not value.startswith(("https://", "http://")) or any(c.isspace() or not c.isprintable()
                                                                        for c in value) or "|" in value):
        raise ValueError("use an http:// or https:// folder URL without spaces or '|', "
                         "e.g. https://example.org/downloads/")
    return value


def check_update_information(value: str) -> str:
    """One printable line starting with an update transport AppImageUpdate knows, or empty."""
    if value and not value.startswith(TRANSPORTS):
        raise ValueError(f"start it with one of {', '.join(TRANSPORTS)} "
                         "(e.g. gh-releases-zsync|user|repo|latest|App-*x86_64.AppImage.zsync)")
    if any(not c.isprintable() for c in value):
        raise ValueError("use one line of printable text")
    if len(value.encode()) > 1023:
        raise ValueError("it must fit in 1023 bytes (the AppImage's .upd_info section)")
    return value


def update_information(update_url: str, verbatim: str, artifact_name: str) -> str:
    """The text to embed: `verbatim` as given, else `zsync|<update_url>/<artifact>.zsync`, else "" (no updates)."""
    if verbatim:
        return verbatim
    if update_url:
        return f"zsync|{update_url.rstrip('/')}/{artifact_name}.zsync"
    return ""


def section_range(elf: bytes, name: str = SECTION) -> tuple[int, int] | None:
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


def embed(runtime: bytes, text: str) -> bytes:
    """The runtime with `text` written into its zero-filled `.upd_info` section."""
    where = section_range(runtime)
    if where is None:
        raise KilnError(f"the AppImage runtime has no {SECTION} section for update information",
                        hint="use the runtime this Kiln ships (unset KILN_APPIMAGE_RUNTIME)")
    offset, size = where
    data = text.encode("utf-8")
    if len(data) >= size:
        raise KilnError(f"the update information is {len(data)} bytes; the AppImage has room for {size - 1}",
                        hint="shorten update_url or update_information in the appimage [[installer]]")
    patched = bytearray(runtime)
    patched[offset:offset + size] = data.ljust(size, b"\0")
    return bytes(patched)


def read(data: bytes) -> str:
    """The update information of an AppImage (or runtime) given as its first bytes: "" when empty or absent."""
    where = section_range(data)
    if where is None:
        return ""
    offset, size = where
    return data[offset:offset + size].split(b"\0", 1)[0].decode("utf-8", errors="replace")


def blank(runtime: bytes) -> bytes:
    """The runtime with its update information zeroed: what it was before Kiln filled it in."""
    where = section_range(runtime)
    if where is None:
        return runtime
    offset, size = where
    return runtime[:offset] + bytes(size) + runtime[offset + size:]


def zsyncmake_argv(appimage: Path, out: Path) -> list[str]:
    """zsyncmake for `appimage`: the target URL is its file name, relative to wherever the .zsync is served from."""
    return ["zsyncmake", "-u", appimage.name, "-f", appimage.name, "-o", str(out), str(appimage)]


def write_zsync(appimage: Path, out: Path) -> None:
    """Write `out`, the .zsync of `appimage`, without zsyncmake's MTime header (it is the build time, and optional)."""
    run(zsyncmake_argv(appimage, out), cwd=appimage.parent, what="writing the .zsync file for delta updates")
    data = out.read_bytes()
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        raise KilnError(f"zsyncmake wrote no header into {out.name}")
    lines = [line for line in head.split(b"\n") if not line.startswith(b"MTime:")]
    out.write_bytes(b"\n".join(lines) + sep + body)
