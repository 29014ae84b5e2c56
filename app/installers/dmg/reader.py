"""A small UDIF (.dmg) reader for `kiln inspect` and the tests: partitions, chunk statistics, checksums, raw bytes.

Reads the koly trailer, the XML plist and each partition's "mish" chunk table; decompresses zlib, bzip2, xz, raw and
zero chunks (ADC and LZFSE, which Kiln never writes, are reported as unsupported).

The file may come from anywhere, so what it declares is checked before anything is allocated (kiln.support.limits):
the whole image's size when the tables are read, each chunk's size before it is read, and each chunk's inflated
size while it inflates (never more than one byte past what the table declares). Zero runs are never allocated: they
come out in pieces, and their checksum is computed without them.
"""

from __future__ import annotations

import bz2
import lzma
import plistlib
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.parsers.expat import ExpatError

from kiln.installers.dmg.udif import (
    CHECKSUM_CRC32,
    CHUNK_FORMAT,
    CHUNK_SIZE,
    KOLY_FORMAT,
    MISH_FORMAT,
    MISH_SIZE,
    SECTOR,
)
from kiln.support.errors import KilnError
from kiln.support.limits import CHUNK_MAX_BYTES, INFLATED_MAX_BYTES, PLIST_MAX_BYTES, WHOLE_READ_MAX_BYTES
from kiln.support.sizes import human_size

CHUNK_TYPES = {
    0x00000000: "zero",
    0x00000001: "raw",
    0x00000002: "ignore",
    0x80000004: "adc",
    0x80000005: "zlib",
    0x80000006: "bzip2",
    0x80000007: "lzfse",
    0x80000008: "xz",
    0x7FFFFFFE: "comment",
    0xFFFFFFFF: "end",
}
_DECOMPRESSORS: dict[str, Callable[[], Any]] = {  # each has .decompress(data, max_length)
    "zlib": zlib.decompressobj,
    "bzip2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
}
_ZERO_KINDS = ("zero", "ignore")
_ZERO_PIECE = bytes(1 << 20)  # zero runs come out in pieces of this, never allocated whole


@dataclass(frozen=True)
class Chunk:
    """One run of sectors: how it is stored (`kind`) and where in the file (absolute byte offset and length)."""

    kind: str
    first_sector: int  # absolute sector in the whole disk image
    sector_count: int
    offset: int
    length: int


@dataclass(frozen=True)
class Partition:
    """One blkx entry of the plist."""

    name: str
    id: int
    first_sector: int
    sector_count: int
    checksum: int | None  # CRC32 of the partition's stored data, None when not a CRC32
    chunks: tuple[Chunk, ...]

    @property
    def compressed_bytes(self) -> int:
        return sum(c.length for c in self.chunks)


@dataclass(frozen=True)
class ChunkStat:
    """Totals for one chunk kind across the image."""

    count: int
    sectors: int
    compressed_bytes: int


@dataclass(frozen=True)
class DmgInfo:
    """What the koly trailer and plist of a UDIF image say."""

    path: Path
    version: int
    image_variant: int
    sector_count: int
    segment_id: str
    data_fork_offset: int
    data_fork_length: int
    xml_offset: int
    xml_length: int
    data_fork_checksum: int | None
    master_checksum: int | None
    partitions: tuple[Partition, ...]

    @property
    def uncompressed_bytes(self) -> int:
        return self.sector_count * SECTOR

    def chunk_stats(self) -> dict[str, ChunkStat]:
        """Count, sectors and stored bytes per chunk kind (zlib, raw, ignore, ...)."""
        stats: dict[str, ChunkStat] = {}
        for chunk in (c for p in self.partitions for c in p.chunks):
            old = stats.get(chunk.kind, ChunkStat(0, 0, 0))
            stats[chunk.kind] = ChunkStat(
                old.count + 1, old.sectors + chunk.sector_count, old.compressed_bytes + chunk.length
            )
        return dict(sorted(stats.items()))


def _bad(path: Path, why: str) -> KilnError:
    return KilnError(f"{path} is not a readable UDIF disk image: {why}", hint="was it built by Kiln or hdiutil?")


