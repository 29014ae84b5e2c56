"""Reading and writing `kiln.toml`: tomlkit keeps the user's comments and order; saves are atomic."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from pydantic import ValidationError
from tomlkit.items import AoT, Table
from tomlkit.toml_document import TOMLDocument

from kiln.installers import registry
from kiln.model.errors import KilnError, Problem, ProjectInvalid
from kiln.model.project import Project
from kiln.support.atomic import atomic_write_text


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
    """('installer', 0, 'kind') → 'installer[0].kind'; drops pydantic's union-tag steps."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in registry.kind_names() and text.endswith("]"):
            continue  # the discriminated union adds the tag as a path step
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


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
    return problems


def parse_project(text: str, path: Path) -> ProjectFile:
    """Parse TOML text into a ProjectFile; every problem is reported at once as ProjectInvalid."""
    text = text.removeprefix(BOM)  # editors on Windows save UTF-8 with a byte order mark; TOML forbids it
    try:
        document = tomlkit.parse(text)
        data = document.unwrap()
    except tomlkit.exceptions.ParseError as e:
        raise ProjectInvalid(
            str(path), [Problem(f"line {e.line}", visible(f"not valid TOML: {e.args[0] if e.args else e}"),
                                "fix the syntax")]
        ) from None
    except Exception as e:  # tomlkit rejects some documents outside ParseError (duplicate keys)
        raise ProjectInvalid(str(path), [_late_toml_problem(text, e)]) from None
    try:
        project = Project.model_validate(data)
    except ValidationError as e:
        raise ProjectInvalid(str(path), problems_from_validation(e)) from None
    return ProjectFile(path=path, project=project, document=document)


BOM = "\ufeff"
_INVISIBLE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def visible(text: str) -> str:
    """`text` on one line with control characters and line separators written as escapes (\\n, \\x1e…)."""
    return _INVISIBLE_RE.sub(lambda m: repr(m.group())[1:-1], text)


def _late_toml_problem(text: str, error: Exception) -> Problem:
    """A Problem with a line number for what tomlkit rejects without one (a key given twice, a table redefined).

    tomllib, the standard library's strict parser, finds the same mistake and says where.
    """
    import tomllib

    reason = visible(str(error) or type(error).__name__)
    if isinstance(error, tomlkit.exceptions.KeyAlreadyPresent):
        reason = f"{reason[:-1] if reason.endswith('.') else reason}: a key may be set only once per table"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as strict:
        match = re.search(r"\(at line (\d+), column \d+\)", str(strict))
        if match:
            return Problem(f"line {match.group(1)}", f"not valid TOML: {reason}", "remove or rename the repeated key")
    except Exception:  # only used to find a line number
        pass
    return Problem("(file)", f"not valid TOML: {reason}", "fix the syntax")


def load_project(path: Path) -> ProjectFile:
    """Read a project file; missing/unreadable files and invalid content become KilnErrors."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KilnError(f"{path}: no such project file", hint="create one with: kiln new FOLDER") from None
    except IsADirectoryError:
        raise KilnError(f"{path} is a folder", hint=f"pass the project file, e.g. {path / 'kiln.toml'}") from None
    except OSError as e:
        from kiln.model.paths import os_error_text

        raise KilnError(f"{path}: cannot read ({os_error_text(e)})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        problem = Problem(f"byte {e.start}", "not UTF-8 text", "save the file as UTF-8")
        raise ProjectInvalid(str(path), [problem]) from None
    return parse_project(text, path)


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
