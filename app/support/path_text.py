"""What the text of a path or file name a project file gives may hold (pydantic validators call these).

No control characters, no component over 255 bytes (Linux's NAME_MAX; longer ones fail every system call with
ENAMETOOLONG), a bounded total length. Where a path may point is kiln.model.paths' concern.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

NAME_MAX = 255
"""Bytes in one path component (Linux, macOS HFS+ in UTF-16 units, Windows in UTF-16 units: 255 everywhere)."""
PATH_MAX = 1024
"""Bytes in a whole path the project file gives (Linux allows 4096; macOS 1024)."""
OUTPUT_NAME_MAX = 200
"""Bytes of an installer's output_name: room for the longest extension (.AppImage, .tar.zst) within NAME_MAX."""

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def path_text_problem(value: str) -> str | None:
    """What is wrong with `value` as a path, by its text alone; None when it is usable."""
    if _CONTROL_RE.search(value):
        return "contains a control character (newline, tab, NUL…)"
    encoded = value.encode("utf-8", "surrogatepass")
    if len(encoded) > PATH_MAX:
        return f"is {len(encoded)} bytes long; a path may have at most {PATH_MAX}"
    for part in PurePosixPath(value.replace("\\", "/")).parts:
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > NAME_MAX:
            return f"has a folder or file name of {size} bytes ('{part[:20]}…'); the limit is {NAME_MAX}"
    return None


def file_name_problem(value: str, limit: int = OUTPUT_NAME_MAX) -> str | None:
    """What is wrong with `value` as a plain file name (no folder part); None when it is usable."""
    if _CONTROL_RE.search(value):
        return "contains a control character (newline, tab, NUL…)"
    if "/" in value or "\\" in value:
        return "must be a file name, not a path (no '/' or '\\'): the artifact always goes into build.output_dir"
    if value.strip(". ") == "":
        return "must contain a letter or digit (not only dots or spaces)"
    if value != value.strip():
        return "must not start or end with a space"
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > limit:
        return f"is {size} bytes long; the limit is {limit}"
    return None
