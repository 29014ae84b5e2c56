"""Reading and writing `kiln.toml`: tomlkit keeps the user's comments and order; saves are atomic."""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import ValidationError
from tomlkit.items import AoT, Table
from tomlkit.toml_document import TOMLDocument

from kiln.kinds import registry
from kiln.model.project import (
    ASSOCIATIONS_MAX,
    INSTALLERS_MAX,
    PROJECT_FILE_MAX_BYTES,
    REQUIREMENTS_MAX,
    Project,
)
from kiln.model.toml_keys import duplicate_keys
from kiln.support.atomic import atomic_write_text
from kiln.support.errors import KilnError, Problem, ProjectInvalid


@dataclass
class ProjectFile:
    """A project together with the TOML document it came from, so saving keeps comments and layout."""

    path: Path
    project: Project
    document: TOMLDocument = field(default_factory=tomlkit.document)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the project are relative to the file's folder."""
        return self.path.parent

    def save(self, path: Path | None = None) -> None:
        """Write the project back, changing only what changed; atomic (temp file, then rename)."""
        target = path or self.path
        merge_into(self.document, self.project.to_data())
        atomic_write_text(target, tomlkit.dumps(self.document))
        self.path = target


def _location(loc: tuple[int | str, ...]) -> str:
    """('installer', 0, 'kind') → 'installer[0].kind'; drops pydantic's union-tag steps. A key that is not a bare
    TOML key is quoted as TOML writes it: app."" (empty), app."a b", app."a.b" (one key with a dot, not two)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in registry.kind_names() and text.endswith("]"):
            continue  # the discriminated union adds the tag as a path step
        else:
            key = part if _BARE_KEY.fullmatch(part) else visible(json.dumps(part, ensure_ascii=False))
            text += f".{key}" if text else key
    return text or "(top level)"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
PROBLEMS_SHOWN = 50
"""Validation problems listed one by one; past that, one problem counts the rest (a file with 60,000 unknown keys
gets 51 lines, not 60,000)."""


def _hints() -> dict[str, str]:
    kinds = registry.kind_names()
    return {
        "extra_forbidden": "remove it or check its spelling",
        "missing": "add it",
        "union_tag_invalid": f"use one of: {', '.join(kinds)}",
        "union_tag_not_found": f"add kind = {' or '.join(repr(k) for k in kinds)}".replace("'", '"'),
    }


def problems_from_validation(error: ValidationError) -> list[Problem]:
    """Every pydantic error as a Problem with a field path and a fix."""
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "union_tag_invalid":
            message = f"unknown installer kind {item.get('input', {}).get('kind')!r}"
        elif item["type"] == "union_tag_not_found":
            message = "installer table without a kind"
        elif item["type"] == "extra_forbidden":
            message = "unknown key"
        message = visible(message)  # a value's newline or control character stays visible, on one line
        problems.append(Problem(_location(tuple(item["loc"])), message, _hints().get(item["type"])))
    if len(problems) > PROBLEMS_SHOWN:
        rest = len(problems) - PROBLEMS_SHOWN
        problems = [*problems[:PROBLEMS_SHOWN], Problem("(file)", f"and {rest:,} more problems",
                                                        "fix the ones above, then check again")]
    return problems


def parse_project(text: str, path: Path) -> ProjectFile:
    """Parse TOML text into a ProjectFile; every problem is reported at once as ProjectInvalid."""
    _refuse_oversize(path, len(text.encode("utf-8", errors="surrogatepass")))
    text = text.removeprefix(BOM)  # editors on Windows save UTF-8 with a byte order mark; TOML forbids it
    syntax = toml_syntax_problems(text)
    if syntax:
        raise ProjectInvalid(str(path), syntax)
    _refuse_long_lists(text, path)
    try:
        document = tomlkit.parse(text)
        data = document.unwrap()
    except Exception as e:  # valid TOML (the standard library read it) that tomlkit refuses: say what it said
        problem = Problem("(file)", visible(f"not valid TOML for tomlkit: {e}"), "fix the syntax")
        raise ProjectInvalid(str(path), [problem]) from None
    try:
        project = Project.model_validate(data)
    except ValidationError as e:
        raise ProjectInvalid(str(path), problems_from_validation(e)) from None
    return ProjectFile(path=path, project=project, document=document)


BOM = "\ufeff"


def _refuse_oversize(path: Path, size: int, known: bool = True) -> None:
    """Refuse a project file over PROJECT_FILE_MAX_BYTES before parsing it (TOML parsing takes seconds per MB).
    `known`: `size` is the file's size, not only what was read of it."""
    if size > PROJECT_FILE_MAX_BYTES:
        what = f"is {size:,} bytes" if known else f"holds more than {PROJECT_FILE_MAX_BYTES:,} bytes"
        raise ProjectInvalid(str(path), [Problem(
            "(file)", f"{what}; a project file may be at most {PROJECT_FILE_MAX_BYTES:,} bytes (1 MiB)",
            "is this the right file? A kiln.toml is a few KB")])


