"""UDIF (.dmg) writer: wraps a raw disk image in Apple's Universal Disk Image Format, zlib-compressed, in pure Python.

Layout of the file: `[data fork: compressed chunks][XML plist][koly trailer, 512 B]`, all big-endian. The plist
lists one `blkx` entry per partition; each holds a binary "mish" table mapping runs of 512-byte sectors to chunks in
the data fork. The output is deterministic: same image and partitions in, same bytes out.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import plistlib
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kiln.support.atomic import atomic_path

SECTOR = 512
CHUNK_SECTORS = 2048  # 1 MiB of image per compressed chunk, as hdiutil does for UDZO
BUFFERS_NEEDED = CHUNK_SECTORS + 8  # decompression buffer in sectors that readers allocate (0x808, as hdiutil)
MIN_ZERO_RUN = 8  # shorter all-zero runs stay inside data chunks: a separate chunk would cost more than it saves

CHUNK_ZERO = 0x00000000
CHUNK_RAW = 0x00000001
CHUNK_IGNORE = 0x00000002
CHUNK_ZLIB = 0x80000005
CHUNK_COMMENT = 0x7FFFFFFE
CHUNK_END = 0xFFFFFFFF
CHUNK_NAMES = {CHUNK_ZERO: "zero", CHUNK_RAW: "raw", CHUNK_IGNORE: "ignore", CHUNK_ZLIB: "zlib"}

CHECKSUM_CRC32 = 2
KOLY_FORMAT = ">4sIIIQQQQQII16sII128sQQ120sII128sIQ12s"
MISH_FORMAT = ">4sIQQQIi24sII128sI"
CHUNK_FORMAT = ">IIQQQQ"
KOLY_SIZE = struct.calcsize(KOLY_FORMAT)
MISH_SIZE = struct.calcsize(MISH_FORMAT)
CHUNK_SIZE = struct.calcsize(CHUNK_FORMAT)
IMAGE_VARIANT_DEVICE = 1  # a whole disk with a partition map
IMAGE_VARIANT_PARTITION = 2  # a single bare partition

_ZERO_MIB = bytes(CHUNK_SECTORS * SECTOR)
_ZERO_RUN = bytes(MIN_ZERO_RUN * SECTOR)
_ZERO_SECTOR = bytes(SECTOR)


@dataclass(frozen=True)
class UdifPartition:
    """One `blkx` entry: a contiguous run of sectors of the disk image, e.g. `disk image (Apple_HFS : 2)`, ID 1."""

    name: str
    first_sector: int
    sector_count: int
    id: int


@dataclass(frozen=True)
class UdifStats:
    """What `write_udif` wrote: sizes, checksums and how many chunks of each kind."""

    sector_count: int
    uncompressed_bytes: int
    data_fork_bytes: int
    file_bytes: int
    data_fork_crc: int
    master_crc: int
    chunk_counts: dict[str, int] = field(default_factory=dict)


def checksum_field(crc: int) -> bytes:
    """The 136-byte UDIF checksum record for a CRC32 (type 2, 32 bits, value in the first word)."""
    return struct.pack(">II128s", CHECKSUM_CRC32, 32, struct.pack(">I", crc))


def master_checksum(partition_crcs: Iterable[int]) -> int:
    """CRC32 over every blkx checksum, 4 big-endian bytes each, in plist order (what 7-Zip and libdmg check)."""
    return zlib.crc32(b"".join(struct.pack(">I", c) for c in partition_crcs))


def whole_disk(sector_count: int) -> list[UdifPartition]:
    """A single blkx covering the whole image, for images without a partition map."""
    return [UdifPartition("whole disk (unknown partition : 0)", 0, sector_count, 0)]


def _sector_runs(view: memoryview | mmap.mmap, first: int, count: int) -> list[list[int]]:
    """Split sectors [first, first+count) into alternating [is_zero, start, length] runs (starts are absolute)."""
    runs: list[list[int]] = []

    def add(is_zero: int, start: int, length: int) -> None:
        if runs and runs[-1][0] == is_zero:
            runs[-1][2] += length
        else:
            runs.append([is_zero, start, length])

    for window in range(first, first + count, CHUNK_SECTORS):
        n = min(CHUNK_SECTORS, first + count - window)
        block = bytes(view[window * SECTOR : (window + n) * SECTOR])
        if block == _ZERO_MIB[: n * SECTOR]:
            add(1, window, n)
        elif _ZERO_RUN not in block:  # fast path: no run of MIN_ZERO_RUN zero sectors can exist here
            add(0, window, n)
        else:
            for i in range(n):
                add(int(block[i * SECTOR : (i + 1) * SECTOR] == _ZERO_SECTOR), window + i, 1)
    # Short zero runs go back into the data around them.
    merged: list[list[int]] = []
    for is_zero, start, length in runs:
        kind = is_zero if length >= MIN_ZERO_RUN else 0
        if merged and merged[-1][0] == kind:
            merged[-1][2] += length
        else:
            merged.append([kind, start, length])
    return merged


def _plan_chunks(view: memoryview | mmap.mmap, part: UdifPartition) -> list[tuple[bool, int, int]]:
    """(is_zero, absolute first sector, sector count) for each chunk of a partition, in order."""
    chunks: list[tuple[bool, int, int]] = []
    for is_zero, start, length in _sector_runs(view, part.first_sector, part.sector_count):
        if is_zero:
            chunks.append((True, start, length))
            continue
        end = start + length
        chunks.extend((False, s, min(CHUNK_SECTORS, end - s)) for s in range(start, end, CHUNK_SECTORS))
    return chunks


def _pipeline(
    tasks: Sequence[tuple[bool, int, int]], work: Callable[[tuple[bool, int, int]], tuple[int, bytes]], workers: int
) -> Iterator[tuple[int, bytes]]:
    """Results of `work` over tasks, in order, with at most a few chunks per worker in flight (bounded memory)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[tuple[int, bytes]]] = deque()
        it = iter(tasks)
        for task in it:
            pending.append(pool.submit(work, task))
            if len(pending) >= workers * 4:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(work, nxt))
            yield result