def _crc(field: bytes) -> int | None:
    kind, bits = struct.unpack(">II", field[:8])
    return struct.unpack(">I", field[8:12])[0] if kind == CHECKSUM_CRC32 and bits == 32 else None


def _parse_mish(path: Path, data: bytes, fork_offset: int) -> tuple[int, int, int, int | None, tuple[Chunk, ...]]:
    if len(data) < MISH_SIZE or data[:4] != b"mish":
        raise _bad(path, "a blkx entry has no mish table")
    fields = struct.unpack(MISH_FORMAT, data[:MISH_SIZE])
    first, count, data_offset, ident, n = fields[2], fields[3], fields[4], fields[6], fields[11]
    if len(data) < MISH_SIZE + n * CHUNK_SIZE:
        raise _bad(path, "a mish table is shorter than its chunk count")
    chunks = []
    expected = 0
    for i in range(n):
        kind_id, _, sector, sectors, offset, length = struct.unpack_from(CHUNK_FORMAT, data, MISH_SIZE + i * CHUNK_SIZE)
        kind = CHUNK_TYPES.get(kind_id, f"0x{kind_id:08x}")
        if kind == "end":
            break
        if kind == "comment":
            continue
        if sector != expected:
            raise _bad(path, f"chunks of partition {ident} leave a gap at sector {expected}")
        expected += sectors
        chunks.append(Chunk(kind, first + sector, sectors, fork_offset + data_offset + offset, length))
    if expected != count:
        raise _bad(path, f"chunks of partition {ident} cover {expected} of {count} sectors")
    return first, count, ident, _crc(data[0x40:0xC8]), tuple(chunks)


def read_dmg(path: Path) -> DmgInfo:
    """Parse the koly trailer, the plist and every mish table of `path` (no decompression)."""
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        if size < 512:
            raise _bad(path, "too small")
        f.seek(size - 512)
        raw = f.read(512)
        k = struct.unpack(KOLY_FORMAT, raw)
        if k[0] != b"koly":
            raise _bad(path, "no koly trailer")
        fork_offset, fork_length, xml_offset, xml_length = k[5], k[6], k[15], k[16]
        if xml_length == 0 or xml_offset + xml_length > size - 512:
            raise _bad(path, "no XML plist (old resource-fork images are not supported)")
        if xml_length > PLIST_MAX_BYTES:
            raise _bad(path, f"its plist declares {human_size(xml_length)}; Kiln reads plists of up to "
                             f"{human_size(PLIST_MAX_BYTES)}")
        f.seek(xml_offset)
        try:
            plist = plistlib.loads(f.read(xml_length))
            entries: list[dict[str, Any]] = plist["resource-fork"]["blkx"]
        except (plistlib.InvalidFileException, ExpatError, KeyError, TypeError, ValueError) as e:
            raise _bad(path, f"unreadable plist ({e})") from e
    partitions = []
    for entry in entries if isinstance(entries, list) else [None]:
        if not isinstance(entry, dict) or not isinstance(entry.get("Data"), bytes):
            raise _bad(path, "a blkx entry has no Data")
        first, count, ident, crc, chunks = _parse_mish(path, entry["Data"], fork_offset)
        name = str(entry.get("Name") or entry.get("CFName") or "")
        partitions.append(Partition(name, ident, first, count, crc, chunks))
    _check_declared_sizes(path, partitions)
    return DmgInfo(
        path=path,
        version=k[1],
        image_variant=k[21],
        sector_count=k[22],
        segment_id=k[11].hex(),
        data_fork_offset=fork_offset,
        data_fork_length=fork_length,
        xml_offset=xml_offset,
        xml_length=xml_length,
        data_fork_checksum=_crc(raw[0x50:0xD8]),
        master_checksum=_crc(raw[0x160:0x1E8]),
        partitions=tuple(partitions),
    )


