"""Project files past the limits are refused before parsing (by size) or before validation (by count), with one
problem each, not one per table."""

from __future__ import annotations

import os
import threading
import tomllib
from pathlib import Path

import pytest
import tomlkit

from kiln.model import project_file as project_file_module
from kiln.model.project import ASSOCIATIONS_MAX, INSTALLERS_MAX, PROJECT_FILE_MAX_BYTES, REQUIREMENTS_MAX, Project
from kiln.model.project_file import PROBLEMS_SHOWN, load_project, parse_project
from kiln.support.errors import ProjectInvalid

HEAD = '[app]\nname = "hello"\n[entry]\nmodule = "hello:main"\n'


@pytest.fixture
def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to parse or validate fails the test: what is refused must be refused before."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was parsed")

    monkeypatch.setattr(tomlkit, "parse", refuse)
    monkeypatch.setattr(tomllib, "loads", refuse)
    monkeypatch.setattr(project_file_module.tomllib, "loads", refuse)


@pytest.mark.usefixtures("no_parsing")
def test_an_oversize_file_is_refused_by_its_size_unread(tmp_path: Path) -> None:
    path = tmp_path / "kiln.toml"
    with path.open("wb") as f:  # 100 MB of comment, sparse: nothing of it needs to be read
        f.write(HEAD.encode())
        f.truncate(100_000_000)
    with pytest.raises(ProjectInvalid) as caught:
        load_project(path)
    (problem,) = caught.value.problems
    assert problem.location == "(file)"
    assert problem.message == "is 100,000,000 bytes; a project file may be at most 1,048,576 bytes (1 MiB)"


@pytest.mark.usefixtures("no_parsing")
def test_a_file_one_byte_over_is_refused_and_text_over_the_limit_too(tmp_path: Path) -> None:
    path = tmp_path / "kiln.toml"
    text = HEAD + "#" * (PROJECT_FILE_MAX_BYTES + 1 - len(HEAD))
    path.write_text(text)
    with pytest.raises(ProjectInvalid, match="is 1,048,577 bytes"):
        load_project(path)
    with pytest.raises(ProjectInvalid, match="is 1,048,577 bytes"):  # the wizard's path: text already in memory
        parse_project(text, path)


@pytest.mark.usefixtures("no_parsing")
def test_a_pipe_is_read_no_further_than_the_limit(tmp_path: Path) -> None:
    fifo = tmp_path / "kiln.toml"
    os.mkfifo(fifo)
    written: list[int] = []

    def feed() -> None:  # writes until the reader goes away, like `yes`
        try:
            with fifo.open("wb") as out:
                while True:
                    out.write(b"# " * 32768)
                    written.append(1)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed)
    writer.start()
    with pytest.raises(ProjectInvalid, match="holds more than 1,048,576 bytes"):
        load_project(fifo)
    writer.join()


def test_a_device_is_not_a_project_file() -> None:
    with pytest.raises(ProjectInvalid, match=r"\(file\): is not a project file: it is a device"):
        load_project(Path("/dev/zero"))


def test_the_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "kiln.toml"
    path.write_text(HEAD + "#" * (PROJECT_FILE_MAX_BYTES - len(HEAD) - 1) + "\n")
    assert path.stat().st_size == PROJECT_FILE_MAX_BYTES
    assert load_project(path).project.app.name == "hello"


@pytest.mark.parametrize(("table", "limit", "field", "what"), [
    ('[[installer]]\nkind = "portable"\n', INSTALLERS_MAX, "installer", "[[installer]] tables"),
    ('[[association]]\nextensions = ["x"]\ndescription = "X"\n', ASSOCIATIONS_MAX, "association",
     "[[association]] tables"),
])
def test_too_many_tables_are_one_problem_before_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           table: str, limit: int, field: str, what: str) -> None:
    def no_validation(*args: object, **kwargs: object) -> None:
        raise AssertionError("the tables were validated")

    monkeypatch.setattr(Project, "model_validate", no_validation)
    path = tmp_path / "kiln.toml"
    path.write_text(HEAD + table * 10_000)
    with pytest.raises(ProjectInvalid) as caught:
        load_project(path)
    expected = [(field, f"10,000 {what}; the limit is {limit:,}")]
    assert [(p.location, p.message) for p in caught.value.problems] == expected


def test_too_many_requirements_are_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "kiln.toml"
    requirements = ", ".join(f'"pkg{i}"' for i in range(REQUIREMENTS_MAX + 1))
    path.write_text(HEAD + f"[dependencies]\nrequirements = [{requirements}]\n")
    with pytest.raises(ProjectInvalid) as caught:
        load_project(path)
    assert [str(p) for p in caught.value.problems] == [
        f"dependencies.requirements: {REQUIREMENTS_MAX + 1:,} requirements; the limit is {REQUIREMENTS_MAX:,} "
        "(remove the ones you do not need)"]


def test_at_the_limit_nothing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kiln.toml"
    tables = "".join(f'[[installer]]\nkind = "portable"\noutput_name = "p{i}"\n' for i in range(INSTALLERS_MAX))
    path.write_text(HEAD + tables)
    assert len(load_project(path).project.installer) == INSTALLERS_MAX


def test_many_unknown_keys_are_summed_up(tmp_path: Path) -> None:
    path = tmp_path / "kiln.toml"
    path.write_text(HEAD.replace("[entry]", "".join(f"k{i} = 1\n" for i in range(5000)) + "[entry]"))
    with pytest.raises(ProjectInvalid) as caught:
        load_project(path)
    problems = caught.value.problems
    assert len(problems) == PROBLEMS_SHOWN + 1
    assert str(problems[-1]) == "(file): and 4,950 more problems (fix the ones above, then check again)"
