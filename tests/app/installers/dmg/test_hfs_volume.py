"""HFS+ volume and DMG assembly: xorriso output, partition map parsing, names, reproducibility, independent readers."""

from __future__ import annotations

import io
import os
import random
import re
import struct
import subprocess
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kit.testing import find_tool as need

from kiln.installers.dmg.hfs_volume import (
    DEFAULT_VOLUME_NAME,
    FREE_SECTORS,
    HFS_START,
    VOLUME_NAME_MAX_BYTES,
    disk_layout,
    find_hfs_partition,
    make_disk_image,
    make_dmg,
    make_hfs_volume,
    sanitize_volume_name,
)
from kiln.installers.dmg.reader import read_dmg, read_image, verify_dmg
from kiln.support.errors import KilnError, ToolMissing
from kiln.support.tools import run

LAUNCHER = b'#!/bin/sh\nexec "$(dirname "$0")/../Resources/python/bin/python3" -m foo "$@"\n'
INFO_PLIST = b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>CFBundleName</key>' + (
    b"<string>Foo</string></dict></plist>\n"
)



def make_stage(root: Path) -> Path:
    macos = root / "Foo.app" / "Contents" / "MacOS"
    macos.mkdir(parents=True)
    (macos / "foo").write_bytes(LAUNCHER)
    (macos / "foo").chmod(0o755)
    (root / "Foo.app" / "Contents" / "Info.plist").write_bytes(INFO_PLIST)
    (root / "Foo.app" / "Contents" / "Info.plist").chmod(0o644)
    (root / "Applications").symlink_to("/Applications")
    return root


@pytest.fixture
def stage(tmp_path: Path) -> Path:
    return make_stage(tmp_path / "stage")


# --- volume names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Foo", "Foo"),
        ("My App 2.0 (beta)", "My App 2.0 (beta)"),
        ('A & B <"x">/:y\n\tz', "A B x y z"),
        ("Café", "Café"),
        ("名前", "名前"),
        ("", DEFAULT_VOLUME_NAME),
        ("../..", DEFAULT_VOLUME_NAME),
        ("\u0301\u0301", DEFAULT_VOLUME_NAME),
        ("x" * 40, "x" * 32),
        ("é" * 20, "é" * 16),
        ("Some Really Long Application Name Here", "Some Really Long Application Nam"),
    ],
)
def test_sanitize_volume_name(name: str, expected: str) -> None:
    assert sanitize_volume_name(name) == expected


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_sanitized_names_always_fit_xorriso(name: str) -> None:
    clean = sanitize_volume_name(name)
    assert clean and clean == clean.strip() and not clean.startswith(".")
    assert len(clean.encode()) <= VOLUME_NAME_MAX_BYTES
    assert not any(c in clean for c in "/:\\\"'&<>\n\r\t\0")
    assert sanitize_volume_name(clean) == clean


def root_name(archive: Path) -> str:
    """The volume name as 7-Zip shows it: the first component of every path in the HFS+ listing."""
    listing = subprocess.run([need("7z", "7zz"), "l", "-slt", str(archive)], capture_output=True, text=True, check=True)
    paths = [line[7:] for line in listing.stdout.splitlines() if line.startswith("Path = ")][1:]
    return paths[0].split("/")[0]


@pytest.mark.parametrize("name", ['Evil "Name" & <b>\n/:', "Ünïcødé 名前 app", "y" * 300, ""])
def test_hostile_volume_names_build_and_show_sanitised(stage: Path, tmp_path: Path, name: str) -> None:
    need("xorriso")
    volume = make_hfs_volume(stage, name, tmp_path / "v.hfs", epoch=1_700_000_000)
    # HFS+ keeps names decomposed (NFD), as macOS expects; compare the composed forms.
    assert unicodedata.normalize("NFC", root_name(volume)) == sanitize_volume_name(name)


# --- partition map ------------------------------------------------------------------------------------------------


def fake_apm(block: int, entries: list[tuple[bytes, int, int]]) -> bytes:
    """An image whose DDM declares `block`-byte blocks and whose map entries sit every `block` bytes."""
    data = bytearray(block * 64)
    data[:4] = b"ER" + struct.pack(">H", block)
    for i, (kind, start, count) in enumerate(entries, start=1):
        entry = struct.pack(">2sHIII32s32s", b"PM", 0, len(entries), start, count, b"x", kind)
        data[i * block : i * block + len(entry)] = entry
    return bytes(data)


@pytest.mark.parametrize("block", [512, 2048])
def test_find_hfs_partition_in_either_block_size(block: int) -> None:
    image = fake_apm(block, [(b"Apple_partition_map", 1, 3), (b"ISO9660_data", 4, 4), (b"Apple_HFS", 8, 20)])
    assert find_hfs_partition(io.BytesIO(image)) == (8 * block, 20 * block)


