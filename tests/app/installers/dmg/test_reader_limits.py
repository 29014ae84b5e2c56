"""Crafted disk images: refused with a clear message, in bounded memory, before their declared sizes are allocated.

Each `kiln inspect` runs in a fresh process that reports its own peak resident memory (VmHWM), as
tests/app/support/test_icon_limits.py measures the icon checks.
"""

from __future__ import annotations

import json
import plistlib
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from kiln.installers.dmg.reader import SECTOR, crc32_of_zeros, read_dmg, read_image, verify_dmg
from kiln.installers.dmg.udif import checksum_field, master_checksum
from kiln.support.errors import KilnError
from kiln.support.limits import CHUNK_MAX_BYTES, INFLATED_MAX_BYTES

MEMORY_LIMIT = 256 * 1024 * 1024
ZLIB, ZERO, IGNORE, RAW = 0x80000005, 0x00000000, 0x00000002, 0x00000001

_CHILD = """
import json, sys
from pathlib import Path
from kiln.cli.main import main
code = main(["inspect", sys.argv[1]])
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"code": code, "peak": peak}), file=sys.stderr)
"""


def inspect_in_child(path: Path) -> tuple[int, str, int]:
    """`kiln inspect path` in a fresh process: exit code, what it printed, its peak resident memory (bytes)."""
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=300)
    *printed, last = done.stderr.rstrip("\n").split("\n")
    result = json.loads(last)
    return result["code"], done.stdout + "\n".join(printed), result["peak"]


def craft_dmg(path: Path, chunks: list[tuple[int, int, bytes]], crc: int = 0) -> None:
    """A one-partition UDIF written by hand: (chunk type, sectors, stored bytes) each. `crc` is the partition's
    CRC32 as its table states it (the caller knows what the chunks inflate to; they may be too big to make here)."""
    fork = table = b""
    sector = 0
    for kind, sectors, stored in chunks:
        table += struct.pack(">IIQQQQ", kind, 0, sector, sectors, len(fork), len(stored))
        fork += stored
        sector += sectors
    table += struct.pack(">IIQQQQ", 0xFFFFFFFF, 0, sector, 0, len(fork), 0)
    mish = struct.pack(">4sIQQQIi24s", b"mish", 1, 0, sector, 0, 0x808, 0, bytes(24))
    mish += checksum_field(crc) + struct.pack(">I", len(chunks) + 1) + table
    xml = plistlib.dumps({"resource-fork": {"blkx": [{"Attributes": "0x0050", "Data": mish, "ID": "0", "Name": "p"}]}})
    koly = struct.pack(">4sIIIQQQQQII16s", b"koly", 4, 512, 1, 0, 0, len(fork), 0, 0, 1, 1, bytes(16))
    koly += checksum_field(zlib.crc32(fork)) + struct.pack(">QQ", len(fork), len(xml)) + bytes(120)
    koly += checksum_field(master_checksum([crc])) + struct.pack(">IQ", 2, sector) + bytes(12)
    path.write_bytes(fork + xml + koly)


def zlib_bomb(unpacked: int) -> bytes:
    """A valid zlib stream of `unpacked` zero bytes (a whole number of MiB), made without holding them: one fully
    flushed deflate block of a MiB (it refers to nothing before it) repeated, then the Adler-32 of the whole."""
    mib = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = packer.compress(mib) + packer.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(unpacked >> 20):
        adler = zlib.adler32(mib, adler)
    return b"\x78\xda" + block * (unpacked >> 20) + packer.flush() + struct.pack(">I", adler)


def test_a_zero_chunk_of_two_to_the_forty_sectors_is_refused(tmp_path: Path) -> None:
    dmg = tmp_path / "huge-zero.dmg"
    craft_dmg(dmg, [(ZERO, 1 << 40, b"")])
    assert dmg.stat().st_size < 2000
    code, printed, peak = inspect_in_child(dmg)
    assert code == 1 and "internal error" not in printed and "MemoryError" not in printed
    assert "its chunk tables declare 524288.0 GiB of disk image; Kiln reads images of up to 32.0 GiB" in printed
    assert peak < MEMORY_LIMIT


