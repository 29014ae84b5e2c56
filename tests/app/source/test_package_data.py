"""Files of the app's packages that its wheel left out are added to the wheel, listed in its RECORD and reported
with the declaration for the project's backend. (Real backends: test_app_shapes.py builds them end to end.)"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from kiln.source.package_data import build_backend, complete_wheel, declaration_advice

SETUPTOOLS = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'


def _project(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _wheel(path: Path, files: dict[str, str]) -> Path:
    """A wheel holding `files` and a RECORD that lists them, as a backend writes it."""
    rows = []
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in {**files, "notes-1.0.dist-info/METADATA": "Name: notes\nVersion: 1.0\n"}.items():
            archive.writestr(name, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
            rows.append(f"{name},sha256={digest},{len(text.encode())}")
        archive.writestr("notes-1.0.dist-info/RECORD", "\n".join([*rows, "notes-1.0.dist-info/RECORD,,"]) + "\n")
    return path


CODE = {"notes/__init__.py": "", "notes/cli.py": "def main():\n    pass\n"}


def _record(wheel: Path) -> dict[str, tuple[str, str]]:
    with zipfile.ZipFile(wheel) as archive:
        record = archive.read("notes-1.0.dist-info/RECORD").decode()
        contents = {name: archive.read(name) for name in archive.namelist()}
    rows = {row[0]: (row[1], row[2]) for row in csv.reader(io.StringIO(record)) if row}
    for name, (digest, size) in rows.items():  # every listed file is in the wheel with that hash and size
        if digest:
            data = contents[name]
            assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert int(size) == len(data)
    assert set(rows) == set(contents)
    return rows


def test_data_files_left_out_are_added_and_listed(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", {"pyproject.toml": SETUPTOOLS, **CODE, "notes/data/note.txt": "hi\n",
                                         "notes/templates/page.txt": "<p>\n", "notes/assets/x.json": "{}\n",
                                         "notes/café ☕.txt": "☕\n"})
    wheel = _wheel(tmp_path / "notes-1.0-py3-none-any.whl", CODE)
    added = complete_wheel(wheel, project)
    assert added.files == ["notes/assets/x.json", "notes/café ☕.txt", "notes/data/note.txt",
                           "notes/templates/page.txt"]
    assert added.backend == "setuptools.build_meta"
    assert set(added.files) < set(_record(wheel))
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("notes/café ☕.txt").decode() == "☕\n"
        assert archive.namelist()[-1] == "notes-1.0.dist-info/RECORD"
    summary = added.summary()
    assert "added 4 files" in summary and "notes/data/note.txt" in summary
    assert '[tool.setuptools.package-data] notes = ["assets/*.json", "*.txt", "data/*.txt", "templates/*.txt"]' \
        in summary
    assert complete_wheel(wheel, project).files == []  # a completed wheel lacks nothing


def test_the_package_folder_is_found_by_content_in_a_src_layout(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", {"pyproject.toml": SETUPTOOLS, "notes/README.txt": "a stale copy elsewhere",
                                         **{f"src/{k}": v for k, v in CODE.items()}, "src/notes/data/a.txt": "a"})
    (project / "notes" / "cli.py").write_text("old code\n")  # a folder of that name the wheel was not built from
    wheel = _wheel(tmp_path / "notes-1.0-py3-none-any.whl", CODE)
    assert complete_wheel(wheel, project).files == ["notes/data/a.txt"]


def test_code_hidden_files_tests_and_what_the_project_excludes_stay_out(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", {
        "pyproject.toml": SETUPTOOLS + '[tool.setuptools.exclude-package-data]\nnotes = ["*.secret"]\n'
                                       '[tool.hatch.build]\nexclude = ["scratch/"]\n',
        "MANIFEST.in": "prune notes/dev\nglobal-exclude *.bak\nexclude notes/local.cfg\n",
        **CODE, "notes/extra.py": "", "notes/fast.so": "", "notes/fast.c": "", "notes/.env": "SECRET=1",
        "notes/.hidden/a.txt": "", "notes/tests/data.txt": "", "notes/__pycache__/x.txt": "",
        "notes/dev/notes.txt": "", "notes/old.bak": "", "notes/local.cfg": "", "notes/key.secret": "",
        "notes/scratch/a.txt": "", "notes/kept.txt": "kept",
    })
    wheel = _wheel(tmp_path / "notes-1.0-py3-none-any.whl", CODE)
    assert complete_wheel(wheel, project).files == ["notes/kept.txt"]


@pytest.mark.parametrize(("backend", "expected"), [
    pytest.param("hatchling.build", '[tool.hatch.build.targets.wheel] artifacts = ["notes/data/*.txt"]', id="hatch"),
    pytest.param("poetry.core.masonry.api", '[tool.poetry] include = ["notes/data/*.txt"]', id="poetry"),
    pytest.param("pdm.backend", '[tool.pdm.build] includes = ["notes/data/*.txt"]', id="pdm"),
    pytest.param("setuptools.build_meta:__legacy__", '[tool.setuptools.package-data] notes = ["data/*.txt"]',
                 id="setup-py"),
    pytest.param("uv_build", 'build backend uv_build: "notes/data/*.txt"', id="other"),
])
def test_the_advice_names_the_backends_own_setting(backend: str, expected: str) -> None:
    assert expected in declaration_advice(backend, ["notes/data/a.txt", "notes/data/b.txt"])


def test_the_backend_comes_from_pyproject_or_is_setuptools_legacy(tmp_path: Path) -> None:
    assert build_backend(tmp_path) == "setuptools.build_meta:__legacy__"
    (tmp_path / "pyproject.toml").write_text('[build-system]\nbuild-backend = "flit_core.buildapi"\n')
    assert build_backend(tmp_path) == "flit_core.buildapi"