def test_find_hfs_partition_rejects_images_without_one() -> None:
    with pytest.raises(KilnError, match="no Apple partition map"):
        find_hfs_partition(io.BytesIO(bytes(4096)))
    with pytest.raises(KilnError, match="no Apple_HFS"):
        find_hfs_partition(io.BytesIO(fake_apm(512, [(b"Apple_partition_map", 1, 2), (b"Apple_Free", 3, 9)])))


@pytest.mark.parametrize("block", ["512", "2048"])
def test_xorriso_partition_maps_in_both_block_sizes(stage: Path, tmp_path: Path, block: str) -> None:
    need("xorriso")
    iso = tmp_path / "x.iso"
    run(["xorriso", "-as", "mkisofs", "-hfsplus", "-apm-block-size", block, "-R", "-V", "T", "-o", iso, stage])
    with iso.open("rb") as f:
        assert struct.unpack(">H", f.read(4)[2:])[0] == int(block)
        offset, length = find_hfs_partition(f)
        f.seek(offset + 1024)
        assert f.read(2) == b"H+"
        f.seek(offset + 1024 + 40)
        block_size, total = struct.unpack(">II", f.read(8))
        assert block_size * total == length


# --- the volume ---------------------------------------------------------------------------------------------------


def test_volume_is_reproducible_across_restaging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need("xorriso")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = make_stage(tmp_path / "one")
    a = make_hfs_volume(first, "Foo", tmp_path / "a.hfs")
    os.utime(first / "Foo.app" / "Contents" / "Info.plist", (1, 1))  # mtimes differ, contents do not
    second = make_stage(tmp_path / "two")
    b = make_hfs_volume(second, "Foo", tmp_path / "b.hfs")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes()[1024:1026] == b"H+"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.hfs", "b.hfs", "one", "two"]  # no temp files left


def test_missing_xorriso_is_a_one_line_error_naming_the_package(
    stage: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ToolMissing) as caught:
        make_hfs_volume(stage, "Foo", tmp_path / "v.hfs")
    assert "\n" not in caught.value.message and "xorriso" in caught.value.message
    assert caught.value.hint == "install it with: sudo apt-get install xorriso"
    assert not (tmp_path / "v.hfs").exists()


def test_missing_stage_is_a_kiln_error(tmp_path: Path) -> None:
    with pytest.raises(KilnError, match="does not exist"):
        make_dmg(tmp_path / "nope", "Foo", tmp_path / "x.dmg")


def test_disk_layout_is_ddm_map_hfs_free(tmp_path: Path) -> None:
    volume = tmp_path / "v.hfs"
    volume.write_bytes(b"\x01" * 48 * 512)
    parts = make_disk_image(volume, tmp_path / "disk.img")
    disk = (tmp_path / "disk.img").read_bytes()
    assert [(p.first_sector, p.sector_count, p.id) for p in parts] == [
        (0, 1, -1),
        (1, 63, 0),
        (64, 48, 1),
        (112, 10, 2),
    ]
    assert len(disk) == (HFS_START + 48 + FREE_SECTORS) * 512
    assert disk[:2] == b"ER" and struct.unpack(">HI", disk[2:8]) == (512, 122)
    entries = [struct.unpack(">2sHIII32s32s", disk[i * 512 : i * 512 + 80]) for i in (1, 2, 3)]
    assert [(e[0], e[2], e[3], e[4], e[6].rstrip(b"\0")) for e in entries] == [
        (b"PM", 3, 1, 63, b"Apple_partition_map"),
        (b"PM", 3, 64, 48, b"Apple_HFS"),
        (b"PM", 3, 112, 10, b"Apple_Free"),
    ]
    assert disk[64 * 512 : 112 * 512] == volume.read_bytes() and disk[112 * 512 :] == bytes(10 * 512)


# --- the whole DMG, checked by independent readers ----------------------------------------------------------------


@pytest.fixture
def built(stage: Path, tmp_path: Path) -> tuple[Path, Path]:
    need("xorriso")
    dmg = tmp_path / "out" / "Foo.dmg"
    make_dmg(stage, "Foo", dmg, epoch=1_700_000_000)
    return stage, dmg


def seven_zip_test(dmg: Path) -> str:
    """'' when `7z t` (DMG and the HFS+ inside) finds no fault; else its output. It exits 0 even on CRC warnings."""
    result = subprocess.run([need("7z", "7zz"), "t", str(dmg)], capture_output=True, text=True)
    text = result.stdout + result.stderr
    sound = result.returncode == 0 and "Everything is Ok" in text and not re.search("warning|error", text, re.I)
    return "" if sound else text


def seven_zip_entries(dmg: Path) -> dict[str, dict[str, str]]:
    listing = subprocess.run([need("7z", "7zz"), "l", "-slt", str(dmg)], capture_output=True, text=True, check=True)
    entries: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in listing.stdout.split("----------", 1)[1].splitlines():
        key, sep, value = line.partition(" = ")
        if sep and key == "Path":
            current = entries.setdefault(value, {})
        elif sep:
            current[key] = value
    return entries


