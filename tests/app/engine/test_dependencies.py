"""Dependencies per target: resolved with the target's markers, the developer's versions kept, locked in PEP 751,
installed by pip exactly (hash-checked), all offline against a folder of wheels the tests make."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from kit.wheels import BACKEND, NATIVE_TAGS, PYPROJECT, isolate_pip, make_sdist, make_wheel, module_wheel
from packaging.pylock import Pylock

from kiln.engine import dependencies as deps
from kiln.engine.wheelhouse import build_pure_wheel, is_pure_wheel
from kiln.model import pylock
from kiln.model.project import DependenciesSection
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.targets import TARGETS
from kiln.support.uv import uv_binary

WINDOWS, LINUX, MAC = TARGETS["windows-x86_64"], TARGETS["linux-x86_64"], TARGETS["macos-arm64"]
MARKED = ('colorama; sys_platform == "win32"', 'shtab; sys_platform != "win32"')


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_pip(monkeypatch)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """demo-pure (needs demo-native), demo-native per platform, colorama, shtab, humanize 4.9.0 and 4.17.0."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    for platform, tag in NATIVE_TAGS.items():
        module = f"PLATFORM = {platform!r}\n".encode()
        make_wheel(folder, "demo-native", "1.0", tag, {"demo_native/__init__.py": module})
    module_wheel(folder, "demo-pure", "1.0", ("demo-native>=1.0",))
    for name, version in (("colorama", "0.4.6"), ("shtab", "1.7.1"), ("humanize", "4.9.0"), ("humanize", "4.17.0"),
                          ("rich", "13.0.0")):
        module_wheel(folder, name, version)
    return folder


def _section(wheels: Path, *requirements: str, **more: object) -> DependenciesSection:
    return DependenciesSection(requirements=list(requirements), no_index=True, find_links=[str(wheels)],
                               **more)  # type: ignore[arg-type]


def _install(section: DependenciesSection, tmp_path: Path, target: str, python: str = "3.12",
             **more: object) -> deps.DepsResult:
    return deps.install(section, tmp_path, TARGETS[target], python, tmp_path / f"packages-{target}",
                        tmp_path / "cache", lock_dir=tmp_path, **more)  # type: ignore[arg-type]


def _installed(tmp_path: Path, target: str) -> dict[str, str]:
    """name -> version of every distribution installed for `target` (read from the installed dist-info)."""
    from importlib.metadata import distributions

    return {str(d.metadata["Name"]): d.version for d in distributions(path=[str(tmp_path / f"packages-{target}")])}


# --- argv and settings -------------------------------------------------------------------------------------------

def test_linux_tags_include_every_manylinux_level() -> None:
    args = deps.target_args(LINUX, "3.11")
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert "manylinux_2_28_x86_64" in platforms and "manylinux_2_17_x86_64" in platforms
    assert "manylinux2014_x86_64" in platforms
    assert args[:5] == ["--python-version", "3.11", "--implementation", "cp", "--only-binary=:all:"]


def test_windows_and_macos_tags() -> None:
    assert deps.target_args(WINDOWS, "3.12")[-2:] == ["--platform", "win_amd64"]
    mac = deps.target_args(MAC, "3.12")
    assert "macosx_11_0_arm64" in mac and "macosx_11_0_universal2" in mac and "macosx_10_15_x86_64" not in mac
    assert "macosx_14_0_arm64" not in mac  # a DMG runs on macOS 11 by default: no wheel that needs a newer one


def test_pip_install_argv_installs_exact_files_without_resolving(tmp_path: Path) -> None:
    argv = deps.pip_install_argv(tmp_path / "p", WINDOWS, "3.12", ["--require-hashes", "-r", "x.txt"])
    assert argv == [
        sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--no-compile",
        "--no-warn-script-location", "--no-deps", "--no-index", "--target", str(tmp_path / "p"),
        "--python-version", "3.12", "--implementation", "cp", "--only-binary=:all:", "--platform", "win_amd64",
        "--require-hashes", "-r", "x.txt",
    ]


