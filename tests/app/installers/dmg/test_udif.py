"""UDIF writer: byte layout, chunking, determinism, and round trips through independent readers (dmg2img, 7-Zip)."""

from __future__ import annotations

import itertools
import plistlib
import random
import re
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kit.testing import find_tool as need

from kiln.installers.dmg.reader import read_dmg, read_image, verify_dmg
from kiln.installers.dmg.udif import (
    CHUNK_END,
    CHUNK_IGNORE,
    CHUNK_RAW,
    CHUNK_SECTORS,
    CHUNK_ZLIB,
    SECTOR,
    UdifPartition,
    master_checksum,
    write_udif,
)

MIB = 1 << 20



def make_image(segments: list[tuple[str, int]], seed: int) -> bytes:
    """A disk image from (kind, sectors) segments: zero, random (incompressible) or text (compressible)."""
    rng = random.Random(seed)
    parts = []
    for kind, sectors in segments:
        size = sectors * SECTOR
        if kind == "zero":
            parts.append(bytes(size))
        elif kind == "random":
            parts.append(rng.randbytes(size))
        else:
            words = [rng.choice([b"kiln ", b"dmg ", b"sector ", b"\n", b"\x00" * 7]) for _ in range(64)]
            parts.append((b"".join(words) * (size // 100 + 2))[:size])
    return b"".join(parts)


def split(sectors: int, cuts: list[int]) -> list[UdifPartition] | None:
    """Contiguous partitions cut at the given sector numbers (None = one whole-disk entry)."""
    points = sorted({c % sectors for c in cuts if c % sectors})
    if not cuts:
        return None
    bounds = [0, *points, sectors]
    return [UdifPartition(f"part {i}", a, b - a, i - 1) for i, (a, b) in enumerate(itertools.pairwise(bounds))]


SEGMENT = st.tuples(st.sampled_from(["zero", "random", "text"]), st.integers(1, 1500))
SPEC = st.tuples(
    st.lists(SEGMENT, min_size=1, max_size=5), st.integers(0, 2**32), st.lists(st.integers(0, 10**6), max_size=3)
)


def seven_zip_test(dmg: Path) -> str:
    """'' when `7z t` finds the image sound; else its output. 7-Zip exits 0 on checksum warnings, so read the text."""
    result = subprocess.run([need("7z", "7zz"), "t", "-tdmg", str(dmg)], capture_output=True, text=True)
    text = result.stdout + result.stderr
    sound = result.returncode == 0 and "Everything is Ok" in text and not re.search("warning|error", text, re.I)
    return "" if sound else text


def roundtrip_dmg2img(dmg: Path, tmp: Path) -> bytes:
    out = tmp / "dmg2img.img"
    out.unlink(missing_ok=True)
    result = subprocess.run([need("dmg2img"), "-i", str(dmg), "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return out.read_bytes()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=SPEC)
@example(spec=([("random", 1)], 1, []))  # one sector
@example(spec=([("zero", 1)], 1, []))  # one zero sector (too short for its own zero chunk)
@example(spec=([("zero", 5000)], 2, [7]))  # all zero, over 2 MiB
@example(spec=([("random", 2500)], 3, []))  # incompressible, more than one chunk
@example(spec=([("text", 2100), ("zero", 3000), ("random", 9), ("zero", 7), ("text", 1)], 4, [1, 64, 5000]))
def test_random_images_round_trip_through_dmg2img_7zip_and_reader(spec: tuple, tmp_path: Path) -> None:
    segments, seed, cuts = spec
    image = make_image(segments, seed)
    partitions = split(len(image) // SECTOR, cuts)
    dmg = tmp_path / "x.dmg"
    stats = write_udif(image, dmg, partitions=partitions, workers=2)

    assert stats.sector_count * SECTOR == len(image) == stats.uncompressed_bytes
    assert stats.file_bytes == dmg.stat().st_size
    assert roundtrip_dmg2img(dmg, tmp_path) == image
    assert read_image(dmg) == image
    assert verify_dmg(dmg) == []
    assert seven_zip_test(dmg) == ""


@pytest.mark.parametrize(("field", "complaint"), [(0x160, "Master CRC error"), (0x50, "CRC Error")])
def test_7zip_would_notice_wrong_trailer_checksums(tmp_path: Path, field: int, complaint: str) -> None:
    dmg = tmp_path / "c.dmg"
    write_udif(make_image([("text", 40), ("zero", 20)], 10), dmg)
    data = bytearray(dmg.read_bytes())
    data[len(data) - 512 + field + 8] ^= 1
    dmg.write_bytes(bytes(data))
    assert complaint in seven_zip_test(dmg)


def test_koly_trailer_fields(tmp_path: Path) -> None:
    image = make_image([("text", 100), ("zero", 50), ("random", 20)], 5)
    dmg = tmp_path / "a.dmg"
    stats = write_udif(image, dmg)
    data = dmg.read_bytes()
    koly = data[-512:]
    assert koly[:4] == b"koly"
    version, header, flags = struct.unpack(">III", koly[4:16])
    assert (version, header, flags) == (4, 512, 1)
    fork_offset, fork_length = struct.unpack(">QQ", koly[0x18:0x28])
    assert (fork_offset, fork_length) == (0, stats.data_fork_bytes)
    assert struct.unpack(">II", koly[0x38:0x40]) == (1, 1)
    assert struct.unpack(">III", koly[0x50:0x5C]) == (2, 32, zlib.crc32(data[:fork_length]))
    xml_offset, xml_length = struct.unpack(">QQ", koly[0xD8:0xE8])
    assert xml_offset == fork_length and xml_offset + xml_length == len(data) - 512
    assert data[xml_offset : xml_offset + 14] == b"<?xml version="
    assert struct.unpack(">I", koly[0x1E8:0x1EC])[0] == 2  # no DDM: a partition image
    assert struct.unpack(">Q", koly[0x1EC:0x1F4])[0] == len(image) // SECTOR
    info = read_dmg(dmg)
    assert struct.unpack(">III", koly[0x160:0x16C]) == (
        2,
        32,
        master_checksum(p.checksum or 0 for p in info.partitions),
    )


def test_plist_and_mish_tables(tmp_path: Path) -> None:
    image = make_image([("text", 3000), ("zero", 100), ("random", 10)], 6)
    sectors = len(image) // SECTOR
    parts = [UdifPartition("Driver Descriptor Map (DDM : 0)", 0, 1, -1), UdifPartition("rest", 1, sectors - 1, 0)]
    dmg = tmp_path / "p.dmg"
    write_udif(image, dmg, partitions=parts)
    data = dmg.read_bytes()
    xml_offset, xml_length = struct.unpack(">QQ", data[-512 + 0xD8 : -512 + 0xE8])
    blkx = plistlib.loads(data[xml_offset : xml_offset + xml_length])["resource-fork"]["blkx"]
    assert [e["ID"] for e in blkx] == ["-1", "0"]
    assert all(e["Attributes"] == "0x0050" and e["Name"] == e["CFName"] for e in blkx)
    mish = blkx[1]["Data"]
    assert mish[:4] == b"mish"
    version, first, count, data_offset, buffers, ident = struct.unpack(">IQQQIi", mish[4:40])
    assert (version, first, count, data_offset, buffers, ident) == (1, 1, sectors - 1, 0, CHUNK_SECTORS + 8, 0)
    assert struct.unpack(">I", mish[0xC8:0xCC])[0] * 40 + 0xCC == len(mish)
    chunks = [struct.unpack(">IIQQQQ", mish[i : i + 40]) for i in range(0xCC, len(mish), 40)]
    kinds = [c[0] for c in chunks]
    assert kinds[-1] == CHUNK_END and chunks[-1][2] == count
    assert CHUNK_ZLIB in kinds and CHUNK_IGNORE in kinds and CHUNK_RAW in kinds
    assert all(c[3] <= CHUNK_SECTORS for c in chunks if c[0] != CHUNK_IGNORE)
    assert [c[2] for c in chunks[1:]] == [c[2] + c[3] for c in chunks[:-1]]  # contiguous, relative to the partition
    assert read_dmg(dmg).image_variant == 1  # has a DDM: a device image


def test_output_is_deterministic_and_independent_of_workers_and_input_type(tmp_path: Path) -> None:
    image = make_image([("text", 2500), ("zero", 2100), ("random", 300), ("text", 3)], 7)
    source = tmp_path / "disk.img"
    source.write_bytes(image)
    outputs = [
        write_udif(image, tmp_path / "a.dmg", workers=1),
        write_udif(image, tmp_path / "b.dmg", workers=4),
        write_udif(source, tmp_path / "c.dmg"),
    ]
    blobs = {(tmp_path / n).read_bytes() for n in ("a.dmg", "b.dmg", "c.dmg")}
    assert len(blobs) == 1 and len({s.file_bytes for s in outputs}) == 1
    other = bytearray(image)
    other[-1] ^= 1
    write_udif(bytes(other), tmp_path / "d.dmg")
    ids = {read_dmg(tmp_path / n).segment_id for n in ("a.dmg", "d.dmg")}
    assert len(ids) == 2  # the segment ID follows the content


def test_compresses_text_and_stores_zero_runs_for_free(tmp_path: Path) -> None:
    image = make_image([("text", 4096), ("zero", 20000)], 8)
    stats = write_udif(image, tmp_path / "z.dmg")
    assert stats.data_fork_bytes < len(image) // 50
    assert stats.chunk_counts == {"ignore": 1, "zlib": 2}


@pytest.mark.parametrize(
    ("size", "parts", "message"),
    [
        (0, None, "positive multiple"),
        (1000, None, "multiple of 512"),
        (4 * SECTOR, [UdifPartition("a", 0, 1, 0), UdifPartition("b", 2, 2, 1)], "expected 1"),
        (4 * SECTOR, [UdifPartition("a", 0, 3, 0)], "cover 3 sectors"),
    ],
)
def test_rejects_bad_images_and_partitions_without_leaving_files(
    tmp_path: Path, size: int, parts: list[UdifPartition] | None, message: str
) -> None:
    out = tmp_path / "bad.dmg"
    out.write_bytes(b"previous")
    with pytest.raises(ValueError, match=message):
        write_udif(bytes(size), out, partitions=parts)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.dmg"]


def test_rejects_an_empty_image_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="positive multiple"):
        write_udif(empty, tmp_path / "e.dmg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.img"]


def test_dpp_and_pydmg_read_the_partitions(tmp_path: Path) -> None:
    dpp = pytest.importorskip("dpp")
    pydmg = pytest.importorskip("pydmg")
    image = make_image([("text", 64), ("random", 2200), ("zero", 300), ("text", 10)], 9)
    parts = split(len(image) // SECTOR, [1, 64, 2500])
    assert parts is not None
    dmg = tmp_path / "r.dmg"
    write_udif(image, dmg, partitions=parts)
    with dpp.DmgArchive.open(str(dmg)) as archive:
        for part in parts:
            start = part.first_sector * SECTOR
            assert archive.extract_partition(part.id) == image[start : start + part.sector_count * SECTOR]
    assert pydmg.verify_data_checksum(dmg)
    assert b"".join(pydmg.read_partition(dmg, i) for i in range(len(parts))) == image