def test_dmg_passes_7zip_test_and_listing_shows_modes_and_link(built: tuple[Path, Path]) -> None:
    _, dmg = built
    seven = need("7z", "7zz")
    assert seven_zip_test(dmg) == ""
    entries = seven_zip_entries(dmg)
    assert entries["Foo/Foo.app/Contents/MacOS/foo"]["Mode"] == "-rwxr-xr-x"
    assert entries["Foo/Foo.app/Contents/MacOS/foo"]["Size"] == str(len(LAUNCHER))
    assert entries["Foo/Foo.app/Contents/Info.plist"]["Mode"] == "-rw-r--r--"
    assert entries["Foo/Applications"]["Mode"] == "lrwxrwxrwx"
    target = subprocess.run([seven, "x", "-so", str(dmg), "Foo/Applications"], capture_output=True, check=True)
    assert target.stdout == b"/Applications"


def test_dmg_round_trips_through_dmg2img(built: tuple[Path, Path], tmp_path: Path) -> None:
    stage, dmg = built
    img = tmp_path / "whole.img"
    result = subprocess.run([need("dmg2img"), "-i", str(dmg), "-o", str(img)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    volume = make_hfs_volume(stage, "Foo", tmp_path / "v.hfs", epoch=1_700_000_000)
    head, _ = disk_layout(volume.stat().st_size // 512)
    whole = img.read_bytes()
    assert whole == head + volume.read_bytes() + bytes(FREE_SECTORS * 512)
    assert whole == read_image(dmg)
    assert verify_dmg(dmg) == []
    assert [p.name for p in read_dmg(dmg).partitions][2] == "disk image (Apple_HFS : 2)"


def test_dpp_reads_files_modes_and_symlink(built: tuple[Path, Path]) -> None:
    dpp = pytest.importorskip("dpp")
    stage, dmg = built
    with dpp.open(str(dmg)) as image, image.filesystem() as fs:
        assert fs.fs_type == "hfsplus"
        for rel in ("Foo.app/Contents/MacOS/foo", "Foo.app/Contents/Info.plist"):
            info = fs.stat(f"/{rel}")
            assert info.mode == (stage / rel).stat().st_mode
            assert (info.uid, info.gid) == (0, 0)
            assert fs.read_file(f"/{rel}") == (stage / rel).read_bytes()
        link = fs.stat("/Applications")
        assert link.kind == "symlink" and link.mode == 0o120777
        assert fs.read_file("/Applications") == b"/Applications"
        assert fs.stat("/Foo.app").mode & 0o7777 == 0o755


def test_pydmg_checksum_and_files(built: tuple[Path, Path]) -> None:
    pydmg = pytest.importorskip("pydmg")
    _, dmg = built
    report = pydmg.inspect(dmg)
    assert report["checksum"]["data_fork_checksum_matches"] is True
    assert report["apple_filesystem"]["fs_type"] == "hfsplus"
    assert pydmg.read_apple_file(dmg, "/Foo.app/Contents/MacOS/foo") == LAUNCHER


def test_two_builds_are_byte_identical(stage: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need("xorriso")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    make_dmg(stage, "Foo", tmp_path / "a.dmg")
    make_dmg(stage, "Foo", tmp_path / "b.dmg", workers=1)
    assert (tmp_path / "a.dmg").read_bytes() == (tmp_path / "b.dmg").read_bytes()


def test_large_multi_chunk_volume_reads_back_file_for_file(tmp_path: Path) -> None:
    dpp = pytest.importorskip("dpp")
    need("xorriso")
    stage = make_stage(tmp_path / "stage")
    lib = stage / "Foo.app" / "Contents" / "Resources" / "lib"
    lib.mkdir(parents=True)
    rng = random.Random(11)
    (lib / "blob.bin").write_bytes(rng.randbytes(9 * 1024 * 1024 + 123))
    (lib / "text.py").write_bytes(b"print('kiln')\n" * 700_000)
    for i in range(400):
        (lib / f"mod{i:03}.py").write_bytes(f"VALUE = {i}\n".encode() * (i + 1))
    dmg = tmp_path / "big.dmg"
    stats = make_dmg(stage, "Big", dmg)
    assert stats.chunk_counts["zlib"] > 10
    assert seven_zip_test(dmg) == ""
    assert verify_dmg(dmg) == []
    with dpp.open(str(dmg)) as image, image.filesystem() as fs:
        for path in sorted(p for p in stage.rglob("*") if p.is_file() and not p.is_symlink()):
            rel = "/" + path.relative_to(stage).as_posix()
            assert fs.read_file(rel) == path.read_bytes(), rel
            assert fs.stat(rel).mode == path.stat().st_mode, rel
