"""What an app's folder declares for Linux desktops: its desktop files and AppStream metainfo (read, never run)."""

from __future__ import annotations

import re
from pathlib import Path

from kiln.source.tree import walk_files

MAX_FILES = 20_000
"""Files looked at in a folder: a huge folder is walked this far, rather than hang."""
_MAX_TEXT = 1024 * 1024  # a declaration file bigger than this is not read


def declaration_files(folder: Path) -> dict[str, list[str]]:
    """Relative paths of the folder's desktop files ('.desktop', also templates `*.desktop.in`) and AppStream
    metainfo files ('.xml': `*.metainfo.xml`, `*.appdata.xml`)."""
    found: dict[str, list[str]] = {".desktop": [], ".xml": []}
    for count, path in enumerate(walk_files(folder)):
        if count > MAX_FILES:
            break
        name = path.name.lower()
        if name.endswith((".desktop", ".desktop.in")):
            found[".desktop"].append(path.relative_to(folder).as_posix())
        elif name.endswith((".metainfo.xml", ".appdata.xml", ".metainfo.xml.in", ".appdata.xml.in")):
            found[".xml"].append(path.relative_to(folder).as_posix())
    return found


def read_text(path: Path) -> str:
    """A small text file's contents ('' when it is missing, unreadable or bigger than a declaration can be)."""
    try:
        if path.stat().st_size > _MAX_TEXT:
            return ""
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def desktop_value(path: Path, key: str) -> str:
    """The raw value of `key` in the file's [Desktop Entry] group ('' when it has none)."""
    group = ""
    for line in read_text(path).splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
        elif group == "Desktop Entry" and re.match(rf"^{re.escape(key)}\s*=", line):
            return line.split("=", 1)[1].strip()
    return ""


def declared_categories(folder: Path) -> list[str]:
    """The menu categories of the folder's first desktop file that names some (`Categories=Office;WordProcessor;`)."""
    for rel in declaration_files(folder)[".desktop"]:
        value = desktop_value(folder / rel, "Categories")
        categories = [c.strip() for c in re.split(r"(?<!\\);", value) if c.strip()]
        if categories:
            return categories
    return []