def _check_declared_sizes(path: Path, partitions: list[Partition]) -> None:
    """Refuse, before anything is read, an image whose tables declare more than Kiln inflates."""
    total = sum(c.sector_count for p in partitions for c in p.chunks) * SECTOR
    if total > INFLATED_MAX_BYTES:
        raise _bad(path, f"its chunk tables declare {human_size(total)} of disk image; Kiln reads images of up to "
                         f"{human_size(INFLATED_MAX_BYTES)}")
    for chunk in (c for p in partitions for c in p.chunks if c.kind not in _ZERO_KINDS):
        if (declared := chunk.sector_count * SECTOR) > CHUNK_MAX_BYTES:
            raise _bad(path, f"the chunk at sector {chunk.first_sector} declares {human_size(declared)}; Kiln reads "
                             f"chunks of up to {human_size(CHUNK_MAX_BYTES)}")
        if chunk.length > CHUNK_MAX_BYTES:
            raise _bad(path, f"the chunk at sector {chunk.first_sector} stores {chunk.length} bytes; Kiln reads chunks "
                             f"of up to {CHUNK_MAX_BYTES} bytes")


def read_chunk(f: IO[bytes], chunk: Chunk) -> bytes:
    """The inflated bytes of one data chunk (not a zero run), checked to be exactly its declared size.

    Inflation stops one byte past the declared size, so a chunk that inflates to more costs no more memory."""
    size = chunk.sector_count * SECTOR
    name = Path(getattr(f, "name", "image"))
    if size > CHUNK_MAX_BYTES or chunk.length > CHUNK_MAX_BYTES:  # read_dmg refuses such tables; be sure
        raise _bad(name, f"the chunk at sector {chunk.first_sector} is larger than {human_size(CHUNK_MAX_BYTES)}")
    f.seek(chunk.offset)
    stored = f.read(chunk.length)
    if len(stored) != chunk.length:
        raise _bad(name, f"chunk at sector {chunk.first_sector} is cut short")
    if chunk.kind == "raw":
        data = stored
    elif chunk.kind in _DECOMPRESSORS:
        try:
            data = _DECOMPRESSORS[chunk.kind]().decompress(stored, size + 1)
        except (zlib.error, OSError, lzma.LZMAError, ValueError, EOFError) as e:
            raise _bad(name, f"chunk at sector {chunk.first_sector}: {e}") from e
        if len(data) > size:
            raise _bad(name, f"chunk at sector {chunk.first_sector} inflates to more than the {size} bytes its "
                             "table declares")
    else:
        raise KilnError(f"{chunk.kind} chunks are not supported by Kiln's DMG reader")
    if len(data) != size:
        raise _bad(name, f"chunk at sector {chunk.first_sector} has the wrong size ({len(data)} bytes, its table "
                         f"declares {size})")
    return data


def iter_chunks(f: IO[bytes], partition: Partition) -> Iterator[tuple[Chunk, bytes]]:
    """Each chunk of `partition` with its decompressed bytes, read from the open DMG file `f`.

    A data chunk comes whole (at most CHUNK_MAX_BYTES); a zero run comes as several pieces of at most 1 MiB, each
    with its chunk."""
    for chunk in partition.chunks:
        if chunk.kind in _ZERO_KINDS:
            left = chunk.sector_count * SECTOR
            while left:
                piece = min(left, len(_ZERO_PIECE))
                yield chunk, _ZERO_PIECE if piece == len(_ZERO_PIECE) else bytes(piece)
                left -= piece
            continue
        yield chunk, read_chunk(f, chunk)


def read_partition(info: DmgInfo, partition: Partition) -> bytes:
    """The decompressed bytes of one partition (for tests and small images: see WHOLE_READ_MAX_BYTES)."""
    _check_whole_read(info.path, partition.sector_count * SECTOR)
    with info.path.open("rb") as f:
        return b"".join(data for _, data in iter_chunks(f, partition))


def read_image(path: Path) -> bytes:
    """The whole decompressed disk image (every partition in order), for tests and small images."""
    info = read_dmg(path)
    _check_whole_read(path, sum(p.sector_count for p in info.partitions) * SECTOR)
    with path.open("rb") as f:
        return b"".join(data for p in info.partitions for _, data in iter_chunks(f, p))


def _check_whole_read(path: Path, size: int) -> None:
    if size > WHOLE_READ_MAX_BYTES:
        raise KilnError(f"{path}: {human_size(size)} is too much to read into memory at once (the limit is "
                        f"{human_size(WHOLE_READ_MAX_BYTES)})", hint="read it chunk by chunk (iter_chunks)")


