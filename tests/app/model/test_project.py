"""The project model and file: round trips, comment preservation, every problem with its field path."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.installers.msi.options import MsiOptions
from kiln.installers.portable.options import PortableOptions
from kiln.model.project import AppSection, EntrySection, Project
from kiln.model.project_file import load_project, new_project_file, parse_project
from kiln.support.errors import KilnError, ProjectInvalid

HAND_WRITTEN = """\
# My app, packaged by Kiln.
schema_version = 1

[app]
name = "hello"   # short name
version = "1.0"

# what to run
[entry]
module = "hello.cli:main"

[[installer]]
kind = "portable"  # the tarball

[[installer]]
kind = "msi"
upgrade_code = "6F1E0C7A-8F43-4E2B-9C1D-1A2B3C4D5E6F"
"""


def test_save_then_load_gives_the_same_project(tmp_path: Path) -> None:
    project = Project(
        app=AppSection(name="demo", version="2.0.1", publisher="Ünïcode & Co", description='say "hi"\nbye'),
        entry=EntrySection(script="main.py", kind="gui"),
        installer=[PortableOptions(), MsiOptions(scope="per-machine")],
    )
    path = tmp_path / "kiln.toml"
    new_project_file(path, project).save()
    assert load_project(path).project == project


def test_wizard_style_edit_keeps_comments_and_order(tmp_path: Path) -> None:
    path = tmp_path / "kiln.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    project_file = load_project(path)
    project_file.project.app.version = "1.1"
    project_file.project.app.publisher = "ACME"
    project_file.project.entry.kind = "gui"
    project_file.save()
    text = path.read_text(encoding="utf-8")
    for comment in ("# My app, packaged by Kiln.", "# short name", "# what to run", "# the tarball"):
        assert comment in text
    assert 'version = "1.1"' in text and 'publisher = "ACME"' in text
    # the new key lands in its own table, before the comment that introduces the next one
    assert text.index('kind = "gui"') < text.index("[[installer]]")
    assert text.index("[app]") < text.index("[entry]") < text.index("[[installer]]")
    assert "6F1E0C7A-8F43-4E2B-9C1D-1A2B3C4D5E6F" in text
    assert load_project(path).project == project_file.project


def test_unchanged_save_is_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "kiln.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    load_project(path).save()
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN


def test_generated_upgrade_code_is_written_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "kiln.toml"
    path.write_text('[app]\nname = "a"\n[entry]\nmodule = "a"\n[[installer]]\nkind = "msi"\n', encoding="utf-8")
    first = load_project(path)
    code = first.project.installer[0].upgrade_code  # type: ignore[union-attr]
    first.save()
    assert code in path.read_text(encoding="utf-8")
    assert load_project(path).project.installer[0].upgrade_code == code  # type: ignore[union-attr]


def test_save_is_atomic_and_keeps_the_old_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kiln.toml"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    project_file = load_project(path)
    project_file.project.app.version = "9.9"

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("kiln.support.atomic.os.replace", broken_replace)
    with pytest.raises(OSError):
        project_file.save()
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN
    assert [p.name for p in tmp_path.iterdir()] == ["kiln.toml"]


@pytest.mark.parametrize(
    ("text", "location", "words"),
    [
        pytest.param("[app\nname=1", "line 1", "TOML", id="malformed-toml"),
        pytest.param('[app]\nname="a"\n[entry]\nmodule="a"\n[[installer]]\nkind="zip"\n', "installer[0]", "zip",
                     id="unknown-installer-kind"),
        pytest.param('[app]\nname="a"\nversion="one"\n[entry]\nmodule="a"\n', "app.version", "is not a version",
                     id="version-not-pep440"),
        pytest.param('[app]\nname="a"\n[entry]\nmodule="a"\n[dependencies]\nrequirements=["rich>>1"]\n',
                     "dependencies.requirements", "PEP 508", id="invalid-requirement"),
        pytest.param('[app]\nname="a"\ncolour="red"\n[entry]\nmodule="a"\n', "app.colour", "unknown key",
                     id="unknown-key"),
        pytest.param('[app]\nname=3\n[entry]\nmodule="a"\n', "app.name", "string", id="wrong-type"),
        pytest.param('[app]\nname="a"\n[entry]\n', "entry", "entry.module", id="no-entry"),
        pytest.param('schema_version=7\n[app]\nname="a"\n[entry]\nmodule="a"\n', "schema_version", "newer Kiln",
                     id="future-schema"),
        pytest.param('[app]\nname="a"\n[entry]\nmodule="a"\n[python]\nversion="2.7"\n', "python.version", "3.X",
                     id="python-version"),
    ],
)
def test_invalid_files_name_the_field(text: str, location: str, words: str) -> None:
    with pytest.raises(ProjectInvalid) as caught:
        parse_project(text, Path("kiln.toml"))
    problems = caught.value.problems
    assert any(p.location == location and words in str(p) for p in problems), problems


def test_all_problems_are_reported_at_once() -> None:
    text = '[app]\nname="bad name"\nversion="x"\n[entry]\nmodule="1bad"\n[[installer]]\nkind="zip"\n'
    with pytest.raises(ProjectInvalid) as caught:
        parse_project(text, Path("kiln.toml"))
    locations = {p.location for p in caught.value.problems}
    assert {"app.name", "app.version", "entry.module", "installer[0]"} <= locations


def test_missing_file_is_a_kiln_error(tmp_path: Path) -> None:
    with pytest.raises(KilnError, match="no such project file"):
        load_project(tmp_path / "nope.toml")


# -- property tests: nothing but Kiln's own error escapes, and every message names a field or a line --------

toml_scalars = st.one_of(
    st.text(max_size=12), st.integers(), st.booleans(), st.floats(allow_nan=False), st.lists(st.text(max_size=5))
)
keys = st.sampled_from(["name", "version", "module", "kind", "script", "requirements", "path", "source", "x"])
tables = st.dictionaries(keys, toml_scalars, max_size=5)
documents = st.dictionaries(
    st.sampled_from(["app", "entry", "source", "dependencies", "python", "icon", "build", "junk"]), tables, max_size=6
)


def _assert_only_kiln_errors(text: str) -> None:
    try:
        parse_project(text, Path("kiln.toml"))
    except ProjectInvalid as e:
        assert e.problems
        for problem in e.problems:
            assert problem.location and (problem.location[0].isalpha() or problem.location.startswith("(")), problem


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text_never_escapes_as_another_error(text: str) -> None:
    _assert_only_kiln_errors(text)


@settings(max_examples=150, deadline=None)
@given(documents)
def test_random_documents_never_escape(document: dict[str, dict[str, object]]) -> None:
    _assert_only_kiln_errors(tomlkit.dumps(document))


VALID = {"app": {"name": "hello", "version": "1.0"}, "entry": {"module": "hello.cli:main"}}
FIELDS = [("app", "name"), ("app", "version"), ("app", "identifier"), ("entry", "module"), ("entry", "kind"),
          ("python", "version"), ("build", "compression_level"), ("build", "optimize"), ("icon", "path")]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FIELDS), toml_scalars)
def test_random_values_inside_a_valid_document(field: tuple[str, str], value: object) -> None:
    document = {section: dict(values) for section, values in VALID.items()}
    document.setdefault(field[0], {})[field[1]] = value
    _assert_only_kiln_errors(tomlkit.dumps(document))
