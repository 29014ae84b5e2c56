"""Safe extraction: good archives in every format unpack completely, hostile ones are refused with clear errors."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from kiln.runtimes.extract import UnsafeArchive, extract_archive, safe_relpath
from kiln.support.errors import KilnError
from kiln.support.targets import TARGETS

Entry = Callable[[tarfile.TarFile], None]


def _tar(path: Path, *entries: Entry, compress: str = "gz") -> Path:
    """A tar archive made of entries, each a function adding members (so tests can craft any header)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        for add in entries:
            add(tf)
    raw = buffer.getvalue()
    if compress == "gz":
        import gzip

        raw = gzip.compress(raw)
    elif compress == "zst":
        raw = zstandard.ZstdCompressor().compress(raw)
    path.write_bytes(raw)
    return path


def _file(name: str, data: bytes = b"data", mode: int = 0o644) -> Entry:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        tf.addfile(info, io.BytesIO(data))

    return add


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Entry:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        tf.addfile(info)

    return add


def _special(name: str, kind: bytes) -> Entry:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.devmajor, info.devminor = kind, 1, 3
        tf.addfile(info)

    return add


def _assert_clean(tmp_path: Path, dest: Path) -> None:
    """Nothing extracted: no destination, no temp folder beside it, nothing written outside."""
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir()] == []
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.zst", "zip"])
def test_good_archives_extract_completely(fmt: str, tmp_path: Path, fake_pbs: Any) -> None:
    layout = fake_pbs.layout(TARGETS["linux-x86_64"])
    archive = tmp_path / f"runtime.{fmt}"
    archive.write_bytes(fake_pbs.archive(layout, fmt))
    dest = extract_archive(archive, tmp_path / "out" / "rt")
    for name, (first, second) in layout.items():
        path = dest / name
        if first == "->":
            if fmt != "zip":
                assert path.is_symlink() and os.readlink(path) == second
            continue
        assert path.read_bytes() == first
        assert bool(path.stat().st_mode & stat.S_IXUSR) == bool(second & 0o100), name
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["rt"]


def test_symlinks_inside_the_archive_are_kept(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "a.tar.gz", _file("python/lib/libx.so.1"), _link("python/lib/libx.so", "libx.so.1"),
                   _link("python/bin/lib", "../lib"), _link("python/hard", "python/lib/libx.so.1", tarfile.LNKTYPE))
    dest = extract_archive(archive, tmp_path / "out" / "rt")
    assert (dest / "python/lib/libx.so").read_bytes() == b"data"
    assert (dest / "python/bin/lib").resolve() == (dest / "python/lib").resolve()
    assert (dest / "python/hard").stat().st_ino == (dest / "python/lib/libx.so.1").stat().st_ino


HOSTILE_TARS: dict[str, tuple[list[Entry], str]] = {
    "absolute path": ([_file("/abs/evil")], "absolute path"),
    "dot-dot": ([_file("python/../../outside")], "'..' component"),
    "dot-dot at start": ([_file("../outside")], "'..' component"),
    "symlink absolute": ([_link("python/etc", "/etc")], "symlink to the absolute path"),
    "symlink outside": ([_link("python/up", "../../outside")], "symlink pointing outside"),
    "symlink then write through it": (
        [_link("python/inside", "."), _file("python/inside/x")], "goes through the symlink"),
    "symlink chain outside": ([_link("a/l0", ".."), _link("a/l1", "l0/..")], "outside the destination"),
    "hardlink outside": ([_link("python/hl", "../outside", tarfile.LNKTYPE)], "'..' component"),
    "hardlink absolute": ([_link("python/hl", "/etc/passwd", tarfile.LNKTYPE)], "absolute path"),
    "hardlink to nothing": ([_link("python/hl", "python/missing", tarfile.LNKTYPE)], "not a file in the archive"),
    "hardlink to symlink": (
        [_link("python/s", "x"), _file("python/x"), _link("python/hl", "python/s", tarfile.LNKTYPE)],
        "not a file in the archive"),
    "character device": ([_special("python/null", tarfile.CHRTYPE)], "device file"),
    "block device": ([_special("python/sda", tarfile.BLKTYPE)], "device file"),
    "fifo": ([_special("python/pipe", tarfile.FIFOTYPE)], "special file"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
@pytest.mark.parametrize("compress", ["gz", "zst"])
def test_hostile_tar_is_refused(case: str, compress: str, tmp_path: Path) -> None:
    entries, reason = HOSTILE_TARS[case]
    archive = _tar(tmp_path / "evil.tar", *entries, compress=compress)
    dest = tmp_path / "out" / "rt"
    dest.parent.mkdir()
    with pytest.raises(UnsafeArchive) as error:
        extract_archive(archive, dest)
    assert reason in error.value.message
    assert error.value.message.startswith("refused to extract evil.tar: entry ")
    assert error.value.hint
    _assert_clean(tmp_path, dest)


def _zip(path: Path, name: str, data: bytes = b"x", mode: int = 0o100644) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        zf.writestr(info, data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "mode", "reason"),
    [
        ("/abs/evil", b"x", 0o100644, "absolute path"),
        ("C:/evil", b"x", 0o100644, "absolute path"),
        ("python/../../outside", b"x", 0o100644, "'..' component"),
        ("python\\..\\evil", b"x", 0o100644, "backslash"),
        ("python/link", b"../../outside", 0o120777, "symlink pointing outside"),
        ("python/link", b"/etc", 0o120777, "absolute path"),
        ("python/dev", b"", 0o020644, "device file"),
    ],
)
def test_hostile_zip_is_refused(name: str, data: bytes, mode: int, reason: str, tmp_path: Path) -> None:
    archive = _zip(tmp_path / "evil.zip", name, data, mode)
    dest = tmp_path / "out" / "rt"
    dest.parent.mkdir()
    with pytest.raises(UnsafeArchive, match=reason):
        extract_archive(archive, dest)
    _assert_clean(tmp_path, dest)


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.zst", "zip"])
def test_truncated_archive_is_a_clear_error(fmt: str, tmp_path: Path, fake_pbs: Any) -> None:
    data = fake_pbs.archive(fake_pbs.layout(TARGETS["linux-x86_64"]), fmt)
    archive = tmp_path / f"cut.{fmt}"
    archive.write_bytes(data[: len(data) // 2])
    dest = tmp_path / "out" / "rt"
    dest.parent.mkdir()
    with pytest.raises(KilnError, match="damaged"):
        extract_archive(archive, dest)
    _assert_clean(tmp_path, dest)


def test_unknown_format_and_existing_destination(tmp_path: Path) -> None:
    text = tmp_path / "notes.tar.gz"
    text.write_text("not an archive")
    with pytest.raises(KilnError, match="not a supported archive"):
        extract_archive(text, tmp_path / "out")
    archive = _tar(tmp_path / "ok.tar.gz", _file("python/x"))
    (tmp_path / "exists").mkdir()
    with pytest.raises(KilnError, match="already exists"):
        extract_archive(archive, tmp_path / "exists")


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "/", "C:", "x y"]), min_size=1, max_size=6))
def test_safe_relpath_never_escapes(parts: list[str]) -> None:
    name = "/".join(parts)
    try:
        rel = safe_relpath(Path("fuzz.tar"), name)
    except UnsafeArchive:
        return
    assert not rel.startswith("/") and ".." not in rel.split("/") and ":" not in rel[:2]
