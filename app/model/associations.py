"""`[[association]]`: a file type the app opens, declared once for every installer.

The MSI registers it (ProgId, Extension, Verb), the AppImage's desktop entry lists its MIME type (with a
shared-mime-info XML in the AppDir) and the DMG's Info.plist declares it (CFBundleDocumentTypes).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from pydantic import field_validator

from kiln.support.errors import KilnError
from kiln.support.section import Section

_EXTENSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,31}")
_MIME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
DESCRIPTION_MAX_CHARS = 200


class Association(Section):
    extension: str
    """The file name extension without the dot, e.g. "tally" for report.tally."""
    description: str
    """What people call such a file, e.g. "Tally document" (Explorer's Type column, Finder's Kind)."""
    mime_type: str = ""
    """The MIME type, e.g. "application/x-tally". Empty: application/x-<extension>."""
    icon: str = ""
    """An icon for such files (PNG or SVG). Empty: the app's icon."""

    @field_validator("extension")
    @classmethod
    def _extension(cls, value: str) -> str:
        if value.startswith("."):
            raise ValueError(f"write the extension without the dot: \"{value.lstrip('.')}\"")
        if not _EXTENSION_RE.fullmatch(value):
            raise ValueError("use 1 to 32 letters, digits, '_', '+' or '-', e.g. \"tally\"")
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; say what such a file is, e.g. \"Tally document\"")
        if any(unicodedata.category(c) == "Cc" for c in value):
            raise ValueError("contains a control character (newline, tab…); use one line of text")
        if len(value) > DESCRIPTION_MAX_CHARS:
            raise ValueError(f"is {len(value)} characters long; the limit is {DESCRIPTION_MAX_CHARS}")
        return value

    @field_validator("mime_type")
    @classmethod
    def _mime_type(cls, value: str) -> str:
        if value and not _MIME_RE.fullmatch(value):
            raise ValueError("use the form type/subtype, e.g. \"application/x-tally\"")
        return value

    @field_validator("icon")
    @classmethod
    def _icon(cls, value: str) -> str:
        from kiln.support.path_text import path_text_problem

        problem = path_text_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def mime(self) -> str:
        """The MIME type, given or derived."""
        return self.mime_type or f"application/x-{self.extension.lower()}"


def duplicate_extensions(associations: list[Association]) -> list[str]:
    """Extensions declared more than once (Windows and macOS compare them without case)."""
    seen: set[str] = set()
    repeated: list[str] = []
    for association in associations:
        key = association.extension.casefold()
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def document_icon(association: Association, base_dir: Path, app_icon: Path | None) -> Path | None:
    """The association's own icon file (relative to the project folder), or the app's (None: Kiln's default)."""
    if not association.icon:
        return app_icon
    path = base_dir / association.icon
    if not path.is_file():
        raise KilnError(f"the icon of the .{association.extension} association, {association.icon}, does not exist",
                        hint="fix icon in that [[association]] table (a PNG or SVG file)")
    return path
