"""Open a project file whose values the model refuses, so the wizard can show the bad field on its page.

A hand-edited kiln.toml with one bad value (a version like "one") must not lock the user out of the wizard:
each refused `section.field` is set aside (a string becomes the TODO placeholder, anything else its default),
the rest opens as usual, and the wizard then lands on the page of the first bad field with the refused value
typed back in, so the page's own check marks it and says what to do. Problems elsewhere (unknown installer
kinds, broken TOML) still stop at the Start page, which names each page and setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tomlkit
from pydantic import ValidationError

from kiln.model.project import TODO, Project
from kiln.model.project_file import BOM, ProjectFile, problems_from_validation
from kiln.support.errors import Problem


@dataclass(frozen=True)
class SetAside:
    """A refused value: where it was, what the model said, and the value as the file had it."""

    problem: Problem
    value: object


def open_leniently(path: Path) -> tuple[ProjectFile, list[SetAside]] | None:
    """The project with its refused `section.field` values set aside, or None when that cannot make it valid."""
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8").removeprefix(BOM))
        data = document.unwrap()
    except Exception:  # unreadable or not TOML: the Start page reports it as it always did
        return None
    aside: list[SetAside] = []
    for _ in range(8):  # a few rounds: a fixed value can reveal a check that depends on it
        try:
            project = Project.model_validate(data)
        except ValidationError as error:
            problems = problems_from_validation(error)
        else:
            return ProjectFile(path=path, project=project, document=document), aside
        for problem in problems:
            section_name, _, name = problem.location.partition(".")
            section = data.get(section_name)
            if not name or "." in name or "[" in problem.location or not isinstance(section, dict) \
                    or name not in section:
                return None
            value = section[name]
            if any(a.problem.location == problem.location for a in aside):
                return None  # the placeholder itself was refused: give up
            aside.append(SetAside(problem, value))
            if isinstance(value, str):
                section[name] = TODO
            else:
                del section[name]
    return None
