"""`kiln inspect` of a damaged AppImage says what is wrong with the file, not where a build log would be."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from kit.testing import require_tools

from kiln.cli.main import main
from kiln.installers.appimage.format import assemble, elf_end_offset, make_squashfs, runtime_path


@pytest.fixture
def appimage(tmp_path: Path) -> Path:
    require_tools("mksquashfs", "unsquashfs")
    appdir = tmp_path / "AppDir"
    appdir.mkdir()
    (appdir / "AppRun").write_text("#!/bin/sh\necho hi\n")
    (appdir / "AppRun").chmod(0o755)
    (appdir / "data.bin").write_bytes(os.urandom(300_000))  # incompressible: the payload is a few hundred KB
    make_squashfs(appdir, tmp_path / "payload.sqfs")
    out = tmp_path / "tiny.AppImage"
    assemble(runtime_path(), tmp_path / "payload.sqfs", out)
    return out


def inspect(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["inspect", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_truncated_appimage_is_called_cut_short(appimage: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.truncate(appimage, appimage.stat().st_size - 100_000)
    code, out = inspect(appimage, capsys)
    assert code == 1
    assert "tiny.AppImage: the file is cut short: its squashfs payload says it is" in out
    assert "download or copy the file again" in out and "build log" not in out


def test_an_unlistable_payload_says_so_in_words(appimage: Path, capsys: pytest.CaptureFixture[str]) -> None:
    offset = elf_end_offset(appimage)
    with appimage.open("r+b") as f:  # the squashfs tables (inodes, directories, ids) follow the data
        f.seek(offset)
        superblock = struct.unpack("<4sIIIIHHHHHHQQQQQQQQ", f.read(96))
        inode_table, bytes_used = superblock[15], superblock[12]
        f.seek(offset + inode_table)
        f.write(b"\xff" * (bytes_used - inode_table))
    code, out = inspect(appimage, capsys)
    assert code == 1
    assert "tiny.AppImage: its squashfs payload cannot be listed (damaged?): unsquashfs said:" in out
    assert "build log" not in out and "internal error" not in out
