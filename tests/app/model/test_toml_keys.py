"""Keys and tables given twice are found and worded by Kiln itself, whatever TOML library is installed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from kit.testing import REPO

from kiln.model.project_file import parse_project, toml_syntax_problems
from kiln.model.toml_keys import duplicate_keys
from kiln.support.errors import ProjectInvalid

CASES = [
    pytest.param('[app]\nname = "a"\nname = "b"\n',
                 ["line 3: `name` appears twice in [app] (lines 2 and 3) (keep one)"], id="in-a-table"),
    pytest.param('schema_version = 1\n[app]\nname = "a"\n[[installer]]\nkind = "msi"\n[[installer]]\nkind = "dmg"\n'
                 'kind = "appimage"\n',
                 ["line 8: `kind` appears twice in the 2nd [[installer]] table (lines 7 and 8) (keep one)"],
                 id="in-an-array-of-tables"),
    pytest.param('schema_version = 1\nschema_version = 1\n[app]\nname = "a"\n',
                 ["line 2: `schema_version` appears twice at the top of the file (lines 1 and 2) (keep one)"],
                 id="at-top-level"),
    pytest.param('[app]\nname = "a"\n[entry]\nmodule = "a"\n[app]\nversion = "1"\n',
                 ["line 5: [app] appears twice (lines 1 and 5) (keep one [app] header and put all its keys under it)"],
                 id="a-table-twice"),
    pytest.param('[app]\nicon = "x"\n[app.icon]\npath = "y"\n',
                 ["line 3: app.icon is set on line 2 and opened as a table on line 3 (keep one of the two)"],
                 id="a-key-then-a-table"),
    pytest.param('app.name = "a"\n[app]\nversion = "1"\n',
                 ["line 2: [app] is opened on line 2, but line 1 already set app.name in it "
                  "(move that key under the [app] header)"], id="dotted-key-then-its-table"),
    pytest.param('[app]\n"name" = "a"\nname = "b"\n',
                 ["line 3: `name` appears twice in [app] (lines 2 and 3) (keep one)"], id="quoted-and-bare"),
    pytest.param('[dependencies]\nrequirements = [\n  "a",\n  "b",\n]\nrequirements = []\n',
                 ["line 6: `requirements` appears twice in [dependencies] (lines 2 and 6) (keep one)"],
                 id="after-a-multi-line-array"),
    pytest.param('[app]\ndescription = """\nname = "x"\n"""\nname = "a"\nname = "b"\n',
                 ["line 6: `name` appears twice in [app] (lines 5 and 6) (keep one)"],
                 id="after-a-multi-line-string"),
    pytest.param('[app]\r\nname = "a"\r\nname = "b"\r\n',
                 ["line 3: `name` appears twice in [app] (lines 2 and 3) (keep one)"], id="windows-line-ends"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_each_repetition_is_named_with_both_lines(text: str, expected: list[str]) -> None:
    assert [str(problem) for problem in toml_syntax_problems(text)] == expected


def test_every_repetition_is_reported_at_once() -> None:
    text = '[app]\nname = "a"\nname = "b"\nversion = "1"\nversion = "2"\n[[installer]]\nkind = "a"\nkind = "b"\n'
    assert [problem.location for problem in toml_syntax_problems(text)] == ["line 3", "line 5", "line 8"]


VALID = [
    pytest.param('[app]\nname = "a"\n[[installer]]\nkind = "msi"\n[[installer]]\nkind = "dmg"\n', id="two-tables"),
    pytest.param('[[installer]]\nkind = "msi"\n[installer.signing]\na = 1\n[[installer]]\nkind = "dmg"\n'
                 '[installer.signing]\na = 1\n', id="sub-tables-of-two-instances"),
    pytest.param('[app]\ndescription = """\nname = "x"\nname = "y"\n"""\nname = "a"\n', id="keys-inside-a-string"),
    pytest.param("[app]\nnote = '''\n[app]\n'''\nname = 'a' # [app]\n", id="headers-inside-strings"),
    pytest.param('a = { b = 1, c = 2 }\nb = [[1, 2], [3]]\n', id="inline-tables-and-nested-arrays"),
    pytest.param('[a]\nb.c = 1\nb.d = 2\n', id="dotted-keys"),
]


@pytest.mark.parametrize("text", VALID)
def test_valid_documents_have_no_repetition(text: str) -> None:
    tomllib.loads(text)  # the test data itself is valid TOML
    assert duplicate_keys(text) == []


def test_no_repetition_is_seen_in_the_repositorys_own_toml_files() -> None:
    files = [REPO / "pyproject.toml", *sorted((REPO / "examples").glob("*/*.toml"))]
    assert len(files) > 3
    for path in files:
        assert duplicate_keys(path.read_text(encoding="utf-8")) == [], path


def test_a_document_the_scanner_cannot_follow_is_left_to_the_parsers_line() -> None:
    problems = toml_syntax_problems('[app]\nname = "a\nname = "b"\n')
    assert [problem.location for problem in problems] == ["line 2"]
    assert problems[0].message.startswith("not valid TOML")


def test_a_text_value_without_quotes_says_so() -> None:
    problems = toml_syntax_problems("[app]\nname = hello world\n")
    assert [str(problem) for problem in problems] == [
        'line 2: not valid TOML: a text value without quotes (put the text in double quotes, e.g. name = "hello")']


def test_the_project_file_reports_the_repetition(tmp_path: Path) -> None:
    with pytest.raises(ProjectInvalid) as raised:
        parse_project('[app]\nname = "a"\nname = "b"\n[entry]\nmodule = "a:main"\n', tmp_path / "kiln.toml")
    assert [str(p) for p in raised.value.problems] == [
        "line 3: `name` appears twice in [app] (lines 2 and 3) (keep one)"]
