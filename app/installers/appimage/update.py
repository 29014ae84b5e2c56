"""AppImage updates: the update information in the runtime's `.upd_info` section and the `.zsync` file beside it.

The AppImage specification puts one line of text into a 1024-byte ELF section of the runtime; AppImageUpdate and
appimageupdatetool read it from the file (and Kiln's runtime prints it for `--appimage-updateinformation`):
`zsync|<URL of the .zsync file>` or `gh-releases-zsync|<user>|<repo>|<tag>|<file pattern>.zsync`. The `.zsync`
file (Debian `zsync`'s zsyncmake) lists block checksums of the new AppImage, so an updater fetches only the
blocks the old one lacks.
"""

from __future__ import annotations

from pathlib import Path

from kiln.installers.appimage import sections
from kiln.support.errors import KilnError
from kiln.support.tools import run

SECTION = ".upd_info"
TRANSPORTS = ("zsync|", "gh-releases-zsync|", "pling-v1-zsync|")
"""Update-information kinds AppImageUpdate understands; each points at a .zsync file."""

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


def section_range(elf: bytes) -> tuple[int, int] | None:
    """(file offset, size) of the `.upd_info` section, or None if the runtime has none."""
    return sections.section_range(elf, SECTION)


def embed(runtime: bytes, text: str) -> bytes:
    """The runtime with `text` written into its zero-filled `.upd_info` section."""
    return sections.fill(runtime, SECTION, text.encode("utf-8"), "update information",
                         "shorten update_url or update_information in the appimage [[installer]]")


def read(data: bytes) -> str:
    """The update information of an AppImage (or runtime) given as its first bytes: "" when empty or absent."""
    return sections.text(data, SECTION)


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