def _validate(partitions: Sequence[UdifPartition], sector_count: int) -> None:
    expected = 0
    for p in partitions:
        if p.first_sector != expected or p.sector_count < 0:
            raise ValueError(f"partition {p.name!r} starts at sector {p.first_sector}, expected {expected}")
        expected += p.sector_count
    if expected != sector_count:
        raise ValueError(f"partitions cover {expected} sectors but the image has {sector_count}")


def _write_all(
    view: memoryview | mmap.mmap,
    sector_count: int,
    partitions: Sequence[UdifPartition],
    out: IO[bytes],
    workers: int,
    level: int,
    progress: Callable[[float], None] | None = None,
) -> UdifStats:
    """Write data fork, plist and koly to `out`; `view` is the whole disk image.

    `progress` gets the fraction of the data chunks written (by sectors; all-zero runs cost nothing and count for
    nothing), at least every 1 %, from this thread: it may raise (a cancelled build) and the pool stops with it.
    """
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    fork_crc = 0
    position = 0
    entries: list[dict[str, object]] = []
    crcs: list[int] = []

    def work(task: tuple[bool, int, int]) -> tuple[int, bytes]:
        is_zero, start, n = task
        if is_zero:
            return CHUNK_IGNORE, b""
        raw = view[start * SECTOR : (start + n) * SECTOR]
        packed = zlib.compress(raw, level)
        return (CHUNK_ZLIB, packed) if len(packed) < n * SECTOR else (CHUNK_RAW, bytes(raw))

    plans = [_plan_chunks(view, part) for part in partitions]
    if not any(not is_zero for plan in plans for is_zero, _, _ in plan):
        # dmg2img takes a data fork of length 0 (plist at offset 0) for a corrupt image: store one chunk of zeros.
        first = next(plan for plan in plans if plan)
        _, start, n = first[0]
        head = min(n, CHUNK_SECTORS)
        first[0:1] = [(False, start, head)] + ([(True, start + head, n - head)] if n > head else [])
    data_sectors = sum(n for plan in plans for is_zero, _, n in plan if not is_zero)
    sectors_done, reported = 0, 0.0
    for part, plan in zip(partitions, plans, strict=True):
        table = bytearray()
        part_crc = 0
        for (is_zero, start, n), (kind, payload) in zip(plan, _pipeline(plan, work, workers), strict=True):
            if not is_zero:  # "ignore" sectors are left out of the partition checksum (7-Zip checks it that way)
                part_crc = zlib.crc32(view[start * SECTOR : (start + n) * SECTOR], part_crc)
                sectors_done += n
                fraction = sectors_done / data_sectors
                if progress is not None and (fraction >= reported + 0.01 or sectors_done == data_sectors):
                    reported = fraction
                    progress(fraction)
            table += struct.pack(CHUNK_FORMAT, kind, 0, start - part.first_sector, n, position, len(payload))
            counts[CHUNK_NAMES[kind]] = counts.get(CHUNK_NAMES[kind], 0) + 1
            if payload:
                out.write(payload)
                fork_crc = zlib.crc32(payload, fork_crc)
                digest.update(payload)
                position += len(payload)
        table += struct.pack(CHUNK_FORMAT, CHUNK_END, 0, part.sector_count, 0, position, 0)
        header = struct.pack(
            MISH_FORMAT,
            b"mish", 1, part.first_sector, part.sector_count, 0, BUFFERS_NEEDED, part.id, bytes(24),
            *struct.unpack(">II128s", checksum_field(part_crc)),
            len(plan) + 1,
        )  # fmt: skip
        crcs.append(part_crc)
        entries.append(
            {
                "Attributes": "0x0050",
                "CFName": part.name,
                "Data": header + bytes(table),
                "ID": str(part.id),
                "Name": part.name,
            }
        )

    xml = plistlib.dumps({"resource-fork": {"blkx": entries}}, fmt=plistlib.FMT_XML, sort_keys=True)
    out.write(xml)
    digest.update(xml)
    segment_id = bytearray(digest.digest()[:16])
    segment_id[6] = (segment_id[6] & 0x0F) | 0x80  # mark it as a content-derived (version 8) UUID
    segment_id[8] = (segment_id[8] & 0x3F) | 0x80
    master = master_checksum(crcs)
    variant = IMAGE_VARIANT_DEVICE if any(p.id == -1 for p in partitions) else IMAGE_VARIANT_PARTITION
    koly = struct.pack(
        KOLY_FORMAT,
        b"koly", 4, KOLY_SIZE, 1,  # signature, version, header size, flags (1 = flattened)
        0, 0, position, 0, 0,  # running data fork offset; data fork offset and length; resource fork (none)
        1, 1, bytes(segment_id),  # segment 1 of 1
        *struct.unpack(">II128s", checksum_field(fork_crc)),
        position, len(xml), bytes(120),  # XML plist offset and length
        *struct.unpack(">II128s", checksum_field(master)),
        variant, sector_count, bytes(12),
    )  # fmt: skip
    out.write(koly)
    return UdifStats(
        sector_count=sector_count,
        uncompressed_bytes=sector_count * SECTOR,
        data_fork_bytes=position,
        file_bytes=position + len(xml) + KOLY_SIZE,
        data_fork_crc=fork_crc,
        master_crc=master,
        chunk_counts=dict(sorted(counts.items())),
    )