def _refuse_long_lists(text: str, path: Path) -> None:
    """Refuse over-long lists (count_problems) before tomlkit parses the file: the standard library's parser reads a
    megabyte of TOML about ten times faster. Called once toml_syntax_problems found the text valid."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    too_many = count_problems(data)
    if too_many:  # one problem per list, not one per table: validating 30,000 tables would say 30,000 things
        raise ProjectInvalid(str(path), too_many)


def count_problems(data: dict[str, Any]) -> list[Problem]:
    """The lists whose length is bounded (kiln.model.project), checked before their items are validated."""
    dependencies = data.get("dependencies")
    lists = [
        ("installer", data.get("installer"), INSTALLERS_MAX, "[[installer]] tables"),
        ("association", data.get("association"), ASSOCIATIONS_MAX, "[[association]] tables"),
        ("dependencies.requirements", dependencies.get("requirements") if isinstance(dependencies, dict) else None,
         REQUIREMENTS_MAX, "requirements"),
    ]
    return [
        Problem(field_path, f"{len(items):,} {what}; the limit is {limit:,}", "remove the ones you do not need")
        for field_path, items, limit, what in lists
        if isinstance(items, list) and len(items) > limit
    ]


_INVISIBLE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TOMLLIB_WHERE_RE = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)")
_UNQUOTED_TEXT_RE = re.compile(r"\s*[A-Za-z0-9_.\"' -]+=\s*([A-Za-z_][^\"'\[{#]*?)\s*(#.*)?$")


def visible(text: str) -> str:
    """`text` on one line with control characters and line separators written as escapes (\\n, \\x1e…)."""
    return _INVISIBLE_RE.sub(lambda m: repr(m.group())[1:-1], text)


def toml_syntax_problems(text: str) -> list[Problem]:
    """Why `text` is not valid TOML, in Kiln's words: each key or table given twice, else the first bad line.

    The standard library's strict parser decides whether the text is valid (its verdict does not move with a
    release of a third-party library); the duplicate keys are found and worded by Kiln (kiln.model.toml_keys).
    """
    import tomllib

    try:
        tomllib.loads(text)
        return []
    except tomllib.TOMLDecodeError as error:
        reason = str(error)
    except RecursionError:
        return [Problem("(file)", "not valid TOML: nested too deeply", "use fewer nested arrays or tables")]
    duplicates = duplicate_keys(text)
    if duplicates:
        return duplicates
    where = _TOMLLIB_WHERE_RE.search(reason)
    detail = visible(_TOMLLIB_WHERE_RE.sub("", reason))
    if where is None or where.group(1) is None:
        return [Problem("(file)", f"not valid TOML ({detail})", "check that every quote and bracket is closed")]
    number = int(where.group(1))
    lines = text.split("\n")  # as the parser counts lines
    line = lines[number - 1].rstrip("\r") if 0 < number <= len(lines) else ""
    unquoted = _UNQUOTED_TEXT_RE.fullmatch(line)
    if unquoted and unquoted.group(1) not in ("true", "false", "inf", "nan"):
        return [Problem(f"line {number}", "not valid TOML: a text value without quotes",
                        'put the text in double quotes, e.g. name = "hello"')]
    return [Problem(f"line {number}", f"not valid TOML ({detail})", "check the quotes, brackets and '=' on that line")]


def load_project(path: Path) -> ProjectFile:
    """Read a project file; missing/unreadable files and invalid content become KilnErrors.

    A file over PROJECT_FILE_MAX_BYTES is refused by its size, unread; a pipe is read no further than that."""
    ending = next((e for e in registry.artifact_endings() if path.name.lower().endswith(e.lower())), None)
    if ending is not None:  # `kiln try hello.AppImage`, `kiln check hello.msi`
        raise _not_a_project(path, f"a built installer ({path.name[-len(ending):]})")
    try:
        with path.open("rb") as f:
            info = os.fstat(f.fileno())
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                raise _not_a_project(path, "a device")
            _refuse_oversize(path, info.st_size)
            raw = f.read(PROJECT_FILE_MAX_BYTES + 1)
            _refuse_oversize(path, len(raw), known=False)  # a pipe, a file still growing: stat did not tell
    except FileNotFoundError:
        raise KilnError(f"{path}: no such project file", hint="create one with: kiln new FOLDER") from None
    except IsADirectoryError:
        raise KilnError(f"{path} is a folder", hint=f"pass the project file, e.g. {path / 'kiln.toml'}") from None
    except OSError as e:
        from kiln.model.paths import os_error_text

        raise KilnError(f"{path}: cannot read ({os_error_text(e)})") from None
    if b"\x00" in raw[:8192]:  # TOML text never holds NUL: an image, an archive, a program
        raise _not_a_project(path, "binary data, not text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        problem = Problem(f"line {line}", f"not UTF-8 text (byte {e.start + 1:,} of the file, counting from 1)",
                          "save the file as UTF-8")
        raise ProjectInvalid(str(path), [problem]) from None
    return parse_project(text, path)


def _not_a_project(path: Path, what: str) -> ProjectInvalid:
    return ProjectInvalid(str(path), [Problem(
        "(file)", f"is not a project file: it is {what}",
        "pass the project's kiln.toml (kiln new FOLDER writes one); kiln inspect describes a built installer")])


def new_project_file(path: Path, project: Project, header: str | None = None) -> ProjectFile:
    """A ProjectFile for a project that has no file yet (written on save)."""
    document = tomlkit.document()
    if header:
        for line in header.splitlines():
            document.add(tomlkit.comment(line))
    return ProjectFile(path=path, project=project, document=document)


def merge_into(container: TOMLDocument | Table | dict[str, Any], data: dict[str, Any]) -> None:
    """Make `container` hold `data`, editing in place so untouched keys keep their comments and order."""
    for key in [k for k in container if k not in data]:
        del container[key]
    for key, value in data.items():
        current = container.get(key)
        if isinstance(value, dict):
            if isinstance(current, Table | dict):
                merge_into(current, value)
            else:
                table = tomlkit.table()
                merge_into(table, value)
                container[key] = table
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            if isinstance(current, AoT) and len(current) == len(value):
                for existing, item in zip(current, value, strict=True):
                    merge_into(existing, item)
            else:
                array = tomlkit.aot()
                for item in value:
                    table = tomlkit.table()
                    merge_into(table, item)
                    array.append(table)
                container[key] = array
        elif key not in container:
            _add_after_last_key(container, key, value)
        elif _unwrap(current) != value:
            container[key] = value


def _add_after_last_key(container: TOMLDocument | Table | dict[str, Any], key: str, value: object) -> None:
    """Add a key after the table's last key, not after the comments that introduce the next table."""
    last_key = next((k for k in reversed(list(container)) if not isinstance(container[k], Table | AoT)), None)
    body = getattr(container, "value", container) if isinstance(container, Table) else container
    insert_after = getattr(body, "_insert_after", None)
    if last_key is None or insert_after is None:
        container[key] = value
        return
    insert_after(last_key, key, value)


def _unwrap(value: object) -> object:
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if callable(unwrap) else value
