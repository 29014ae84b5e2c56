"""Desktop entry files (freedesktop.org Desktop Entry Specification 1.5), written so any project text stays data.

Three escaping layers, applied in this order when writing:
- text values (string/localestring) become one line, and `\\` is escaped as `\\\\`;
- list values (Categories) also escape `;` inside an item as `\\;` and end with `;`;
- Exec arguments are quoted (double quotes; `"` `` ` `` `$` `\\` backslash-escaped) when they hold a reserved
  character, `%` becomes `%%` (not a field code), and then the text-value escaping is applied on top.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kiln.installers.appimage.categories import normalize_categories
from kiln.support.atomic import atomic_write_bytes

# Characters that force an Exec argument into double quotes, per the spec's "reserved characters".
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_EXEC_ESCAPED_IN_QUOTES = frozenset('"`$\\')
_KEY_RE = re.compile(r"^[A-Za-z0-9-]+$")
# Every kind of line or paragraph break and tab a renderer could show as a break.
_BREAKS_RE = re.compile(r"[\s\u2028\u2029\x85]+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: str) -> str:
    """`text` as a single line: runs of whitespace (newlines, tabs, …) become one space, control chars go."""
    return _CONTROL_RE.sub("", _BREAKS_RE.sub(" ", text)).strip()


def escape_text(text: str) -> str:
    """A string/localestring value: one line, backslashes escaped (the only escape a one-line value needs)."""
    return one_line(text).replace("\\", "\\\\")


def escape_list(items: Iterable[str]) -> str:
    """A list value: each item one line with `\\` and `;` escaped, each followed by `;`."""
    return "".join(one_line(item).replace("\\", "\\\\").replace(";", "\\;") + ";" for item in items)


def quote_exec_arg(arg: str) -> str:
    """One Exec argument, quoted if it needs it, `%` doubled. Not yet text-escaped (see `exec_value`)."""
    if _CONTROL_RE.search(arg):  # a value may hold no control characters, not even tabs or newlines
        raise ValueError(f"Exec argument {arg!r} holds control characters")
    arg = arg.replace("%", "%%")
    if arg and not any(c in _EXEC_RESERVED for c in arg):
        return arg
    return '"' + "".join("\\" + c if c in _EXEC_ESCAPED_IN_QUOTES else c for c in arg) + '"'


def exec_value(argv: Sequence[str], field_codes: Sequence[str] = ()) -> str:
    """The Exec value for `argv` followed by field codes such as %F or %U (written as they are)."""
    if not argv or not argv[0]:
        raise ValueError("Exec needs a program")
    if "=" in argv[0]:
        raise ValueError(f"the program in Exec may not contain '=': {argv[0]!r}")
    for code in field_codes:
        if code not in {"%f", "%F", "%u", "%U", "%i", "%c", "%k"}:
            raise ValueError(f"unknown field code {code!r}")
    quoted = " ".join(quote_exec_arg(arg) for arg in argv)
    # The general string escaping is undone before the quoting rules, so it is applied last here.
    return " ".join([quoted.replace("\\", "\\\\"), *field_codes])


_ICON_FILE_ENDINGS = (".png", ".svg", ".svgz", ".xpm")


def icon_name_problem(name: str) -> str | None:
    """Why `name` cannot be a desktop entry's Icon= name (a theme icon, not a path), or None. The AppImage names
    its icon after app.name: `kiln check` applies this to app.name, the build to the entry it writes."""
    ending = next((e for e in _ICON_FILE_ENDINGS if name.lower().endswith(e)), None)
    if ending is not None:
        return (f"ends with '{name[-len(ending):]}': the AppImage's icon is named after the app, and an icon name "
                "with a file ending is not found in icon themes (desktop-file-validate refuses it)")
    return None


@dataclass(frozen=True)
class DesktopEntry:
    """An application's [Desktop Entry] group. Every text may hold anything; `render` makes it safe."""

    name: str
    exec_argv: tuple[str, ...]
    icon: str
    categories: tuple[str, ...] = ("Utility",)
    terminal: bool = False
    comment: str = ""
    field_codes: tuple[str, ...] = ()
    mime_types: tuple[str, ...] = ()
    """The file types the app opens (MimeType=); Exec then needs a file field code such as %F."""
    extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """Extension keys (`X-…`) with text values, e.g. ("X-AppImage-Version", "1.0")."""

    def render(self) -> str:
        name = escape_text(self.name)
        if not name:
            raise ValueError("the desktop entry's Name is empty")
        icon = escape_text(self.icon)
        if not icon:
            raise ValueError("the desktop entry's Icon is empty")
        if (problem := icon_name_problem(icon)) is not None:
            raise ValueError(f"the desktop entry's Icon {icon!r} {problem}")
        lines = ["[Desktop Entry]", "Type=Application", f"Name={name}"]
        comment = escape_text(self.comment)
        if comment and comment.casefold() != name.casefold():  # validators warn about a Comment that repeats Name
            lines.append(f"Comment={comment}")
        lines += [
            f"Exec={exec_value(self.exec_argv, self.field_codes)}",
            f"Icon={icon}",
            f"Terminal={'true' if self.terminal else 'false'}",
            f"Categories={escape_list(normalize_categories(self.categories))}",
        ]
        if self.mime_types:
            lines.append(f"MimeType={escape_list(self.mime_types)}")
        for key, value in self.extra:
            if not key.startswith("X-") or not _KEY_RE.match(key):
                raise ValueError(f"extension key {key!r} must look like X-Name")
            lines.append(f"{key}={escape_text(value)}")
        return "\n".join(lines) + "\n"


def write_desktop_file(entry: DesktopEntry, path: Path) -> None:
    """Write `entry` to `path` (UTF-8, mode 0644) atomically."""
    atomic_write_bytes(path, entry.render().encode("utf-8"), mode=0o644)


def read_group(text: str, group: str = "Desktop Entry") -> dict[str, str]:
    """The raw (still escaped) key → value pairs of one group of a desktop file; comments and blanks skipped."""
    values: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1]
            continue
        if current == group and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def unescape_text(value: str) -> str:
    """Undo the string escapes (\\s \\n \\t \\r \\\\); unknown escapes are kept as written."""
    out = []
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(value[i + 1], value[i : i + 2]))
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)
