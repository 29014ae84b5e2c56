"""The AppImage's file types: a shared-mime-info package and icons for the `[[association]]` tables.

Desktop integration (appimaged, AppImageLauncher, a distribution's own tools) copies `usr/share/mime/packages/*.xml`
and `usr/share/icons/hicolor/*/mimetypes/*` out of the AppDir and runs update-mime-database, so that a file
`x.tally` has the type the desktop entry's `MimeType=` names and opens with the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from kiln.model.associations import Association, document_icon
from kiln.support.atomic import atomic_write_bytes
from kiln.support.icons import HICOLOR_SIZES, load_icon, write_png

_NAMESPACE = "http://www.freedesktop.org/standards/shared-mime-info"


def icon_name(mime: str) -> str:
    """The icon name shared-mime-info gives a MIME type: `application/x-tally` → `application-x-tally`."""
    return mime.replace("/", "-")


def mime_package(associations: Sequence[Association]) -> bytes:
    """The shared-mime-info XML declaring each association's type, comment, glob and icon."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<mime-info xmlns="{_NAMESPACE}">']
    for association in associations:
        lines += [
            f"  <mime-type type={quoteattr(association.mime)}>",
            f"    <comment>{escape(association.description)}</comment>",
            f"    <icon name={quoteattr(icon_name(association.mime))}/>",
            f"    <glob pattern={quoteattr('*.' + association.extension)}/>",
            "  </mime-type>",
        ]
    lines.append("</mime-info>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_file_types(associations: Sequence[Association], usr: Path, package_name: str, base_dir: Path,
                     app_icon: Path | None) -> list[str]:
    """Write the MIME package and the document icons under `usr/share`; return the MIME types for `MimeType=`."""
    if not associations:
        return []
    packages = usr / "share" / "mime" / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(packages / f"{package_name}.xml", mime_package(associations), mode=0o644)
    for association in associations:
        icon = load_icon(document_icon(association, base_dir, app_icon))
        for size in HICOLOR_SIZES:
            hicolor = usr / "share" / "icons" / "hicolor" / f"{size}x{size}" / "mimetypes"
            write_png(icon, hicolor / f"{icon_name(association.mime)}.png", size)
    return [association.mime for association in associations]

