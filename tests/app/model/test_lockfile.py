"""kiln.lock and cross-target dependencies: the right wheel per platform, the sdist rule, reproducible installs."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from kit.testing import REPO

from kiln.engine import dependencies as deps
from kiln.model.lockfile import (
    Lock,
    LockedPackage,
    build_pure_wheel,
    inputs_digest,
    is_pure_wheel,
    lock_from_installed,
    lock_path,
    lock_requirements_text,
    locked_install_args,
    missing_requirement,
    read_lock,
    write_lock,
)
from kiln.model.project import DependenciesSection
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.targets import TARGETS
from kiln.support.tools import run

NATIVE_TAGS = {
    "windows-x86_64": "cp312-cp312-win_amd64",
    "macos-arm64": "cp312-cp312-macosx_11_0_arm64",
    "linux-x86_64": "cp312-cp312-manylinux_2_28_x86_64",
}


def make_wheel(
    folder: Path, name: str, version: str, tag: str, files: dict[str, bytes], requires: tuple[str, ...] = ()
) -> Path:
    """A valid wheel (METADATA, WHEEL, RECORD with hashes), byte-identical for identical inputs."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    pure = tag.endswith("-none-any")
    wheel = f"Wheel-Version: 1.0\nGenerator: kiln-tests\nRoot-Is-Purelib: {str(pure).lower()}\nTag: {tag}\n"
    entries = {**files, f"{info}/METADATA": metadata.encode(), f"{info}/WHEEL": wheel.encode()}
    record = []
    for path, data in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    entries[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    target = folder / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(target, "w") as zf:
        for path, data in entries.items():
            zf.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
    return target


@pytest.fixture
def isolated_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip sees only what the test gives it: no user/site config, no index or find-links from the environment."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    for name in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "PIP_REQUIRE_HASHES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """demo-pure (py3-none-any, needs demo-native) and demo-native built for each platform."""
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    for platform, tag in NATIVE_TAGS.items():
        module = f"PLATFORM = {platform!r}\n".encode()
        make_wheel(folder, "demo-native", "1.0", tag, {"demo_native/__init__.py": module})
    make_wheel(folder, "demo-pure", "1.0", "py3-none-any", {"demo_pure/__init__.py": b"VERSION = '1.0'\n"},
               ("demo-native>=1.0",))
    return folder


def _section(*find_links: Path, requirements: tuple[str, ...] = ("demo-pure",)) -> DependenciesSection:
    return DependenciesSection(requirements=list(requirements), no_index=True, find_links=[str(f) for f in find_links])


def _tree(folder: Path, ignore: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file under `folder` with its sha256 (the installed file tree, for exact comparisons)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in ignore
    }


# --- lock file format -------------------------------------------------------------------------------------------

def _lock() -> Lock:
    return Lock(
        python="3.12",
        inputs=inputs_digest(["demo-pure"], "3.12"),
        platforms={
            "windows-x86_64": [
                LockedPackage("demo-pure", "1.0", "demo_pure-1.0-py3-none-any.whl", "a" * 64),
                LockedPackage("demo-native", "1.0", "demo_native-1.0-cp312-cp312-win_amd64.whl", "b" * 64),
            ],
            "linux-x86_64": [],
        },
    )


def test_lock_round_trip_is_atomic_and_deterministic(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "kiln.toml")
    assert path == tmp_path / "kiln.lock" and read_lock(path) is None
    write_lock(path, _lock())
    first = path.read_bytes()
    loaded = read_lock(path)
    assert loaded is not None
    assert loaded.packages("windows-x86_64")[0].name == "demo-native"  # sorted by name
    assert loaded.python == "3.12" and loaded.is_current("3.12", inputs_digest(["demo-pure"], "3.12"))
    assert not loaded.is_current("3.12", inputs_digest(["demo-pure>=2"], "3.12"))
    write_lock(path, loaded)
    assert path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kiln.lock"]  # no temp file left behind
    assert b"do not edit" in first and b"[[platforms.windows-x86_64]]" in first


def test_requirements_text_pins_every_wheel_by_hash() -> None:
    text = lock_requirements_text(_lock(), "windows-x86_64")
    assert text == f"demo-native==1.0 --hash=sha256:{'b' * 64}\ndemo-pure==1.0 --hash=sha256:{'a' * 64}\n"
    assert lock_requirements_text(_lock(), "linux-x86_64") == ""
    with pytest.raises(KilnError, match="no entry for macos-arm64") as error:
        lock_requirements_text(_lock(), "macos-arm64")
    assert "kiln lock" in (error.value.hint or "")


@pytest.mark.parametrize(
    ("content", "message"),
    [("version = 1\npython = ", "cannot read"), ("version = 99\npython = '3.12'\n", "unsupported lock version"),
     ("version = 1\n", "damaged"), ("version = 1\npython='3.12'\n[[platforms.x]]\nname='a'\n", "damaged")],
)
def test_damaged_lock_is_a_kiln_error(content: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "kiln.lock"
    path.write_text(content)
    with pytest.raises(KilnError, match=message) as error:
        read_lock(path)
    assert "kiln lock" in (error.value.hint or "")


def test_is_pure_wheel() -> None:
    assert is_pure_wheel("a-1.0-py3-none-any.whl") and is_pure_wheel("a-1.0-py2.py3-none-any.whl")
    for name in ("a-1.0-cp312-cp312-linux_x86_64.whl", "a-1.0-py3-none-win_amd64.whl", "a-1.0-cp312-abi3-any.whl",
                 "a-1.0-py2-none-any.whl"):
        assert not is_pure_wheel(name), name


def test_lock_from_installed_fills_a_missing_hash_from_the_wheelhouse(wheelhouse: Path) -> None:
    wheel = "demo_pure-1.0-py3-none-any.whl"
    installed = [LockedPackage("Demo_Pure", "1.0", wheel, "")]
    [package] = lock_from_installed(installed, wheelhouse)
    digest = hashlib.sha256((wheelhouse / wheel).read_bytes()).hexdigest()
    assert package == LockedPackage("demo-pure", "1.0", wheel, digest)
    with pytest.raises(KilnError, match="cannot lock demo"):
        lock_from_installed([LockedPackage("demo", "1.0", "demo-1.0.tar.gz", "")])


# --- cross-target installs ----------------------------------------------------------------------------------------

@pytest.mark.usefixtures("isolated_pip")
@pytest.mark.parametrize("platform", ["windows-x86_64", "macos-arm64", "linux-x86_64"])
def test_each_platform_gets_its_own_wheel(platform: str, wheelhouse: Path, tmp_path: Path) -> None:
    dest = tmp_path / "packages"
    result = deps.install(_section(wheelhouse), tmp_path, TARGETS[platform], "3.12", dest, tmp_path / "wheel-cache")
    assert (dest / "demo_native/__init__.py").read_text() == f"PLATFORM = {platform!r}\n"
    assert [(d.name, d.wheel) for d in result.installed] == [
        ("demo-native", f"demo_native-1.0-{NATIVE_TAGS[platform]}.whl"), ("demo-pure", "demo_pure-1.0-py3-none-any.whl")
    ]
    assert all(len(d.sha256) == 64 for d in result.installed)


BACKEND = textwrap.dedent('''
    """A tiny PEP 517 backend (no build requirements, so pip's isolated build works offline)."""
    import base64, hashlib, os, zipfile

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        name = "demo_sdist-1.0-py3-none-any.whl"
        info = "demo_sdist-1.0.dist-info"
        files = {
            "demo_sdist/__init__.py": b"BUILT = True\\n",
            info + "/METADATA": b"Metadata-Version: 2.1\\nName: demo-sdist\\nVersion: 1.0\\n",
            info + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
        }
        lines = []
        for path, data in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            lines.append(f"{path},sha256={digest},{len(data)}")
        files[info + "/RECORD"] = ("\\n".join(lines + [info + "/RECORD,,"]) + "\\n").encode()
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
            for path, data in files.items():
                zf.writestr(path, data)
        return name
''')
PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
SETUP_PY = textwrap.dedent('''
    from setuptools import Extension, setup
    # optional=True: the wheel is platform-specific even where no C compiler is installed.
    setup(name="demo-ext", version="1.0", packages=["demo_ext"],
          ext_modules=[Extension("demo_ext._speedups", ["demo_ext/_speedups.c"], optional=True)])
''')


def make_sdist(folder: Path, name: str, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        pkg_info = f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 1.0\n"
        for rel, text in {**files, "PKG-INFO": pkg_info}.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-1.0/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.usefixtures("isolated_pip")
def test_sdist_only_pure_package_is_built_once_and_installed_cross_target(tmp_path: Path) -> None:
    sdists = tmp_path / "sdists"
    make_sdist(sdists, "demo_sdist", {"pyproject.toml": PYPROJECT, "backend.py": BACKEND})
    target = TARGETS["windows-x86_64"]
    section = _section(sdists, requirements=("demo-sdist",))
    dest = tmp_path / "packages"
    # deps.install sees pip fail on the sdist-only package, builds its pure wheel once, and installs it.
    result = deps.install(section, tmp_path, target, "3.12", dest, tmp_path / "wheel-cache")
    assert (dest / "demo_sdist/__init__.py").read_text() == "BUILT = True\n"
    assert [d.wheel for d in result.installed] == ["demo_sdist-1.0-py3-none-any.whl"]
    assert (tmp_path / "wheel-cache" / "windows-x86_64-py3.12" / "demo_sdist-1.0-py3-none-any.whl").is_file()
    assert missing_requirement("ERROR: No matching distribution found for demo-sdist") == "demo-sdist"

    built = tmp_path / "built"
    wheel = build_pure_wheel("demo-sdist", built, platform=target.name,
                             pip_args=["--no-index", "--find-links", str(sdists)])
    assert sorted(p.name for p in built.iterdir()) == [wheel.name] == ["demo_sdist-1.0-py3-none-any.whl"]


def _setuptools_builds_wheels() -> bool:
    """bdist_wheel is built into setuptools >= 70.1; older ones need the `wheel` package."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    from importlib.metadata import version

    major, minor = (int(p) for p in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_pip")
def test_sdist_with_extension_modules_is_refused_for_another_platform(tmp_path: Path) -> None:
    if not _setuptools_builds_wheels():
        message = "setuptools cannot build wheels here (needs setuptools>=70.1, or the wheel package)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; the test extras must install it")
        pytest.skip(message)
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


# --- reproducible builds ------------------------------------------------------------------------------------------

def _locked_install(lock: Lock, platform: str, wheelhouse: Path, dest: Path, work: Path) -> None:
    """Exactly what deps.install runs for a locked build: pip install --require-hashes --no-deps -r <lock>."""
    extra = ["--no-index", "--find-links", str(wheelhouse), *locked_install_args(lock, platform, work)]
    run(deps.pip_install_argv([], dest, TARGETS[platform], "3.12", extra, work / "report.json"), what="pip (locked)")


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_pip")
def test_same_lock_gives_the_same_installed_tree(wheelhouse: Path, tmp_path: Path) -> None:
    platform = "linux-x86_64"
    first = tmp_path / "first"
    result = deps.install(_section(wheelhouse), tmp_path, TARGETS[platform], "3.12", first, tmp_path / "wheel-cache")
    lock = Lock(python="3.12", inputs=inputs_digest(["demo-pure"], "3.12"),
                platforms={platform: lock_from_installed(result.installed, wheelhouse)})
    write_lock(tmp_path / "kiln.lock", lock)
    lock_again = read_lock(tmp_path / "kiln.lock")
    assert lock_again == lock

    # Upstream moves on: a newer demo-pure appears. An unlocked install takes it, a locked one does not.
    make_wheel(wheelhouse, "demo-pure", "1.1", "py3-none-any", {"demo_pure/__init__.py": b"VERSION = '1.1'\n"},
               ("demo-native>=1.0",))
    unlocked = tmp_path / "unlocked"
    deps.install(_section(wheelhouse), tmp_path, TARGETS[platform], "3.12", unlocked, tmp_path / "wheel-cache-2")
    assert (unlocked / "demo_pure/__init__.py").read_text() == "VERSION = '1.1'\n"

    a, b = tmp_path / "a", tmp_path / "b"
    _locked_install(lock_again, platform, wheelhouse, a, tmp_path / "work-a")
    _locked_install(lock_again, platform, wheelhouse, b, tmp_path / "work-b")
    assert _tree(a) == _tree(b)
    # Same files as the build the lock was made from, except pip's REQUESTED marker (and the RECORD line naming
    # it): with -r every locked package counts as requested.
    assert _tree(a, ignore=("REQUESTED", "RECORD")) == _tree(first, ignore=("REQUESTED", "RECORD"))
    assert (a / "demo_pure/__init__.py").read_text() == "VERSION = '1.0'\n"

    # A wheel that changed under the same name is refused by its hash.
    make_wheel(wheelhouse, "demo-native", "1.0", NATIVE_TAGS[platform], {"demo_native/__init__.py": b"EVIL = 1\n"})
    with pytest.raises(ToolFailed, match=r"(?i)hash"):
        _locked_install(lock_again, platform, wheelhouse, tmp_path / "c", tmp_path / "work-c")


# --- kiln lock [--upgrade] -----------------------------------------------------------------------------------------

def _kiln_lock(project: Path, cache: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    root = REPO
    return subprocess.run([sys.executable, "-m", "kiln", "lock", str(project), "--cache-dir", str(cache), *flags],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=300)


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_pip")
def test_kiln_lock_pins_every_platform_and_upgrade_refreshes(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "demo-pure", "1.0", "py3-none-any", {"demo_pure/__init__.py": b"V = 1\n"})
    project = tmp_path / "kiln.toml"
    project.write_text(
        '[app]\nname = "demo"\n[entry]\nmodule = "demo"\n'
        f'[dependencies]\nrequirements = ["demo-pure"]\nno_index = true\nfind_links = ["{wheels}"]\n'
        '[[installer]]\nkind = "portable"\n[[installer]]\nkind = "msi"\n'
        'upgrade_code = "6F1E0C7A-8F43-4E2B-9C1D-1A2B3C4D5E6F"\n', encoding="utf-8")
    cache = tmp_path / "cache"

    def pinned() -> dict[str, list[str]]:
        lock = read_lock(tmp_path / "kiln.lock")
        assert lock is not None
        return {p: [f"{x.name} {x.version}" for x in lock.packages(p)] for p in ("linux-x86_64", "windows-x86_64")}

    first = _kiln_lock(project, cache)
    assert first.returncode == 0, first.stderr
    assert pinned() == {"linux-x86_64": ["demo-pure 1.0"], "windows-x86_64": ["demo-pure 1.0"]}

    make_wheel(wheels, "demo-pure", "2.0", "py3-none-any", {"demo_pure/__init__.py": b"V = 2\n"})
    assert _kiln_lock(project, cache).returncode == 0
    assert pinned()["linux-x86_64"] == ["demo-pure 1.0"]  # a current lock is kept
    upgraded = _kiln_lock(project, cache, "--upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert pinned() == {"linux-x86_64": ["demo-pure 2.0"], "windows-x86_64": ["demo-pure 2.0"]}

    before = (tmp_path / "kiln.lock").read_bytes()
    for wheel in wheels.iterdir():
        wheel.unlink()
    shutil.rmtree(cache)
    failed = _kiln_lock(project, cache, "--upgrade")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr and "demo-pure" in failed.stderr
    assert (tmp_path / "kiln.lock").read_bytes() == before  # a failed upgrade keeps the lock that worked
