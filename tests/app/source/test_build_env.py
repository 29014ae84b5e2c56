"""The app's kept build environment: read from [build-system], made once per exact requirement list, and giving the
same wheel, byte for byte, as `pip wheel` in a fresh isolated environment."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kiln.runtimes.cache import BUILD_ENVS
from kiln.source.app_wheel import build_app_wheel
from kiln.source.build_env import BuildSystem, env_key, read_build_system
from kiln.support.errors import KilnError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(None, BuildSystem(("setuptools>=40.8.0",), "setuptools.build_meta:__legacy__"), id="no-pyproject"),
        pytest.param("[project]\nname = 'x'\n", BuildSystem(("setuptools>=40.8.0",),
                                                             "setuptools.build_meta:__legacy__"), id="no-table"),
        pytest.param("[build-system]\nrequires = ['flit_core>=3.2,<4']\nbuild-backend = 'flit_core.buildapi'\n",
                     BuildSystem(("flit_core>=3.2,<4",), "flit_core.buildapi"), id="flit"),
        pytest.param("[build-system]\nrequires = []\nbuild-backend = 'backend'\nbackend-path = ['_build']\n",
                     BuildSystem((), "backend", ("_build",)), id="in-tree-backend"),
        pytest.param("[build-system]\nrequires = ['setuptools']\n",
                     BuildSystem(("setuptools",), "setuptools.build_meta:__legacy__"), id="no-backend"),
    ],
)
def test_build_system_is_read_with_pep_517_defaults(tmp_path: Path, text: str | None, expected: BuildSystem) -> None:
    if text is not None:
        (tmp_path / "pyproject.toml").write_text(text)
    assert read_build_system(tmp_path) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[build-system]\nbuild-backend = 'x'\n", id="no-requires"),
        pytest.param("[build-system]\nrequires = 'setuptools'\n", id="requires-not-a-list"),
        pytest.param("[build-system]\nrequires = ['not a requirement!!']\n", id="bad-requirement"),
        pytest.param("[build-system\n", id="broken-toml"),
    ],
)
def test_a_broken_build_system_is_a_clear_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(KilnError) as error:
        read_build_system(tmp_path)
    assert "pyproject.toml" in error.value.message and error.value.hint


def test_the_key_is_the_exact_requirements_backend_and_index() -> None:
    base = BuildSystem(("setuptools>=68",), "setuptools.build_meta")
    assert env_key(base, []) == env_key(BuildSystem(("setuptools>=68",), "setuptools.build_meta"), [])
    assert env_key(base, []) != env_key(BuildSystem(("setuptools>=69",), "setuptools.build_meta"), [])
    assert env_key(base, []) != env_key(BuildSystem(("setuptools>=68", "wheel"), "setuptools.build_meta"), [])
    assert env_key(base, []) != env_key(BuildSystem(("setuptools>=68",), "setuptools.build_meta:__legacy__"), [])
    assert env_key(base, []) != env_key(base, ["--index-url", "https://example.org/simple"])


PYPROJECT = {
    "setuptools": '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n',
    "hatchling": '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
                 '[tool.hatch.build.targets.wheel]\npackages = ["src/tally"]\n',
    # uv_build runs its own binary, bin/uv-build of the environment (found on PATH, as pip's build environments give)
    "uv_build": '[build-system]\nrequires = ["uv_build>=0.11,<0.14"]\nbuild-backend = "uv_build"\n',
}


def _project(folder: Path, backend: str) -> Path:
    (folder / "src" / "tally").mkdir(parents=True)
    (folder / "src" / "tally" / "__init__.py").write_text("def main():\n    print('tally')\n")
    (folder / "src" / "tally" / "words.txt").write_text("one two\n")
    (folder / "pyproject.toml").write_text(
        PYPROJECT[backend] + '[project]\nname = "tally"\nversion = "1.0"\ndependencies = ["click>=8"]\n'
        '[project.scripts]\ntally = "tally:main"\n')
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["setuptools", "hatchling", "uv_build"])
def test_kept_environment_gives_pip_wheels_bytes_and_is_made_once(tmp_path: Path, backend: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    project = _project(tmp_path / "project", backend)
    cache = tmp_path / "cache"
    full = build_app_wheel(project, tmp_path / "full")  # pip wheel, isolated: the full path
    kept = build_app_wheel(project, tmp_path / "kept", cache_dir=cache)
    assert kept.name == full.name and kept.read_bytes() == full.read_bytes()
    (env,) = [p for p in (cache / BUILD_ENVS).iterdir() if not p.name.startswith(".")]

    # A change to the app's code: the same environment builds it, nothing is installed and the backend is not asked
    # again what it needs; the wheel is still the one pip makes.
    (project / "src" / "tally" / "__init__.py").write_text("def main():\n    print('tally 2')\n")
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="kiln.tools"):
        again = build_app_wheel(project, tmp_path / "again", cache_dir=cache)
    commands = [r.getMessage() for r in caplog.records if r.getMessage().startswith("run ")]
    assert len(commands) == 1 and "build_wheel" in commands[0], commands
    assert [p for p in (cache / BUILD_ENVS).iterdir() if not p.name.startswith(".")] == [env]
    assert again.read_bytes() == build_app_wheel(project, tmp_path / "full-again").read_bytes()

    # Other build requirements: another environment.
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace('requires = ["', 'requires = ["packaging", "', 1))
    build_app_wheel(project, tmp_path / "other", cache_dir=cache)
    assert len([p for p in (cache / BUILD_ENVS).iterdir() if not p.name.startswith(".")]) == 2


@pytest.mark.slow
def test_a_failing_backend_is_the_same_clear_error(tmp_path: Path) -> None:
    project = _project(tmp_path / "project", "setuptools")
    (project / "setup.py").write_text("raise SystemExit('this app does not build')\n")
    with pytest.raises(KilnError) as error:
        build_app_wheel(project, tmp_path / "kept", cache_dir=tmp_path / "cache")
    assert "this app does not build" in error.value.message and "pip wheel" in (error.value.hint or "")
