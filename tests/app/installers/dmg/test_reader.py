"""UDIF reader: parsing, chunk statistics, every checksum, corruption detection, and chunk kinds Kiln does not write."""

from __future__ import annotations

import bz2
import lzma
import plistlib
import random
import struct
import zlib
from pathlib import Path

import pytest

from kiln.installers.dmg.reader import SECTOR, describe, read_dmg, read_image, read_partition, verify_dmg
from kiln.installers.dmg.udif import UdifPartition, checksum_field, master_checksum, write_udif
from kiln.support.errors import KilnError

TEXT = (b"Kiln reads back what it writes. " * 40000)[: 2100 * SECTOR]
NOISE = random.Random(3).randbytes(40 * SECTOR)
IMAGE = bytes(SECTOR) + TEXT + bytes(300 * SECTOR) + NOISE
PARTS = [
    UdifPartition("Driver Descriptor Map (DDM : 0)", 0, 1, -1),
    UdifPartition("disk image (Apple_HFS : 1)", 1, len(IMAGE) // SECTOR - 1, 0),
]


@pytest.fixture
def dmg(tmp_path: Path) -> Path:
    out = tmp_path / "x.dmg"
    write_udif(IMAGE, out, partitions=PARTS)
    return out


def test_reads_partitions_chunks_and_stats(dmg: Path) -> None:
    info = read_dmg(dmg)
    assert info.version == 4 and info.sector_count == len(IMAGE) // SECTOR
    assert [(p.name, p.id, p.first_sector, p.sector_count) for p in info.partitions] == [
        (p.name, p.id, p.first_sector, p.sector_count) for p in PARTS
    ]
    stats = info.chunk_stats()
    assert set(stats) == {"zlib", "raw", "ignore"}
    assert sum(s.sectors for s in stats.values()) == info.sector_count
    assert stats["ignore"].compressed_bytes == 0 and stats["raw"].compressed_bytes == len(NOISE)
    assert sum(s.compressed_bytes for s in stats.values()) == info.data_fork_length
    assert read_partition(info, info.partitions[1]) == IMAGE[SECTOR:]
    assert read_image(dmg) == IMAGE
    text = describe(info)
    assert "disk image (Apple_HFS : 1)" in text and "zlib" in text and f"{len(IMAGE)} bytes" in text


def test_a_sound_image_verifies(dmg: Path) -> None:
    assert verify_dmg(dmg) == []


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_detects_a_damaged_raw_chunk(dmg: Path) -> None:
    raw = next(c for p in read_dmg(dmg).partitions for c in p.chunks if c.kind == "raw")
    flip(dmg, raw.offset + 5)
    problems = verify_dmg(dmg)
    assert any("data fork CRC32" in p for p in problems)
    assert any("disk image (Apple_HFS : 1)" in p and "CRC32" in p for p in problems)


def test_detects_a_damaged_zlib_chunk(dmg: Path) -> None:
    chunk = next(c for p in read_dmg(dmg).partitions for c in p.chunks if c.kind == "zlib" and c.length > 100)
    flip(dmg, chunk.offset + chunk.length // 2)
    with pytest.raises(KilnError):
        verify_dmg(dmg)


def test_detects_a_wrong_master_checksum(dmg: Path) -> None:
    flip(dmg, dmg.stat().st_size - 512 + 0x160 + 8)
    assert any("master CRC32" in p for p in verify_dmg(dmg))


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "too small"), (bytes(4096), "no koly"), (b"koly" + bytes(508), "no XML plist")],
)
def test_rejects_files_that_are_not_udif(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.dmg"
    path.write_bytes(data)
    with pytest.raises(KilnError, match=message):
        read_dmg(path)


def koly_for_xml(xml: bytes) -> bytes:
    koly = bytearray(512)
    koly[:4] = b"koly"
    koly[0xD8:0xE8] = struct.pack(">QQ", 0, len(xml))
    return xml + bytes(koly)


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (b"<?xml <<< not a plist", "unreadable plist"),
        (plistlib.dumps({"other": 1}), "unreadable plist"),
        (plistlib.dumps({"resource-fork": {"blkx": ["text"]}}), "no Data"),
        (plistlib.dumps({"resource-fork": {"blkx": [{"Data": b"mish"}]}}), "no mish table"),
    ],
)
def test_rejects_damaged_plists(tmp_path: Path, xml: bytes, message: str) -> None:
    path = tmp_path / "bad.dmg"
    path.write_bytes(koly_for_xml(xml))
    with pytest.raises(KilnError, match=message):
        read_dmg(path)


def hand_made_dmg(path: Path, chunks: list[tuple[int, int, bytes]]) -> bytes:
    """A one-partition UDIF written by hand: (chunk type, sectors, stored bytes) each; returns the image it holds."""
    fork = b""
    table = b""
    image = b""
    sector = 0
    for kind, sectors, stored in chunks:
        table += struct.pack(">IIQQQQ", kind, 0, sector, sectors, len(fork), len(stored))
        plain = {0x80000006: bz2.decompress, 0x80000008: lzma.decompress}.get(kind, lambda b: b)(stored)
        image += plain if stored else bytes(sectors * SECTOR)
        fork += stored
        sector += sectors
    table += struct.pack(">IIQQQQ", 0xFFFFFFFF, 0, sector, 0, len(fork), 0)
    crc = zlib.crc32(image)
    mish = struct.pack(">4sIQQQIi24s", b"mish", 1, 0, sector, 0, 0x808, 0, bytes(24))
    mish += checksum_field(crc) + struct.pack(">I", len(chunks) + 1) + table
    xml = plistlib.dumps({"resource-fork": {"blkx": [{"Attributes": "0x0050", "Data": mish, "ID": "0", "Name": "p"}]}})
    koly = struct.pack(
        ">4sIIIQQQQQII16s",
        *(b"koly", 4, 512, 1, 0, 0, len(fork), 0, 0, 1, 1, bytes(16)),
    )
    koly += checksum_field(zlib.crc32(fork)) + struct.pack(">QQ", len(fork), len(xml)) + bytes(120)
    koly += checksum_field(master_checksum([crc])) + struct.pack(">IQ", 2, sector) + bytes(12)
    path.write_bytes(fork + xml + koly)
    return image


def test_reads_bzip2_xz_zero_and_comment_chunks(tmp_path: Path) -> None:
    path = tmp_path / "h.dmg"
    image = hand_made_dmg(
        path,
        [
            (0x80000006, 4, bz2.compress(TEXT[: 4 * SECTOR])),
            (0x00000000, 3, b""),
            (0x80000008, 2, lzma.compress(NOISE[: 2 * SECTOR])),
            (0x7FFFFFFE, 0, b""),
        ],
    )
    assert read_image(path) == image
    assert verify_dmg(path) == []
    assert set(read_dmg(path).chunk_stats()) == {"bzip2", "zero", "xz"}


def test_unsupported_chunk_kinds_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "adc.dmg"
    hand_made_dmg(path, [(0x80000004, 1, b"\x80" + bytes(SECTOR))])
    with pytest.raises(KilnError, match="adc chunks are not supported"):
        read_image(path)
