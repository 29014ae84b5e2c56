"""The developer's lock: uv.lock (through `uv export`), pylock.toml and fully pinned requirements, found and read per
platform (markers evaluated with each platform's environment)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from kit.wheels import isolate_pip, module_wheel

from kiln.model import developer_lock
from kiln.support.errors import KilnError
from kiln.support.targets import TARGETS
from kiln.support.uv import uv_binary, uv_env

WINDOWS, LINUX = TARGETS["windows-x86_64"], TARGETS["linux-x86_64"]


def test_pinned_requirements_as_pip_compile_writes_them() -> None:
    text = ("# via pip-compile\n--index-url https://example/simple\n"
            "colorama==0.4.6 ; sys_platform == 'win32' \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
            "    # via app\nhumanize==4.9.0  # the tested one\n-e .\n")
    pins = developer_lock.pinned_requirements(text)
    assert pins is not None and [(p.name, p.version) for p in pins] == [("colorama", "0.4.6"), ("humanize", "4.9.0")]
    assert developer_lock.pinned_requirements("rich>=13\nhumanize==4.9.0\n") is None  # not every line pinned
    assert developer_lock.pinned_requirements("humanize==4.*\n") is None
    assert developer_lock.pinned_requirements("# nothing\n") is None


def test_a_requirements_lock_per_platform(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("colorama==0.4.6; sys_platform == 'win32'\nshtab==1.7.1; "
                                               "sys_platform != 'win32'\nhumanize==4.9.0\n", encoding="utf-8")
    lock = developer_lock.find("auto", tmp_path, [tmp_path], None, [], tmp_path / "cache")
    assert lock is not None and lock.kind == "requirements" and lock.label == "requirements.txt"
    assert sorted(lock.pins_for(WINDOWS, "3.11")) == ["colorama", "humanize"]
    assert sorted(lock.pins_for(LINUX, "3.11")) == ["humanize", "shtab"]
    assert developer_lock.find("none", tmp_path, [tmp_path], None, [], tmp_path / "cache") is None


def test_a_pep_751_lock_with_extras_and_groups(tmp_path: Path) -> None:
    (tmp_path / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "someone"\nextras = ["fancy"]\ndependency-groups = ["dev"]\n'
        'default-groups = []\n'
        '[[packages]]\nname = "humanize"\nversion = "4.9.0"\n'
        'wheels = [{url = "https://x/humanize-4.9.0-py3-none-any.whl", hashes = {sha256 = "aa"}}]\n'
        '[[packages]]\nname = "colorama"\nversion = "0.4.6"\nmarker = "sys_platform == \'win32\'"\n'
        'wheels = [{url = "https://x/colorama-0.4.6-py2.py3-none-any.whl", hashes = {sha256 = "bb"}}]\n'
        '[[packages]]\nname = "rich"\nversion = "13.0.0"\nmarker = "\'fancy\' in extras"\n'
        'wheels = [{url = "https://x/rich-13.0.0-py3-none-any.whl", hashes = {sha256 = "cc"}}]\n'
        '[[packages]]\nname = "pytest"\nversion = "8.0.0"\nmarker = "\'dev\' in dependency_groups"\n'
        'wheels = [{url = "https://x/pytest-8.0.0-py3-none-any.whl", hashes = {sha256 = "dd"}}]\n', encoding="utf-8")
    (tmp_path / "pylock.windows-x86_64.toml").write_text("not the developer's\n", encoding="utf-8")
    plain = developer_lock.find("auto", tmp_path, [tmp_path], None, [], tmp_path / "cache")
    assert plain is not None and plain.kind == "pylock.toml"
    assert sorted(plain.pins_for(WINDOWS, "3.11")) == ["colorama", "humanize"]  # no dev group, no extra
    assert sorted(plain.pins_for(LINUX, "3.11")) == ["humanize"]
    fancy = developer_lock.find("pylock.toml", tmp_path, [tmp_path], None, ["fancy"], tmp_path / "cache")
    assert fancy is not None and sorted(fancy.pins_for(LINUX, "3.11")) == ["humanize", "rich"]


def test_a_named_lock_that_is_not_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "reqs.txt").write_text("rich>=13\n", encoding="utf-8")
    with pytest.raises(KilnError, match="not pinned"):
        developer_lock.find("reqs.txt", tmp_path, [tmp_path], None, [], tmp_path / "cache")
    with pytest.raises(KilnError, match="does not exist"):
        developer_lock.find("missing.lock", tmp_path, [tmp_path], None, [], tmp_path / "cache")


def test_uv_lock_is_read_with_uv_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real uv.lock, made by `uv lock` against a folder of wheels; dev groups never ship, extras when asked."""
    isolate_pip(monkeypatch)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name, version in (("humanize", "4.9.0"), ("humanize", "4.17.0"), ("colorama", "0.4.6"), ("shtab", "1.7.1"),
                          ("rich", "13.0.0"), ("pytest", "8.0.0")):
        module_wheel(wheels, name, version)
    app = tmp_path / "app"
    app.mkdir()
    (app / "pyproject.toml").write_text(
        '[project]\nname = "my-app"\nversion = "1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["humanize<4.10", "colorama; sys_platform == \'win32\'", "shtab; sys_platform != \'win32\'"]\n'
        '[project.optional-dependencies]\nfancy = ["rich"]\n[dependency-groups]\ndev = ["pytest"]\n'
        '[tool.uv]\npackage = false\n', encoding="utf-8")
    cache = tmp_path / "cache"
    subprocess.run([uv_binary(), "lock", "--no-index", "--find-links", str(wheels), "--python", "3.11"], cwd=app,
                   env={**os.environ, **uv_env(cache)}, check=True, capture_output=True)
    lock = developer_lock.find("auto", tmp_path, [app, tmp_path], None, [], cache)
    assert lock is not None and lock.kind == "uv.lock" and lock.path == app / "uv.lock"
    assert {n: p.version for n, p in lock.pins_for(WINDOWS, "3.11").items()} == {"colorama": "0.4.6",
                                                                                 "humanize": "4.9.0"}
    assert {n: p.version for n, p in lock.pins_for(LINUX, "3.11").items()} == {"humanize": "4.9.0", "shtab": "1.7.1"}
    fancy = developer_lock.find("auto", tmp_path, [app], None, ["fancy"], cache)
    assert fancy is not None and "rich" in fancy.pins_for(LINUX, "3.11") and "pytest" not in fancy.pins_for(LINUX,
                                                                                                             "3.11")