def crc32_of_zeros(count: int, crc: int = 0) -> int:
    """zlib.crc32(bytes(count), crc) without the bytes: CRC-32 is linear, so appending `count` zero bytes is one
    32x32 bit-matrix (squared for each doubling of the count) applied to the register, as zlib's crc32_combine."""
    register = crc ^ 0xFFFFFFFF
    operator = _CRC_ZERO_BYTE
    while count:
        if count & 1:
            register = _gf2_times(operator, register)
        count >>= 1
        if count:
            operator = _gf2_square(operator)
    return register ^ 0xFFFFFFFF


def _gf2_times(matrix: list[int], vector: int) -> int:
    result, row = 0, 0
    while vector:
        if vector & 1:
            result ^= matrix[row]
        vector >>= 1
        row += 1
    return result


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


_CRC_ZERO_BIT = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit through the reflected CRC-32 register
_CRC_ZERO_BYTE = _gf2_square(_gf2_square(_gf2_square(_CRC_ZERO_BIT)))


def verify_dmg(path: Path) -> list[str]:
    """Problems found by checking layout and every checksum (data fork, master, each partition); [] when sound.

    A partition's CRC32 covers its stored data, leaving out "ignore" runs: that is how hdiutil images check out
    with 7-Zip, and how Kiln writes them.
    """
    info = read_dmg(path)
    problems: list[str] = []
    expected = 0
    for p in info.partitions:
        if p.first_sector != expected:
            problems.append(f"partition {p.name!r} starts at sector {p.first_sector}, expected {expected}")
        expected = p.first_sector + p.sector_count
    if expected != info.sector_count:
        problems.append(f"partitions cover {expected} sectors, the trailer says {info.sector_count}")
    with path.open("rb") as f:
        if info.data_fork_checksum is not None:
            f.seek(info.data_fork_offset)
            crc, left = 0, info.data_fork_length
            while left:
                buf = f.read(min(left, 1 << 20))
                if not buf:
                    problems.append("the data fork is cut short")
                    break
                crc, left = zlib.crc32(buf, crc), left - len(buf)
            if crc != info.data_fork_checksum:
                problems.append(f"data fork CRC32 is {crc:08x}, the trailer says {info.data_fork_checksum:08x}")
        for p in info.partitions:
            crc = 0
            for chunk in p.chunks:  # zero runs are checksummed without being made
                if chunk.kind == "zero":
                    crc = crc32_of_zeros(chunk.sector_count * SECTOR, crc)
                elif chunk.kind != "ignore":
                    crc = zlib.crc32(read_chunk(f, chunk), crc)
            if p.checksum is not None and crc != p.checksum:
                problems.append(f"partition {p.name!r} CRC32 is {crc:08x}, its table says {p.checksum:08x}")
    if info.master_checksum is not None:
        master = zlib.crc32(b"".join(struct.pack(">I", p.checksum or 0) for p in info.partitions))
        if master != info.master_checksum:
            problems.append(f"master CRC32 is {master:08x}, the trailer says {info.master_checksum:08x}")
    return problems


def describe(info: DmgInfo) -> str:
    """A short human-readable summary, as `kiln inspect` prints it."""
    stored = sum(p.compressed_bytes for p in info.partitions)
    ratio = stored / info.uncompressed_bytes if info.uncompressed_bytes else 0.0
    lines = [
        f"{info.path.name}: UDIF v{info.version}, {info.sector_count} sectors "
        f"({info.uncompressed_bytes} bytes), {stored} bytes stored ({ratio:.1%})",
        "partitions:",
    ]
    for p in info.partitions:
        end = p.first_sector + p.sector_count
        crc = f"{p.checksum:08x}" if p.checksum is not None else "-"
        lines.append(f"  {p.id:>3} {p.name:<36} sectors {p.first_sector}-{end} crc32 {crc}")
    lines.append("chunks:")
    for kind, stat in info.chunk_stats().items():
        lines.append(f"  {kind:<8} {stat.count:>6} chunks {stat.sectors * SECTOR:>12} bytes -> {stat.compressed_bytes}")
    return "\n".join(lines)
