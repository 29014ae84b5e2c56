"""appimage.format: ELF end offset, type-2 detection, runtime lookup, reproducible payload, atomic assembly."""

from __future__ import annotations

import hashlib
import os
import struct
import sys
from pathlib import Path

import pytest
from kit.testing import require_tools as need

from kiln.installers.appimage.format import (
    AppImageFormatError,
    assemble,
    elf_end_offset,
    is_type2_appimage,
    make_squashfs,
    runtime_path,
)
from kiln.support.errors import KilnError, ToolMissing


def make_appdir(root: Path) -> Path:
    appdir = root / "AppDir"
    (appdir / "usr" / "bin").mkdir(parents=True)
    (appdir / "AppRun").write_text("#!/bin/sh\nexit 0\n")
    (appdir / "AppRun").chmod(0o755)
    (appdir / "app.desktop").write_text("[Desktop Entry]\nType=Application\nName=App\nExec=app\nIcon=app\n")
    (appdir / "usr" / "bin" / "tool").write_bytes(b"\x00" * 1000)
    (appdir / "app.png").symlink_to("usr/bin/tool")
    return appdir


def elf32_big_endian() -> bytes:
    """A synthetic 32-bit big-endian ELF: header, 2 section headers at 52, one section at 200..250, 50 spare bytes."""
    ident = b"\x7fELF" + bytes([1, 2, 1]) + bytes(9)
    header = ident + struct.pack(">HHIIIIIHHHHHH", 2, 8, 1, 0, 0, 52, 0, 52, 32, 0, 40, 2, 0)
    null_section = bytes(40)
    progbits = struct.pack(">IIIIIIIIII", 1, 1, 0, 0, 200, 50, 0, 0, 1, 0)
    data = header + null_section + progbits
    return data + bytes(300 - len(data))


def test_elf_end_of_ordinary_binaries_is_their_size() -> None:
    for path in (Path(sys.executable).resolve(), Path("/bin/true").resolve()):
        assert elf_end_offset(path) == path.stat().st_size == elf_end_offset(path.read_bytes())


def test_elf_end_ignores_appended_data() -> None:
    runtime = runtime_path().read_bytes()
    assert elf_end_offset(runtime + b"hsqs" + bytes(5000)) == len(runtime)
    assert elf_end_offset(bytearray(runtime)) == elf_end_offset(memoryview(runtime)) == len(runtime)


def test_elf_end_32_bit_big_endian() -> None:
    assert elf_end_offset(elf32_big_endian()) == 250


def test_elf_end_rejects_non_elf_and_truncated(tmp_path: Path) -> None:
    with pytest.raises(AppImageFormatError, match="not an ELF"):
        elf_end_offset(b"#!/bin/sh\n")
    with pytest.raises(AppImageFormatError, match="truncated"):
        elf_end_offset(runtime_path().read_bytes()[:100_000])
    with pytest.raises(AppImageFormatError, match="cannot read"):
        elf_end_offset(tmp_path / "missing")


def test_runtime_path_is_the_shipped_verified_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KILN_APPIMAGE_RUNTIME", raising=False)  # CI points it at its own build
    path = runtime_path()
    assert path.name == "runtime-x86_64"
    assert path.parent.parts[-3:] == ("resources", "launchers", "appimage")
    assert os.access(path, os.X_OK)
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[8:11] == b"AI\x02"
    recorded = (path.parent / "runtime-x86_64.sha256").read_text().split()[0]
    assert hashlib.sha256(data).hexdigest() == recorded


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    need("mksquashfs")
    out = tmp_path / "payload.sqfs"
    make_squashfs(make_appdir(tmp_path), out)
    return out


def test_make_squashfs_is_reproducible(tmp_path: Path, payload: Path) -> None:
    appdir = tmp_path / "AppDir"
    os.utime(appdir / "usr" / "bin" / "tool", (1_000_000, 1_000_000))  # timestamps must not matter
    again = tmp_path / "again.sqfs"
    make_squashfs(appdir, again)
    assert payload.read_bytes()[:4] == b"hsqs"
    assert again.read_bytes() == payload.read_bytes()


def test_make_squashfs_names_the_package_when_mksquashfs_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolMissing) as info:
        make_squashfs(make_appdir(tmp_path), tmp_path / "x.sqfs")
    assert "squashfs-tools" in str(info.value)


def test_make_squashfs_requires_apprun(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(KilnError, match="AppRun"):
        make_squashfs(tmp_path / "empty", tmp_path / "x.sqfs")


def test_assemble_writes_executable_type2_appimage(tmp_path: Path, payload: Path) -> None:
    out = tmp_path / "dist" / "App.AppImage"
    assemble(runtime_path(), payload, out)
    runtime = runtime_path().read_bytes()
    assert out.read_bytes() == runtime + payload.read_bytes()
    assert out.stat().st_mode & 0o777 == 0o755
    assert elf_end_offset(out) == len(runtime)
    assert is_type2_appimage(out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["App.AppImage"], "no temp files left"
    # Replacing an existing file is atomic and keeps the result valid.
    assemble(runtime_path(), payload, out)
    assert is_type2_appimage(out)


def test_assemble_rejects_wrong_inputs(tmp_path: Path, payload: Path) -> None:
    out = tmp_path / "App.AppImage"
    with pytest.raises(AppImageFormatError, match="not an AppImage type-2 runtime"):
        assemble(Path("/bin/true").resolve(), payload, out)
    padded = tmp_path / "padded-runtime"
    padded.write_bytes(runtime_path().read_bytes() + b"extra")
    with pytest.raises(AppImageFormatError, match="appended"):
        assemble(padded, payload, out)
    with pytest.raises(AppImageFormatError, match="not a squashfs"):
        assemble(runtime_path(), runtime_path(), out)
    assert list(tmp_path.glob("*.AppImage*")) == []


def test_is_type2_appimage_negative_cases(tmp_path: Path, payload: Path) -> None:
    assert not is_type2_appimage(runtime_path()), "the bare runtime has no payload"
    assert not is_type2_appimage(Path("/bin/true"))
    assert not is_type2_appimage(tmp_path / "missing")
    text = tmp_path / "text"
    text.write_text("hello")
    assert not is_type2_appimage(text)
    # ELF magic but no AI\x02: a plain binary with a squashfs appended is not a type-2 AppImage.
    plain = tmp_path / "plain"
    plain.write_bytes(Path("/bin/true").resolve().read_bytes() + payload.read_bytes())
    assert not is_type2_appimage(plain)


def test_runtime_override_names_another_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CI points Kiln at the runtime it just built (KILN_APPIMAGE_RUNTIME); a wrong path is a clear error."""
    from kiln.installers.appimage.format import runtime_path
    from kiln.support.errors import KilnError

    rebuilt = tmp_path / "runtime-x86_64"
    rebuilt.write_bytes(b"\x7fELF")
    monkeypatch.setenv("KILN_APPIMAGE_RUNTIME", str(rebuilt))
    assert runtime_path() == rebuilt
    monkeypatch.setenv("KILN_APPIMAGE_RUNTIME", str(tmp_path / "missing"))
    with pytest.raises(KilnError, match="KILN_APPIMAGE_RUNTIME names"):
        runtime_path()
    monkeypatch.delenv("KILN_APPIMAGE_RUNTIME")
    assert runtime_path().parent.name == "appimage" and runtime_path().is_file()
