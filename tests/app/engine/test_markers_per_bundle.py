"""Each bundle gets its own platform's dependencies: `colorama; sys_platform == "win32"` in the MSI only,
`shtab; sys_platform != "win32"` in the Linux bundle only, read back from the built artifacts; and the versions of the
developer's uv.lock are what the running bundle reports (importlib.metadata)."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard
from kit import msi as msi_kit
from kit.projects import write_project
from kit.runner import kiln
from kit.testing import require_tools
from kit.wheels import isolate_pip, marker_wheels, module_wheel

from kiln.support.uv import uv_binary, uv_env

pytestmark = pytest.mark.slow
MARKED = ['colorama; sys_platform == "win32"', 'shtab; sys_platform != "win32"']


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_pip(monkeypatch)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    return marker_wheels(tmp_path / "wheels")


def _portable_names(artifact: Path) -> set[str]:
    with artifact.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        return {member.name for member in tar}


def _packages(names: set[str] | list[str]) -> set[str]:
    """The top-level names below packages/ in an artifact's file list."""
    found = set()
    for name in names:
        parts = name.replace("\\", "/").split("/")
        if "packages" in parts and parts.index("packages") + 1 < len(parts):
            found.add(parts[parts.index("packages") + 1])
    return found


def test_the_msi_gets_colorama_and_the_linux_bundle_shtab(wheels: Path, tmp_path: Path) -> None:
    require_tools("wixl", "msiextract")
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "demo.py").write_text("import sys\nprint(sys.platform)\n", encoding="utf-8")
    archive = msi_kit.fake_runtime_archive(tmp_path)  # no Windows CPython here: a stand-in for the MSI's runtime
    project = write_project(folder, {
        "app": {"name": "demo", "version": "1.0"}, "entry": {"script": "demo.py"},
        "dependencies": {"requirements": MARKED, "no_index": True, "find_links": [str(wheels)]},
        "installer": [{"kind": "portable"}, {"kind": "msi", "upgrade_code": msi_kit.UPGRADE_CODE}]})
    cache = tmp_path / "cache"
    build = kiln("build", project, "--kind", "portable", env={"KILN_CACHE_DIR": str(cache)}, cwd=tmp_path,
                 timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "linux-x86_64: 1 package resolved now: shtab 1.7.1" in build.stdout
    with (folder / "kiln.toml").open("a", encoding="utf-8") as text:  # the MSI around the stand-in runtime
        text.write(f"\n[python]\nsource = {json.dumps(str(archive))}\n")
    build = kiln("build", project, "--kind", "msi", env={"KILN_CACHE_DIR": str(cache)}, cwd=tmp_path, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    (portable,) = (folder / "dist").glob("*.tar.zst")
    (msi,) = (folder / "dist").glob("*.msi")
    linux = _packages(_portable_names(portable))
    subprocess.run(["msiextract", "-C", str(tmp_path / "msi"), str(msi)], check=True, capture_output=True)
    windows = _packages([p.as_posix() for p in (tmp_path / "msi").rglob("*")])
    assert "shtab" in linux and "colorama" not in linux
    assert "colorama" in windows and "shtab" not in windows
    report = json.loads((folder / "dist" / "demo-report.json").read_text(encoding="utf-8"))
    (colorama,) = report["dependencies"]["windows-x86_64"]["installed"]
    assert (colorama["name"], colorama["marker"], colorama["source"]) == ("colorama", 'sys_platform == "win32"',
                                                                          "resolved")


def test_the_versions_of_uv_lock_ship_and_the_bundle_reports_them(wheels: Path, tmp_path: Path) -> None:
    """A project whose uv.lock pins humanize 4.9.0 (4.17.0 is the newest): the built bundle, run, says 4.9.0."""
    folder = tmp_path / "app"
    (folder / "app_pkg").mkdir(parents=True)
    (folder / "app_pkg" / "__init__.py").write_text(
        "from importlib.metadata import version\n\ndef main():\n    print('humanize', version('humanize'))\n",
        encoding="utf-8")
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "app-pkg"\nversion = "1.0"\nrequires-python = ">=3.11"\ndependencies = ["humanize"]\n'
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[tool.setuptools]\npackages = ["app_pkg"]\n', encoding="utf-8")
    cache = tmp_path / "cache"
    tested = tmp_path / "tested"  # what the developer had when they locked: humanize 4.9.0
    tested.mkdir()
    module_wheel(tested, "humanize", "4.9.0")
    subprocess.run([uv_binary(), "lock", "--no-index", "--find-links", str(tested), "--python", "3.11"], cwd=folder,
                   env={**os.environ, **uv_env(cache)}, check=True, capture_output=True)
    assert 'version = "4.9.0"' in (folder / "uv.lock").read_text(encoding="utf-8")
    project = write_project(folder, {
        "app": {"name": "app-pkg", "version": "1.0"}, "entry": {"module": "app_pkg:main"},
        "dependencies": {"find_links": [str(wheels)]},  # the index serves setuptools for the app's own build
        "installer": [{"kind": "portable"}]})
    build = kiln("build", project, env={"KILN_CACHE_DIR": str(cache)}, cwd=tmp_path, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "linux-x86_64: 1 package from uv.lock" in build.stdout
    (portable,) = (folder / "dist").glob("*.tar.zst")
    out = tmp_path / "unpacked"
    out.mkdir()
    with portable.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        tar.extractall(out, filter="tar")
    (launcher,) = [p for p in out.glob("*/app-pkg") if p.is_file()]
    ran = subprocess.run([str(launcher)], capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "humanize 4.9.0"
