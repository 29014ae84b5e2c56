"""A real app from the package index, in its own layout, with Windows-only dependencies: mkdocs (its
`colorama; platform_system == "Windows"`), packaged by `kiln new` + `kiln build` into an MSI around python.org's
real Windows CPython, installed under Wine, and its real command run: `mkdocs new` and `mkdocs build` make a site."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import tomlkit
from kit.runner import kiln
from kit.wine import Prefix

pytestmark = [pytest.mark.wine, pytest.mark.slow, pytest.mark.long]  # bash .ci/long
MKDOCS = "mkdocs==1.6.1"


@pytest.fixture(scope="module")
def mkdocs_msi(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The MSI of mkdocs' own source tree, as a new user would make it; and the build's output."""
    root = tmp_path_factory.mktemp("mkdocs")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--dest",
                    str(root), MKDOCS], check=True, capture_output=True, timeout=300)
    (sdist,) = root.glob("mkdocs-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(root, filter="data")
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    cache = {"KILN_CACHE_DIR": str(root / "cache")}
    created = kiln("new", folder, env=cache, cwd=root)
    assert created.returncode == 0, created.output
    project = folder / "kiln.toml"
    document = tomlkit.parse(project.read_text(encoding="utf-8"))
    document["python"] = {"version": "3.11", "source": "embed"}  # python.org's Windows CPython, from the index
    installers = tomlkit.aot()
    installers.append(tomlkit.table().add("kind", "msi"))
    document["installer"] = installers
    project.write_text(tomlkit.dumps(document), encoding="utf-8")
    built = kiln("build", project, env=cache, cwd=root, timeout=900)
    assert built.returncode == 0, built.output
    (msi,) = (folder / "dist").glob("*.msi")
    return msi, built.stdout


def test_the_msi_holds_windows_dependencies(mkdocs_msi: tuple[Path, str]) -> None:
    _msi, output = mkdocs_msi
    line = next(line for line in output.splitlines() if line.strip().startswith("windows-x86_64:"))
    assert "colorama" in output and "resolved now" in line


def test_mkdocs_runs_its_real_command_from_the_msi(mkdocs_msi: tuple[Path, str], prefix: Prefix,
                                                  tmp_path: Path) -> None:
    msi, _ = mkdocs_msi
    assert prefix.msiexec("/i", msi) == 0
    (installed,) = (prefix.user_dir / "AppData" / "Local" / "Programs").iterdir()
    assert (installed / "packages" / "colorama").is_dir()  # the Windows-only dependency shipped
    work = prefix.drive_c / "work"
    work.mkdir()

    def mkdocs(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["timeout", "300", "wine", str(installed / "mkdocs.exe"), *args], cwd=cwd,
                              env=prefix.env, capture_output=True, stdin=subprocess.DEVNULL, timeout=360)

    version = mkdocs("--version", cwd=work)
    assert version.returncode == 0, version.stderr.decode(errors="replace")
    assert b"version 1.6.1" in version.stdout
    assert mkdocs("new", "site", cwd=work).returncode == 0
    built = mkdocs("build", cwd=work / "site")
    assert built.returncode == 0, built.stderr.decode(errors="replace")
    assert b"Documentation built" in built.stderr + built.stdout
    assert "Welcome to MkDocs" in (work / "site" / "site" / "index.html").read_text(encoding="utf-8")
