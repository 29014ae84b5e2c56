"""`kiln inspect` of a .tar.zst that Kiln did not write: members that would land outside the folder are named."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import zstandard

from kiln.cli.main import main


def tar_zst(path: Path, members: list[tarfile.TarInfo]) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for member in members:
            data = b"x" * member.size if member.isfile() else None
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    path.write_bytes(zstandard.ZstdCompressor().compress(raw.getvalue()))


def member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


def test_escaping_members_are_listed_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "crafted.tar.zst"
    tar_zst(archive, [
        member("hello/bin/hello", size=3),
        member("hello/..", tarfile.DIRTYPE),
        member("/tmp", tarfile.DIRTYPE),
        member("hello/../../evil", size=1),
        member("hello/passwd", tarfile.SYMTYPE, link="/etc/passwd"),
        member("hello/up", tarfile.SYMTYPE, link="../../x"),
        member("hello/inside", tarfile.SYMTYPE, link="bin/hello"),
        member("hello/bin/beep\x1b[2J", size=1),
    ])
    assert main(["inspect", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "warning: 5 member(s) would land outside the folder they are unpacked into" in out
    for line in ["  hello/.. (a '..' step in its path)", "  /tmp (an absolute path)",
                 "  hello/../../evil (a '..' step in its path)",
                 "  hello/passwd (a link to the absolute path /etc/passwd)",
                 "  hello/up (a link to ../../x, outside the folder)"]:
        assert line in out.splitlines()
    assert "inside" not in out
    assert "\x1b" not in out  # a name's escape sequence is shown, not sent to the terminal


def test_an_archive_kiln_writes_gets_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "fine.tar.zst"
    tar_zst(archive, [member("hello/bin/hello", size=3), member("hello/lib/x", tarfile.SYMTYPE, link="../bin/hello")])
    assert main(["inspect", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "warning" not in out and "2 files" not in out and "1 files" in out
