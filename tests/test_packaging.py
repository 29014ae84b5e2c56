"""Kiln's own wheel: one top-level name (`kiln`), the prebuilt launchers without their sources, and an install that
shares site-packages with a distribution shipping `app/`, `ui/`, `runtimes/` and `resources/` (issue 12)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from kit.testing import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGE_DIR: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
FORMER_TOP_LEVEL = ("app", "ui", "runtimes", "resources")  # what Kiln's wheel used to install, and must not


def source_path(source: Path, member: str) -> Path:
    """The file in the source tree a wheel member `kiln/...` comes from, following [tool.setuptools.package-dir]."""
    parts = PurePosixPath(member).parts
    for size in range(len(parts) - 1, 0, -1):  # the longest mapped package wins (kiln.ui before kiln)
        folder = PACKAGE_DIR.get(".".join(parts[:size]))
        if folder is not None:
            return source.joinpath(folder, *parts[size:])
    raise AssertionError(f"{member} is in no mapped package")


def run(argv: list[str | Path], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, cwd=cwd)
    assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(source: Path, out: Path) -> Path:
    """`pip wheel` without build isolation: the test venv has setuptools, and no index needs to be reachable."""
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", out, source])
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def kiln_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout to build from: setuptools writes build/ and *.egg-info into its source."""
    source = tmp_path_factory.mktemp("kiln-source")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".mypy_cache")
    for folder in PACKAGE_DIR.values():
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    return source


@pytest.fixture(scope="module")
def kiln_wheel(kiln_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(kiln_source, tmp_path_factory.mktemp("kiln-wheel"))


def kiln_packages(root: Path) -> list[str]:
    """setup.py's package list for the tree at `root` (it computes the list when the wheel is built)."""
    spec = importlib.util.spec_from_file_location("kiln_setup", REPO / "setup.py")
    assert spec is not None and spec.loader is not None
    setup_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup_module)  # not run as __main__: defines kiln_packages, builds nothing
    packages: list[str] = setup_module.kiln_packages(root)
    return packages


def test_the_package_list_is_every_package_folder(kiln_source: Path) -> None:
    """Computed from [tool.setuptools.package-dir] (discovery cannot follow it into several folders), so a new kind's
    folder is in the wheel with no edit anywhere else."""
    assert PACKAGE_DIR == {"kiln": "app", "kiln.ui": "ui", "kiln.runtimes": "runtimes", "kiln.resources": "resources"}
    assert "packages" not in PYPROJECT["tool"]["setuptools"]
    found = set()
    for name, folder in PACKAGE_DIR.items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder)
            if "__pycache__" not in relative.parts:
                found.add(".".join((name, *relative.parts)))
    assert kiln_packages(REPO) == sorted(found)
    assert {"kiln.engine", "kiln.source", "kiln.kinds", "kiln.installers.msi"} <= found
    (kiln_source / "app" / "installers" / "deb").mkdir()
    (kiln_source / "app" / "installers" / "deb" / "__init__.py").write_text("")
    try:
        assert "kiln.installers.deb" in kiln_packages(kiln_source)
    finally:
        shutil.rmtree(kiln_source / "app" / "installers" / "deb")


@pytest.mark.slow
def test_wheel_installs_only_kiln_with_prebuilt_launchers(kiln_source: Path, kiln_wheel: Path) -> None:
    with zipfile.ZipFile(kiln_wheel) as wheel:
        members = [m for m in wheel.namelist() if not m.endswith("/")]
        (dist_info,) = {PurePosixPath(m).parts[0] for m in members if PurePosixPath(m).parts[0].endswith(".dist-info")}
        assert dist_info == "kiln-0.1.0.dist-info"
        if f"{dist_info}/top_level.txt" in members:
            assert wheel.read(f"{dist_info}/top_level.txt").decode().split() == ["kiln"]
        stray = [m for m in members if PurePosixPath(m).parts[0] not in ("kiln", dist_info)]
        assert stray == [], "every file is under kiln/ or the dist-info"
        package = {m: wheel.read(m) for m in members if m.startswith("kiln/")}

    # Every file is the repository's own, byte for byte, at its mapped place.
    for member, data in package.items():
        assert source_path(kiln_source, member).read_bytes() == data, member

    # The prebuilt launchers and their checksums ship, and the checksums match what shipped.
    launchers = "kiln/resources/launchers"
    sums = package[f"{launchers}/windows/SHA256SUMS"].decode().split("\n")
    listed = {line.split()[1].lstrip("*"): line.split()[0] for line in sums if line.strip()}
    assert {"launcher-console.exe", "launcher-gui.exe"} <= set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256(package[f"{launchers}/windows/{name}"]).hexdigest() == digest, name
    mac_sums = package[f"{launchers}/macos/SHA256SUMS"].decode().split("\n")
    mac_listed = {line.split()[1]: line.split()[0] for line in mac_sums if line.strip()}
    assert set(mac_listed) == {"launcher-arm64", "launcher-x86_64", "launcher-universal"}
    for name, digest in mac_listed.items():
        assert hashlib.sha256(package[f"{launchers}/macos/{name}"]).hexdigest() == digest, name
    runtime = package[f"{launchers}/appimage/runtime-x86_64"]
    assert runtime[:4] == b"\x7fELF"
    runtime_sum = package[f"{launchers}/appimage/runtime-x86_64.sha256"].decode().split()
    assert runtime_sum == [hashlib.sha256(runtime).hexdigest(), "runtime-x86_64"]
    icons = sorted(p.name for p in (kiln_source / "resources" / "icons").glob("*.png"))
    assert icons and all(f"kiln/resources/icons/{name}" in package for name in icons)

    # Not their sources, build scripts (build.py, make_*.py, reproducible.py) or build records; the boot code every
    # bundle gets (resources/boot/) does ship.
    names = [PurePosixPath(m) for m in package]
    assert [m for m in names if m.suffix in (".c", ".h", ".tbd", ".buildinfo")] == []
    resource_modules = sorted(str(m) for m in names if m.suffix == ".py" and m.parts[1] == "resources")
    boot = sorted(f"kiln/resources/boot/{p.name}" for p in (kiln_source / "resources" / "boot").glob("*.py"))
    assert boot and resource_modules == ["kiln/resources/__init__.py", *boot]


