"""Keys and tables a TOML document defines twice, found and worded by Kiln itself.

TOML forbids setting a key twice or opening a table twice, and every parser refuses such a file, but each in its own
words (tomlkit changed its exception and message between releases). This scanner reads the document line by line —
table headers, keys, and enough of the values to skip strings, arrays and inline tables — and reports each repetition
as a Problem naming the key, the table and both lines. It knows nothing else of TOML: a document it cannot follow is
left to the parser's own message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kiln.support.errors import Problem

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SUFFIXES = {1: "st", 2: "nd", 3: "rd"}


class _Unreadable(Exception):
    """The scanner lost its way (a malformed line): the parser's message is the better one."""


@dataclass
class _Table:
    """One table instance: its header's line, and where each of its keys was set."""

    title: str
    """How a message places a key in it: `in [app]`, `in the 2nd [[installer]] table`, `at the top of the file`."""
    keys: dict[tuple[str, ...], int] = field(default_factory=dict)


def duplicate_keys(text: str) -> list[Problem]:
    """Every key set twice in one table, and every table opened twice, as problems with both line numbers."""
    try:
        return _Scanner(text).scan()
    except _Unreadable:
        return []


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else _SUFFIXES.get(number % 10, "th")
    return f"{number}{suffix}"


def _dotted(parts: tuple[str, ...]) -> str:
    return ".".join(part if _BARE_KEY.fullmatch(part) else f'"{part}"' for part in parts)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.problems: list[Problem] = []
        self.top = _Table("at the top of the file")
        self.current = self.top
        self.current_path: tuple[str, ...] = ()
        self.tables: dict[tuple[str, ...], tuple[_Table, int]] = {}
        """Tables opened by a [header]: the instance and its header's line."""
        self.arrays: dict[tuple[str, ...], int] = {}
        """Arrays of tables: how many [[header]] instances so far."""

    # -- the document ------------------------------------------------------------------------------------------
    def scan(self) -> list[Problem]:
        while self.pos < len(self.text):
            self._skip_blank()
            if self.pos >= len(self.text):
                break
            char = self.text[self.pos]
            if char in "\r\n":
                self._newline()
            elif char == "#":
                self._skip_comment()
            elif char == "[":
                self._header()
            else:
                self._key_value()
        return self.problems

    def _header(self) -> None:
        line = self.line
        array = self.text.startswith("[[", self.pos)
        self.pos += 2 if array else 1
        path = self._key()
        self._skip_blank()
        closing = "]]" if array else "]"
        if not self.text.startswith(closing, self.pos):
            raise _Unreadable
        self.pos += len(closing)
        self._end_of_line()
        base = self._instance_path(path[:-1]) + path[-1:]
        if array:
            count = self.arrays.get(base, 0) + 1
            self.arrays[base] = count
            self.current = _Table(f"in the {_ordinal(count)} [[{_dotted(path)}]] table")
            self.current_path = (*base, f"#{count}")
            return
        self.current_path = base
        if base in self.tables:
            _, first = self.tables[base]
            self.problems.append(Problem(
                f"line {line}", f"[{_dotted(path)}] appears twice (lines {first} and {line})",
                f"keep one [{_dotted(path)}] header and put all its keys under it"))
            self.current = self.tables[base][0]
            return
        self.current = _Table(f"in [{_dotted(path)}]")
        self.tables[base] = (self.current, line)
        self._clashes_with_key(base, path, line)

    def _instance_path(self, path: tuple[str, ...]) -> tuple[str, ...]:
        """`a.b` under arrays of tables means their latest instances: (`a`, `#2`, `b`, …)."""
        resolved: tuple[str, ...] = ()
        for part in path:
            resolved = (*resolved, part)
            if resolved in self.arrays:
                resolved = (*resolved, f"#{self.arrays[resolved]}")
        return resolved

    def _clashes_with_key(self, base: tuple[str, ...], path: tuple[str, ...], line: int) -> None:
        """`[app.x]` where [app] already set `x = …`, or `[app]` after the top level set `app.name = …`."""
        for split in range(len(base)):
            owner = self.top if split == 0 else self.tables.get(base[:split], (None, 0))[0]
            if owner is None:
                continue
            rest = base[split:]
            for key, first in owner.keys.items():
                if key == rest:
                    self.problems.append(Problem(
                        f"line {line}", f"{_dotted(path)} is set on line {first} and opened as a table on line {line}",
                        "keep one of the two"))
                elif key[:len(rest)] == rest:
                    self.problems.append(Problem(
                        f"line {line}", f"[{_dotted(path)}] is opened on line {line}, but line {first} already set "
                        f"{_dotted(key)} in it", f"move that key under the [{_dotted(path)}] header"))
                    return

    def _key_value(self) -> None:
        line = self.line
        key = self._key()
        self._skip_blank()
        if not self.text.startswith("=", self.pos):
            raise _Unreadable
        self.pos += 1
        self._value()
        self._end_of_line()
        first = self.current.keys.get(key)
        if first is not None:
            self.problems.append(Problem(
                f"line {line}", f"`{_dotted(key)}` appears twice {self.current.title} (lines {first} and {line})",
                "keep one"))
            return
        self.current.keys[key] = line
        if (*self.current_path, *key) in self.tables:
            _, opened = self.tables[(*self.current_path, *key)]
            self.problems.append(Problem(
                f"line {line}", f"{_dotted(key)} is opened as a table on line {opened} and set on line {line}",
                "keep one of the two"))

    # -- keys and values ---------------------------------------------------------------------------------------
    def _key(self) -> tuple[str, ...]:
        parts = []
        while True:
            self._skip_blank()
            parts.append(self._simple_key())
            self._skip_blank()
            if not self.text.startswith(".", self.pos):
                return tuple(parts)
            self.pos += 1

    def _simple_key(self) -> str:
        char = self.text[self.pos:self.pos + 1]
        if char in ('"', "'"):
            if self.text.startswith(char * 3, self.pos):
                raise _Unreadable  # multi-line strings cannot be keys
            start = self.pos
            self._string()
            raw = self.text[start + 1:self.pos - 1]
            return raw if char == "'" else _unescape(raw)
        match = _BARE_KEY.match(self.text, self.pos)
        if match is None:
            raise _Unreadable
        self.pos = match.end()
        return match.group()

    def _value(self) -> None:
        """Skip one value: strings (of every kind), arrays and inline tables (which may span lines), the rest."""
        depth = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in "\"'":
                self._string()
            elif char in "[{":
                depth += 1
                self.pos += 1
            elif char in "]}":
                depth -= 1
                self.pos += 1
                if depth < 0:
                    raise _Unreadable
            elif char == "#":
                self._skip_comment()
            elif char in "\r\n":
                if depth == 0:
                    return
                self._newline()
            else:
                self.pos += 1
        if depth:
            raise _Unreadable

    def _string(self) -> None:
        quote = self.text[self.pos]
        if self.text.startswith(quote * 3, self.pos):
            end = self.text.find(quote * 3, self.pos + 3)
            while end != -1 and quote == '"' and _escaped(self.text, end):
                end = self.text.find(quote * 3, end + 1)
            if end == -1:
                raise _Unreadable
            run = 3  # up to two quotes right before the closing three belong to the string
            while run < 5 and self.text.startswith(quote, end + run):
                run += 1
            end += run
            self.line += self.text.count("\n", self.pos, end)
            self.pos = end
            return
        end = self.pos + 1
        while True:
            end = self.text.find(quote, end)
            if end == -1 or "\n" in self.text[self.pos:end]:
                raise _Unreadable
            if quote == '"' and _escaped(self.text, end):
                end += 1
                continue
            break
        self.pos = end + 1

    # -- layout ------------------------------------------------------------------------------------------------
    def _skip_blank(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def _skip_comment(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end == -1 else end

    def _newline(self) -> None:
        if self.text.startswith("\r\n", self.pos):
            self.pos += 2
        elif self.text[self.pos] == "\n":
            self.pos += 1
        else:
            raise _Unreadable  # a lone carriage return
        self.line += 1

    def _end_of_line(self) -> None:
        self._skip_blank()
        if self.pos < len(self.text) and self.text[self.pos] == "#":
            self._skip_comment()
        if self.pos < len(self.text):
            self._newline()


def _escaped(text: str, index: int) -> bool:
    """True when the character at `index` is escaped by an odd number of backslashes."""
    backslashes = 0
    while index - backslashes - 1 >= 0 and text[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _unescape(raw: str) -> str:
    """A basic string key's text with its escapes resolved (keys rarely hold any)."""
    if "\\" not in raw:
        return raw
    try:
        return raw.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return raw