def write_udif(
    disk_image: bytes | Path,
    out: Path,
    *,
    partitions: Sequence[UdifPartition] | None = None,
    workers: int | None = None,
    level: int = 6,
    progress: Callable[[float], None] | None = None,
) -> UdifStats:
    """Write `disk_image` (bytes, or a file read through mmap) to `out` as a zlib-compressed UDIF image.

    `partitions` must tile the image in order (see `hfs_volume.make_disk_image` for the classic DDM + partition map +
    HFS + free layout); None writes one whole-disk entry. `out` appears atomically: a temporary file in the same
    folder is renamed at the end. `progress` receives the fraction of the chunks compressed so far (0..1).
    """
    workers = workers or os.cpu_count() or 1
    with atomic_path(out, mode=0o644) as tmp_path, tmp_path.open("wb") as tmp:
        if isinstance(disk_image, Path):
            with disk_image.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                _check_size(size)
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    stats = _write_checked(mapped, size, partitions, tmp, workers, level, progress)
        else:
            stats = _write_checked(memoryview(disk_image), len(disk_image), partitions, tmp, workers, level, progress)
    return stats


def _check_size(size: int) -> None:
    if size % SECTOR or not size:
        raise ValueError(f"disk image size {size} is not a positive multiple of {SECTOR} bytes")


def _write_checked(
    view: memoryview | mmap.mmap,
    size: int,
    partitions: Sequence[UdifPartition] | None,
    out: IO[bytes],
    workers: int,
    level: int,
    progress: Callable[[float], None] | None = None,
) -> UdifStats:
    _check_size(size)
    sector_count = size // SECTOR
    parts = list(partitions) if partitions is not None else whole_disk(sector_count)
    _validate(parts, sector_count)
    return _write_all(view, sector_count, parts, out, workers, level, progress)