OTHER_MODULE = 'WHO = "other-dist"\n'


def other_wheel(tmp_path: Path) -> Path:
    """A distribution with the generic top-level names Kiln's wheel used to install: app, ui, runtimes, resources."""
    source = tmp_path / "other-src"
    for name in FORMER_TOP_LEVEL:
        (source / name).mkdir(parents=True)
        (source / name / "__init__.py").write_text(OTHER_MODULE)
    (source / "app" / "__main__.py").write_text('print("the other app ran")\n')
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "other-dist"\nversion = "1.0"\n\n'
        f"[tool.setuptools]\npackages = {json.dumps(list(FORMER_TOP_LEVEL))}\n"
    )
    return build_wheel(source, tmp_path / "other-wheel")


# Run inside the new venv: Kiln imports from it, its resources are there, and every file matches its RECORD.
KILN_INTACT = """
import hashlib, base64, sys, sysconfig
from importlib.metadata import distribution
from pathlib import Path
import kiln, kiln.cli.main, kiln.ui.engine_process, kiln.runtimes.host
from kiln.resources import resource_path
site = Path(sysconfig.get_path("purelib")).resolve()
assert Path(kiln.__file__).resolve().parent == site / "kiln", kiln.__file__
assert resource_path("launchers", "appimage", "runtime-x86_64").is_file()
dist = distribution("kiln")
assert Path(dist.locate_file("")).resolve() == site, dist.locate_file("")
checked = 0
for file in dist.files:
    if file.hash is None:
        continue
    digest = base64.urlsafe_b64encode(hashlib.sha256(file.locate().read_bytes()).digest()).rstrip(b"=").decode()
    assert digest == file.hash.value, f"{file} was changed"
    checked += 1
assert checked > 50, checked
print("kiln intact", checked)
"""

OTHER_INTACT = """
import sysconfig
from pathlib import Path
import app, ui, runtimes, resources
site = Path(sysconfig.get_path("purelib")).resolve()
for module in (app, ui, runtimes, resources):
    assert module.WHO == "other-dist", module
    assert Path(module.__file__).resolve().parent.parent == site, module.__file__
print("other intact")
"""


@pytest.mark.slow
def test_kiln_and_a_distribution_shipping_app_live_side_by_side(kiln_wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"

    def pip(*args: str | Path) -> None:
        run([sys.executable, "-m", "pip", "--python", python, *args, "--quiet"])

    # Kiln first, then the other distribution: its files land where Kiln's did when Kiln shipped `app/`.
    pip("install", "--no-deps", "--no-index", kiln_wheel)
    pip("install", "--no-deps", "--no-index", other_wheel(tmp_path))
    # Kiln's dependencies come from the test's own environment, after the venv's site-packages (offline, fast).
    # Installed only now, so pip never mistakes the test environment's Kiln for an installed one.
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip())
    (site / "kiln-test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    neutral = tmp_path / "neutral"  # not the checkout: nothing of the repository is importable from here
    neutral.mkdir()

    def check_kiln() -> None:
        assert "kiln intact" in run([python, "-c", KILN_INTACT], cwd=neutral).stdout
        assert "schema" in run([python, "-m", "kiln", "--help"], cwd=neutral).stdout
        schema = json.loads(run([venv / "bin" / "kiln", "schema"], cwd=neutral).stdout)
        assert "app" in schema["properties"] and "installer" in schema["properties"]

    check_kiln()
    assert "other intact" in run([python, "-c", OTHER_INTACT], cwd=neutral).stdout
    assert run([python, "-m", "app"], cwd=neutral).stdout == "the other app ran\n"

    pip("uninstall", "--yes", "other-dist")
    check_kiln()
    gone = subprocess.run([python, "-c", "import app"], cwd=neutral, capture_output=True, text=True, timeout=60)
    assert gone.returncode == 1 and "No module named 'app'" in gone.stderr