def test_index_args(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    section = DependenciesSection(index_url="https://mirror.example/simple", find_links=["wheels"], no_index=True)
    assert deps.index_args(section, tmp_path) == [
        "--index-url", "https://mirror.example/simple", "--find-links", str(tmp_path / "wheels"), "--no-index",
    ]


def test_requirements_file(tmp_path: Path) -> None:
    (tmp_path / "req.txt").write_text("# comment\nrich>=13  # inline\n\nclick \\\n  --hash=sha256:ab\n")
    section = DependenciesSection(requirements=["attrs"], requirements_file="req.txt")
    assert deps.read_requirements(section, tmp_path) == ["attrs", "rich>=13", "click"]
    (tmp_path / "bad.txt").write_text("ok\nnot a req!!\n")
    with pytest.raises(KilnError, match=r"bad\.txt: 'not a req!!'"):
        deps.read_requirements(DependenciesSection(requirements_file="bad.txt"), tmp_path)
    (tmp_path / "opts.txt").write_text("--index-url https://x\nrich\n")
    with pytest.raises(KilnError, match="pip options"):
        deps.read_requirements(DependenciesSection(requirements_file="opts.txt"), tmp_path)
    with pytest.raises(KilnError, match="requirements_file"):
        deps.read_requirements(DependenciesSection(requirements_file="missing.txt"), tmp_path)


# --- per target -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("platform", ["windows-x86_64", "macos-arm64", "linux-x86_64"])
def test_each_platform_gets_its_own_wheel(platform: str, wheels: Path, tmp_path: Path) -> None:
    result = _install(_section(wheels, "demo-pure"), tmp_path, platform)
    dest = tmp_path / f"packages-{platform}"
    assert (dest / "demo_native/__init__.py").read_text() == f"PLATFORM = {platform!r}\n"
    assert [(d.name, d.wheel) for d in result.installed] == [
        ("demo-native", f"demo_native-1.0-{NATIVE_TAGS[platform]}.whl"), ("demo-pure", "demo_pure-1.0-py3-none-any.whl")
    ]
    assert all(len(d.sha256) == 64 and d.source == "resolved" for d in result.installed)


def test_markers_are_evaluated_for_the_target(wheels: Path, tmp_path: Path) -> None:
    section = _section(wheels, *MARKED)
    windows, linux = _install(section, tmp_path, "windows-x86_64"), _install(section, tmp_path, "linux-x86_64")
    assert _installed(tmp_path, "windows-x86_64") == {"colorama": "0.4.6"}
    assert _installed(tmp_path, "linux-x86_64") == {"shtab": "1.7.1"}
    assert [(d.name, d.marker) for d in windows.installed] == [("colorama", 'sys_platform == "win32"')]
    assert [(d.name, d.marker) for d in linux.installed] == [("shtab", 'sys_platform != "win32"')]
    # Each platform's lock: valid PEP 751, markers evaluated (none left), the selecting marker kept under tool.kiln.
    data = tomllib.loads((tmp_path / "pylock.windows-x86_64.toml").read_text(encoding="utf-8"))
    document = Pylock.from_dict(data)
    assert [(p.name, str(p.version), p.marker) for p in document.packages] == [("colorama", "0.4.6", None)]
    assert data["packages"][0]["tool"]["kiln"] == {"source": "resolved", "marker": 'sys_platform == "win32"'}
    assert windows.notes[0] == "windows-x86_64: 1 package resolved now: colorama 0.4.6"


def test_the_windows_lock_installs_what_the_bundle_holds(wheels: Path, tmp_path: Path) -> None:
    """The per-platform lock is installable by another installer for that platform (uv here: pip refuses
    --platform with a pylock.toml), and gives the same distributions the build installed."""
    # uv checks the lock's requires-python against the interpreter it runs with: this machine's Python.
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    tag = f"cp{python.replace('.', '')}"
    make_wheel(wheels, "demo-win", "1.0", f"{tag}-{tag}-win_amd64", {"demo_win/__init__.py": b"WINDOWS = True\n"})
    _install(_section(wheels, *MARKED, "demo-win"), tmp_path, "windows-x86_64", python=python)
    again = tmp_path / "by-uv"
    done = subprocess.run([uv_binary(), "pip", "install", "--python-platform", WINDOWS.uv_platform, "--python-version",
                           python, "--python", sys.executable, "--target", str(again), "--no-index", "--no-cache",
                           "-r", str(tmp_path / "pylock.windows-x86_64.toml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from importlib.metadata import distributions

    by_uv = {str(d.metadata["Name"]): d.version for d in distributions(path=[str(again)])}
    assert by_uv == _installed(tmp_path, "windows-x86_64") == {"colorama": "0.4.6", "demo-win": "1.0"}


@pytest.mark.parametrize("lock_kind", ["requirements", "pylock.toml"])
def test_the_developers_lock_is_the_truth(lock_kind: str, wheels: Path, tmp_path: Path) -> None:
    if lock_kind == "requirements":
        (tmp_path / "requirements.txt").write_text("humanize==4.9.0\n", encoding="utf-8")
    else:
        (tmp_path / "pylock.toml").write_text(
            'lock-version = "1.0"\ncreated-by = "dev"\n[[packages]]\nname = "humanize"\nversion = "4.9.0"\n'
            'wheels = [{url = "https://x/humanize-4.9.0-py3-none-any.whl", hashes = {sha256 = "aa"}}]\n',
            encoding="utf-8")
    result = _install(_section(wheels, "humanize", *MARKED), tmp_path, "windows-x86_64")
    assert _installed(tmp_path, "windows-x86_64") == {"humanize": "4.9.0", "colorama": "0.4.6"}
    label = "requirements.txt" if lock_kind == "requirements" else "pylock.toml"
    assert result.developer_lock == label
    assert {d.name: d.source for d in result.installed} == {"humanize": "developer-lock", "colorama": "resolved"}
    assert result.notes[0] == (f"windows-x86_64: 1 package from {label}, 1 resolved now (not in {label}): "
                               "colorama 0.4.6")
    # With the developer's lock ignored, the newest ships.
    unlocked = deps.install(_section(wheels, "humanize", lock="none"), tmp_path, LINUX, "3.12", tmp_path / "unlocked",
                            tmp_path / "cache", lock_dir=tmp_path / "elsewhere")
    assert [(d.name, d.version, d.source) for d in unlocked.installed] == [("humanize", "4.17.0", "resolved")]


def test_the_apps_extras_and_its_own_requirements(wheels: Path, tmp_path: Path) -> None:
    app_wheel = make_wheel(tmp_path, "my-app", "1.0", "py3-none-any", {"my_app/__init__.py": b""},
                           ("humanize", 'colorama; sys_platform == "win32"', 'rich; extra == "fancy"'))
    plain = _install(_section(wheels), tmp_path, "windows-x86_64", app_wheel=app_wheel)
    assert [(d.name, d.source) for d in plain.installed] == [("colorama", "resolved"), ("humanize", "resolved"),
                                                             ("my-app", "app")]
    assert next(d for d in plain.installed if d.name == "my-app").built
    lock = pylock.read(tmp_path / "pylock.windows-x86_64.toml")
    assert lock is not None and [p.name for p in lock.packages] == ["colorama", "humanize"]  # never the app
    fancy = _install(_section(wheels, extras=["fancy"]), tmp_path, "linux-x86_64", app_wheel=app_wheel)
    assert [d.name for d in fancy.installed] == ["humanize", "my-app", "rich"]


@pytest.mark.slow
def test_a_current_lock_is_installed_exactly_and_a_tampered_wheel_refused(wheels: Path, tmp_path: Path) -> None:
    section = _section(wheels, "demo-pure")
    first = _install(section, tmp_path, "linux-x86_64")
    assert not first.locked
    module_wheel(wheels, "demo-pure", "1.1", ("demo-native>=1.0",))  # upstream moves on
    second = deps.install(section, tmp_path, LINUX, "3.12", tmp_path / "second", tmp_path / "cache", lock_dir=tmp_path)
    assert second.locked and second.reused_wheels
    assert [(d.name, d.version, d.source) for d in second.installed] == [("demo-native", "1.0", "kiln-lock"),
                                                                         ("demo-pure", "1.0", "kiln-lock")]
    tree = {p.relative_to(tmp_path / "second").as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (tmp_path / "second").rglob("*") if p.is_file()}
    first_tree = {p.relative_to(tmp_path / "packages-linux-x86_64").as_posix(): hashlib.sha256(p.read_bytes())
                  .hexdigest() for p in (tmp_path / "packages-linux-x86_64").rglob("*") if p.is_file()}
    assert tree == first_tree
    # A requirement added: resolved again, the locked versions preferred (demo-pure stays 1.0).
    more = deps.install(_section(wheels, "demo-pure", "humanize"), tmp_path, LINUX, "3.12", tmp_path / "third",
                        tmp_path / "cache", lock_dir=tmp_path)
    assert not more.locked and {d.name: (d.version, d.source) for d in more.installed} == {
        "demo-pure": ("1.0", "kiln-lock"), "demo-native": ("1.0", "kiln-lock"), "humanize": ("4.17.0", "resolved")}
    assert more.notes[0] == ("linux-x86_64: 2 packages from Kiln's lock (pylock.linux-x86_64.toml), 1 resolved now: "
                             "humanize 4.17.0")
    upgraded = deps.install(_section(wheels, "demo-pure", "humanize"), tmp_path, LINUX, "3.12", tmp_path / "fourth",
                            tmp_path / "cache", lock_dir=tmp_path, upgrade=True)
    assert {d.name: d.version for d in upgraded.installed}["demo-pure"] == "1.1"
    # A wheel that changed in the cache under the same name is fetched again, and refused when the source changed.
    native = f"demo_native-1.0-{NATIVE_TAGS['linux-x86_64']}.whl"
    cached = tmp_path / "cache" / "wheels" / "linux-x86_64-py3.12" / native
    cached.write_bytes(b"damaged")
    make_wheel(wheels, "demo-native", "1.0", NATIVE_TAGS["linux-x86_64"], {"demo_native/__init__.py": b"EVIL = 1\n"})
    with pytest.raises((KilnError, ToolFailed), match=r"(?i)hash|locked wheels"):
        deps.install(_section(wheels, "demo-pure", "humanize"), tmp_path, LINUX, "3.12", tmp_path / "fifth",
                     tmp_path / "cache", lock_dir=tmp_path)


# --- packages with only a source distribution -----------------------------------------------------------------------

SETUP_PY = textwrap.dedent('''
    from setuptools import Extension, setup
    # optional=True: the wheel is platform-specific even where no C compiler is installed.
    setup(name="demo-ext", version="1.0", packages=["demo_ext"],
          ext_modules=[Extension("demo_ext._speedups", ["demo_ext/_speedups.c"], optional=True)])
''')


def test_an_sdist_only_pure_package_is_built_once_and_installed_cross_target(tmp_path: Path) -> None:
    sdists = tmp_path / "sdists"
    make_sdist(sdists, "demo_sdist", {"pyproject.toml": PYPROJECT, "backend.py": BACKEND})
    result = _install(_section(sdists, "demo-sdist"), tmp_path, "windows-x86_64")
    assert (tmp_path / "packages-windows-x86_64" / "demo_sdist/__init__.py").read_text() == "BUILT = True\n"
    assert [d.wheel for d in result.installed] == ["demo_sdist-1.0-py3-none-any.whl"]
    lock = pylock.read(tmp_path / "pylock.windows-x86_64.toml")
    assert lock is not None and lock.packages[0].wheel == "" and lock.packages[0].url.endswith(".tar.gz")  # the sdist
    (built,) = (tmp_path / "cache" / "wheels" / "windows-x86_64-py3.12" / "built").rglob("*.whl")
    again = deps.install(_section(sdists, "demo-sdist"), tmp_path, WINDOWS, "3.12", tmp_path / "again",
                         tmp_path / "cache", lock_dir=tmp_path)
    assert again.locked and again.reused_wheels and again.installed[0].sha256 == hashlib.sha256(
        built.read_bytes()).hexdigest()  # built once, kept under the sdist's sha256


def _setuptools_builds_wheels() -> bool:
    """bdist_wheel is built into setuptools >= 70.1; older ones need the `wheel` package."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    from importlib.metadata import version

    major, minor = (int(p) for p in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.mark.slow
def test_an_sdist_with_extension_modules_is_refused_for_another_platform(tmp_path: Path) -> None:
    if not _setuptools_builds_wheels():
        pytest.fail("setuptools cannot build wheels here (needs setuptools>=70.1, or the wheel package)")
    sdists = tmp_path / "sdists"
    files = {"setup.py": SETUP_PY, "demo_ext/__init__.py": "", "demo_ext/_speedups.c": "int x;\n"}
    make_sdist(sdists, "demo_ext", files)
    built = tmp_path / "built"
    # The host's setuptools builds it (an isolated build would need setuptools from an index: tests stay offline).
    with pytest.raises(KilnError) as error:
        build_pure_wheel("demo-ext", built, platform="windows-x86_64",
                         pip_args=["--no-index", "--find-links", str(sdists), "--no-build-isolation"])
    message, hint = error.value.message, error.value.hint or ""
    assert "demo-ext has no wheel for windows-x86_64, and its source build is platform-specific" in message
    assert "linux_x86_64.whl" in message
    assert "find a wheel of demo-ext for windows-x86_64" in hint and "drop the dependency" in hint
    assert "build the windows-x86_64 installer on windows-x86_64" in hint
    assert list(built.iterdir()) == []  # the host-only wheel never reaches the wheelhouse


def test_is_pure_wheel() -> None:
    assert is_pure_wheel("a-1.0-py3-none-any.whl") and is_pure_wheel("a-1.0-py2.py3-none-any.whl")
    for name in ("a-1.0-cp312-cp312-linux_x86_64.whl", "a-1.0-py3-none-win_amd64.whl", "a-1.0-cp312-abi3-any.whl",
                 "a-1.0-py2-none-any.whl"):
        assert not is_pure_wheel(name), name
