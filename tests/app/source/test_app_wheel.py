"""The app as a distribution: which folders are projects, the wheel's metadata, which targets a wheel serves,
and the lock's record of the app's own wheel. (Real builds by real backends: test_app_shapes.py.)"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from kiln.engine.dependencies import Installed, known_bad
from kiln.model.project import SourceSection
from kiln.source.app_wheel import (
    build_app_wheel,
    builds_wheel,
    is_python_project,
    read_app_metadata,
    require_wheel_serves,
    wheel_serves,
)
from kiln.support.errors import KilnError

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
CP = f"cp{sys.version_info.major}{sys.version_info.minor}"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param({"pyproject.toml": "[project]\nname = 'x'\n"}, True, id="project-table"),
        pytest.param({"pyproject.toml": "[build-system]\nrequires = []\n"}, True, id="build-system-only"),
        pytest.param({"pyproject.toml": "[tool.black]\nline-length = 99\n"}, False, id="tool-config-only"),
        pytest.param({"pyproject.toml": "not [toml"}, False, id="broken-toml"),
        pytest.param({"setup.py": ""}, True, id="setup-py"),
        pytest.param({"setup.cfg": "[metadata]\n"}, True, id="setup-cfg"),
        pytest.param({"main.py": "", "requirements.txt": "rich\n"}, False, id="scripts"),
    ],
)
def test_which_folders_are_python_projects(tmp_path: Path, files: dict[str, str], expected: bool) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert is_python_project(tmp_path) is expected


def test_source_kind_decides_and_an_explicit_include_keeps_the_globs(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("")
    assert builds_wheel(SourceSection(), tmp_path)
    assert not builds_wheel(SourceSection(include=["pkg/**"]), tmp_path)  # project files written before Kiln 13
    assert builds_wheel(SourceSection(kind="project", include=["pkg/**"]), tmp_path)
    assert not builds_wheel(SourceSection(kind="files"), tmp_path)
    (tmp_path / "setup.py").unlink()
    assert not builds_wheel(SourceSection(), tmp_path)


def _wheel(path: Path, metadata: str, entry_points: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app/__init__.py", "")
        archive.writestr("app-1.0.dist-info/METADATA", metadata)
        if entry_points:
            archive.writestr("app-1.0.dist-info/entry_points.txt", entry_points)
    return path


def test_metadata_and_scripts_come_from_the_wheel(tmp_path: Path) -> None:
    wheel = _wheel(
        tmp_path / "app-1.0-py3-none-any.whl",
        "Metadata-Version: 2.1\nName: App\nVersion: 1.0\nSummary: Does things\n"
        "Author-email: Jane Doe <jane@example.org>, Bob <bob@example.org>\nLicense-Expression: MIT\n"
        "Project-URL: Homepage, https://example.org/app\nRequires-Python: >=3.9\n"
        "Requires-Dist: rich>=13\nRequires-Dist: colorama; sys_platform == 'win32'\n",
        "[console_scripts]\nApp-CLI = app.cli:main\n[gui_scripts]\napp-gui = app.gui:run\n"
        "[app.plugins]\nx = app.x:y\n",
    )
    meta = read_app_metadata(wheel)
    assert (meta.name, meta.version, meta.summary, meta.author, meta.license, meta.home_page) == (
        "App", "1.0", "Does things", "Jane Doe", "MIT", "https://example.org/app")
    assert meta.requires_python == ">=3.9"
    assert meta.requires_dist == ("rich>=13", "colorama; sys_platform == 'win32'")
    assert meta.console_scripts == {"App-CLI": "app.cli:main"} and meta.gui_scripts == {"app-gui": "app.gui:run"}


def test_a_wheel_without_metadata_is_a_clear_error(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "x-1-py3-none-any.whl", "w") as archive:
        archive.writestr("x.py", "")
    with pytest.raises(KilnError, match=r"no \.dist-info/METADATA"):
        read_app_metadata(tmp_path / "x-1-py3-none-any.whl")
    (tmp_path / "y-1-py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(KilnError, match="cannot read the app's wheel"):
        read_app_metadata(tmp_path / "y-1-py3-none-any.whl")


def test_a_pure_wheel_serves_every_target_a_platform_wheel_only_this_machine() -> None:
    pure = Path("app-1.0-py3-none-any.whl")
    for target in ("linux-x86_64", "windows-x86_64", "macos-arm64"):
        assert wheel_serves(pure, target, "3.12")
    native = Path(f"app-1.0-{CP}-{CP}-linux_x86_64.whl")
    assert wheel_serves(native, "linux-x86_64", PY)
    assert not wheel_serves(native, "linux-x86_64", "3.8")
    assert not wheel_serves(native, "windows-x86_64", PY)
    with pytest.raises(KilnError) as caught:
        require_wheel_serves(native, "my-app", "macos-arm64", PY)
    assert "'my-app'" in caught.value.message and "macos-arm64" in caught.value.message


def test_known_bad_versions_are_named_with_their_fix() -> None:
    bad = [Installed("PySide6-Essentials", "6.12.0", "x.whl", "0" * 64)]
    (warning,) = known_bad(bad, "3.11")
    assert "6.12.0" in warning and '"PySide6-Essentials!=6.12.0"' in warning
    assert known_bad(bad, "3.12") == []
    assert known_bad([Installed("PySide6", "6.11.3", "x.whl", "0" * 64)], "3.11") == []


@pytest.mark.slow
def test_an_app_with_its_own_c_extension_builds_here_and_only_serves_this_platform(tmp_path: Path) -> None:
    """A real setuptools build of a project with a C extension (gcc), in a copy: the user's folder stays clean."""
    project = tmp_path / "fastapp"
    (project / "fastapp").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "fastapp"\nversion = "1.0"\n[project.scripts]\nfastapp = "fastapp:main"\n'
    )
    (project / "setup.py").write_text(
        "from setuptools import Extension, setup\n"
        "setup(packages=['fastapp'], ext_modules=[Extension('fastapp._speed', ['fastapp/speed.c'])])\n"
    )
    (project / "fastapp" / "__init__.py").write_text("def main():\n    pass\n")
    (project / "fastapp" / "speed.c").write_text(
        "#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"_speed\", 0, -1, 0};\n"
        "PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&m); }\n"
    )
    before = sorted(p.relative_to(project).as_posix() for p in project.rglob("*"))
    wheel = build_app_wheel(project, tmp_path / "wheels")
    assert wheel.name.startswith(f"fastapp-1.0-{CP}-{CP}-linux_x86_64") and wheel.suffix == ".whl"
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*")) == before
    assert read_app_metadata(wheel).console_scripts == {"fastapp": "fastapp:main"}
    require_wheel_serves(wheel, "fastapp", "linux-x86_64", PY)
    for target in ("windows-x86_64", "macos-arm64"):
        with pytest.raises(KilnError, match=f"the app 'fastapp' builds into a platform-specific wheel.*{target}"):
            require_wheel_serves(wheel, "fastapp", target, PY)