def test_a_zlib_bomb_declared_small_is_refused_after_its_declared_size(tmp_path: Path) -> None:
    bomb = zlib_bomb(1 << 30)
    assert len(bomb) < 1_200_000  # a 1 MB file that inflates to 1 GiB
    dmg = tmp_path / "bomb-4k.dmg"
    craft_dmg(dmg, [(ZLIB, 8, bomb)])  # the table says 4 KiB
    code, printed, peak = inspect_in_child(dmg)
    assert code == 1 and "internal error" not in printed
    assert "chunk at sector 0 inflates to more than the 4096 bytes its table declares" in printed
    assert peak < MEMORY_LIMIT


def test_a_zlib_bomb_declared_as_big_as_it_is_is_refused_before_inflating(tmp_path: Path) -> None:
    dmg = tmp_path / "bomb-1g.dmg"
    craft_dmg(dmg, [(ZLIB, (1 << 30) // SECTOR, zlib_bomb(1 << 30))])
    code, printed, peak = inspect_in_child(dmg)
    assert code == 1 and "internal error" not in printed
    assert "the chunk at sector 0 declares 1.0 GiB; Kiln reads chunks of up to 16.0 MiB" in printed
    assert peak < MEMORY_LIMIT


def test_a_chunk_at_the_limit_that_inflates_past_it_stops_there(tmp_path: Path) -> None:
    dmg = tmp_path / "bomb-16m.dmg"
    craft_dmg(dmg, [(ZLIB, CHUNK_MAX_BYTES // SECTOR, zlib_bomb(1 << 30))])
    with pytest.raises(KilnError, match="inflates to more than the 16777216 bytes its table declares"):
        verify_dmg(dmg)


def test_stored_bytes_past_the_chunk_limit_are_refused(tmp_path: Path) -> None:
    dmg = tmp_path / "raw.dmg"
    craft_dmg(dmg, [(RAW, 8, bytes(CHUNK_MAX_BYTES + 1))])
    with pytest.raises(KilnError, match=r"sector 0 stores 16777217 bytes; Kiln reads chunks of up to 16777216"):
        read_dmg(dmg)


def test_long_zero_runs_are_checked_without_being_made(tmp_path: Path) -> None:
    """8 GiB of zeros and a little data: the checksum is right, and the run is never allocated."""
    data = b"Kiln" * (SECTOR // 4) * 8
    zeros = 8 << 30
    crc = zlib.crc32(data, crc32_of_zeros(zeros))
    dmg = tmp_path / "sparse.dmg"
    craft_dmg(dmg, [(ZERO, zeros // SECTOR, b""), (ZLIB, 8, zlib.compress(data))], crc=crc)
    assert verify_dmg(dmg) == []
    _code, printed, peak = inspect_in_child(dmg)  # 7-Zip cannot list its (empty) volume: a listing problem
    assert "checksums: all CRC32s match" in printed
    assert peak < MEMORY_LIMIT


def test_a_wrong_checksum_over_zero_runs_is_still_found(tmp_path: Path) -> None:
    dmg = tmp_path / "sparse.dmg"
    craft_dmg(dmg, [(ZERO, 4, b""), (IGNORE, 4, b"")], crc=zlib.crc32(bytes(8 * SECTOR)))  # ignore runs don't count
    assert any("partition 'p' CRC32" in problem for problem in verify_dmg(dmg))
    craft_dmg(dmg, [(ZERO, 4, b""), (IGNORE, 4, b"")], crc=zlib.crc32(bytes(4 * SECTOR)))
    assert verify_dmg(dmg) == []
    assert read_image(dmg) == bytes(8 * SECTOR)


@pytest.mark.parametrize("count", [0, 1, 3, 512, 4095, 1 << 20, 3 * (1 << 20) + 7])
def test_crc_of_zeros_is_zlibs(count: int) -> None:
    for start in (0, 0xDEADBEEF):
        assert crc32_of_zeros(count, start) == zlib.crc32(bytes(count), start)


def test_an_image_declaring_more_than_the_limit_is_refused(tmp_path: Path) -> None:
    dmg = tmp_path / "big.dmg"
    craft_dmg(dmg, [(ZERO, INFLATED_MAX_BYTES // SECTOR, b""), (ZERO, 1, b"")])
    with pytest.raises(KilnError, match=r"Kiln reads images of up to 32\.0 GiB"):
        read_dmg(dmg)
