"""HFS+ volume for the DMG: xorriso builds it from the staging folder, Kiln cuts it out and lays out the whole disk.

There is no hdiutil or mkfs.hfsplus on Linux, but `xorriso -as mkisofs -hfsplus` writes a real HFS+ tree (modes and
symlinks kept) inside an ISO image and points at it with an Apple partition map. We take that Apple_HFS partition and
put it in a fresh classic disk layout (driver descriptor map, partition map, HFS+, free space) for `udif.write_udif`.
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from kiln.installers.dmg.hfs_flags import set_root_custom_icon
from kiln.installers.dmg.udif import SECTOR, UdifPartition, UdifStats, write_udif
from kiln.support.atomic import atomic_path
from kiln.support.errors import KilnError
from kiln.support.progress import run_with_progress, xorriso_fraction
from kiln.support.tools import run

VOLUME_NAME_MAX_BYTES = 32  # xorriso's -V is an ISO 9660 volume id (32 bytes); the HFS+ volume name is taken from it
DEFAULT_VOLUME_NAME = "Installer"
_NAME_PUNCTUATION = " .-_+()"

MAP_SECTORS = 63  # partition map blocks, as hdiutil and libdmg reserve
FREE_SECTORS = 10  # trailing Apple_Free partition
HFS_START = 1 + MAP_SECTORS
HFS_EPOCH_MAX = 0xFFFFFFFF - 2082844800  # HFS+ dates are unsigned 32-bit seconds since 1904 (ends in 2040)

_PM_FORMAT = ">2sHIII32s32sIIIIIIIIII16s"  # one Apple partition map entry (the rest of its block is zero)

Progress = Callable[[float, str], None]
"""Where `make_dmg` reports how far it is (0..1 of the whole job) and what it is doing."""
# Shares of `make_dmg`'s time, measured on a 200 MB payload (half random, half text, 2 cores): zlib dominates,
# xorriso and the copy are mostly disk writes (about 0.8 s, 0.7 s and 3.6 s).
_XORRISO_SHARE, _COPY_SHARE = 0.15, 0.1


def sanitize_volume_name(name: str) -> str:
    """A volume name xorriso always accepts: letters, digits and ` .-_+()`, at most 32 UTF-8 bytes, never empty."""
    text = unicodedata.normalize("NFC", name)
    kept = "".join(c if unicodedata.category(c)[0] in "LNM" or c in _NAME_PUNCTUATION else " " for c in text)
    cleaned = " ".join(kept.split()).lstrip(".- ")
    while len(cleaned.encode()) > VOLUME_NAME_MAX_BYTES:
        cleaned = cleaned[:-1]
    cleaned = cleaned.rstrip()
    # A name left with only combining marks or punctuation would look empty in Finder.
    if not any(unicodedata.category(c)[0] in "LN" for c in cleaned):
        return DEFAULT_VOLUME_NAME
    return cleaned


def source_date_epoch(stage: Path) -> int:
    """The time stamped on every file and on the volume: $SOURCE_DATE_EPOCH, else the newest mtime in `stage`."""
    env = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env.isascii() and env.isdigit():
        epoch = int(env)
    else:
        epoch = int(stage.lstat().st_mtime)
        for root, dirs, files in os.walk(stage):
            for entry in (*dirs, *files):
                epoch = max(epoch, int(os.lstat(os.path.join(root, entry)).st_mtime))
    return min(max(epoch, 0), HFS_EPOCH_MAX)


def xorriso_argv(stage: Path, volume_name: str, iso: Path, epoch: int, *, pacifier: bool = False) -> list[str]:
    """The xorriso command line: HFS+ alongside ISO 9660, owners 0:0, every date fixed at `epoch` (reproducible).

    `pacifier`: `-gui` makes xorriso print its `UPDATE : nn% done` lines several times a second (not only once a
    second) for `run_with_progress`; it changes the messages only, never the image.
    """
    stamp = time.strftime("%Y%m%d%H%M%S00", time.gmtime(epoch))
    return [
        "xorriso", "-as", "mkisofs", *(["-gui"] if pacifier else []),
        "-hfsplus", "-R", "-iso-level", "3",
        "-input-charset", "UTF-8", "-output-charset", "UTF-8",  # independent of the build machine's locale
        "-uid", "0", "-gid", "0",
        "--set_all_file_dates", f"={epoch}",
        f"--modification-date={stamp}",
        "-V", sanitize_volume_name(volume_name),
        "-o", str(iso),
        f"{stage}{os.sep}",
    ]  # fmt: skip


def find_hfs_partition(image: IO[bytes]) -> tuple[int, int]:
    """Byte offset and length of the Apple_HFS partition named by the Apple partition map at the start of `image`."""
    image.seek(0)
    ddm = image.read(SECTOR)
    if len(ddm) < SECTOR or ddm[:2] != b"ER":
        raise KilnError("xorriso wrote no Apple partition map", hint="check that xorriso supports -hfsplus (>= 1.4)")
    declared = struct.unpack(">H", ddm[2:4])[0]
    # xorriso may describe partitions in 2048-byte blocks; entries then sit every 2048 bytes too.
    for block in dict.fromkeys((declared, 512, 2048)):
        if block not in (512, 2048):
            continue
        index, count = 1, 1
        while index <= count:
            image.seek(index * block)
            entry = image.read(SECTOR)
            if len(entry) < SECTOR or entry[:2] != b"PM":
                break
            _, _, count, start, length, _, kind = struct.unpack(">2sHIII32s32s", entry[:80])
            if kind.rstrip(b"\0") == b"Apple_HFS":
                return start * block, length * block
            index += 1
    raise KilnError("xorriso's image has no Apple_HFS partition", hint="check that xorriso supports -hfsplus (>= 1.4)")


def _check_hfs(image: IO[bytes], offset: int, length: int) -> None:
    image.seek(offset + 1024)
    header = image.read(48)
    if len(header) < 48 or header[:2] not in (b"H+", b"HX") or length % SECTOR:
        raise KilnError("xorriso's Apple_HFS partition holds no HFS+ volume")
    block_size, total_blocks = struct.unpack(">II", header[40:48])
    if block_size * total_blocks > length:
        raise KilnError("xorriso's HFS+ volume is larger than its partition")


def _copy_range(
    src: IO[bytes], offset: int, length: int, dst: IO[bytes], progress: Callable[[float], None] | None = None
) -> None:
    src.seek(offset)
    left = length
    while left:
        buf = src.read(min(left, 1 << 20))
        if not buf:
            raise KilnError("the HFS+ volume ended early (is the disk full?)")
        dst.write(buf)
        left -= len(buf)
        if progress is not None and (left == 0 or (length - left) % (16 << 20) < len(buf)):
            progress((length - left) / length)  # every 16 MiB: this is a plain copy, fast


@contextmanager
def _xorriso_image(
    stage: Path, volume_name: str, work: Path, epoch: int | None, progress: Callable[[float], None] | None = None
) -> Iterator[tuple[IO[bytes], int, int, Path]]:
    """Run xorriso in a temporary folder under `work`; yield the open image, its HFS+ byte range and the folder.

    With `progress`, xorriso's own pacifier is followed (fractions of the image written).
    """
    if not stage.is_dir():
        raise KilnError(f"staging folder {stage} does not exist", hint="the DMG is built from the staged app folder")
    when = source_date_epoch(stage) if epoch is None else epoch
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix=".hfs-") as tmp:
        iso = Path(tmp) / "volume.iso"
        env = {"SOURCE_DATE_EPOCH": str(when), "TZ": "UTC"}
        what = "creating the HFS+ volume"
        if progress is None:
            run(xorriso_argv(stage, volume_name, iso, when), env=env, what=what)
        else:
            argv = xorriso_argv(stage, volume_name, iso, when, pacifier=True)
            run_with_progress(argv, xorriso_fraction, progress, what, env=env, stream="stderr")
        with iso.open("rb") as f:
            offset, length = find_hfs_partition(f)
            _check_hfs(f, offset, length)
            yield f, offset, length, Path(tmp)


def make_hfs_volume(stage: Path, volume_name: str, out: Path, *, epoch: int | None = None) -> Path:
    """Write the HFS+ volume (raw partition bytes) holding a copy of `stage` to `out`, named `volume_name` (sanitised).

    Every date is `epoch` (default: $SOURCE_DATE_EPOCH, else the newest mtime in `stage`) and every owner is 0:0, so
    the same staging folder always gives the same bytes.
    """
    with _xorriso_image(stage, volume_name, out.parent, epoch) as (iso, offset, length, _), _atomic(out) as dst:
        _copy_range(iso, offset, length, dst)
    return out


def disk_layout(volume_sectors: int) -> tuple[bytes, list[UdifPartition]]:
    """The first 64 sectors of the whole disk (DDM + partition map) and the blkx partitions for `write_udif`."""
    total = HFS_START + volume_sectors + FREE_SECTORS
    ddm = struct.pack(">2sHI", b"ER", SECTOR, total).ljust(SECTOR, b"\0")
    rows = [
        (b"Apple", b"Apple_partition_map", 1, MAP_SECTORS, MAP_SECTORS, 0x3),
        (b"disk image", b"Apple_HFS", HFS_START, volume_sectors, volume_sectors, 0x40000033),
        (b"", b"Apple_Free", HFS_START + volume_sectors, FREE_SECTORS, 0, 0),
    ]
    pm = b"".join(
        struct.pack(_PM_FORMAT, b"PM", 0, len(rows), start, count, name, kind, 0, data, status, *[0] * 7, b"").ljust(
            SECTOR, b"\0"
        )
        for name, kind, start, count, data, status in rows
    )
    head = ddm + pm.ljust(MAP_SECTORS * SECTOR, b"\0")
    partitions = [
        UdifPartition("Driver Descriptor Map (DDM : 0)", 0, 1, -1),
        UdifPartition("Apple (Apple_partition_map : 1)", 1, MAP_SECTORS, 0),
        UdifPartition("disk image (Apple_HFS : 2)", HFS_START, volume_sectors, 1),
        UdifPartition(" (Apple_Free : 3)", HFS_START + volume_sectors, FREE_SECTORS, 2),
    ]
    return head, partitions


def make_disk_image(volume: Path, out: Path) -> list[UdifPartition]:
    """Write the whole disk (DDM, partition map, `volume`, free space) to `out`; return its partitions."""
    size = volume.stat().st_size
    if size % SECTOR:
        raise KilnError(f"HFS+ volume {volume} is not a whole number of sectors")
    with volume.open("rb") as src, _atomic(out) as dst:
        return _write_disk(src, 0, size, dst)


def _write_disk(
    src: IO[bytes], offset: int, length: int, dst: IO[bytes], progress: Callable[[float], None] | None = None
) -> list[UdifPartition]:
    head, partitions = disk_layout(length // SECTOR)
    dst.write(head)
    _copy_range(src, offset, length, dst, progress)
    dst.write(bytes(FREE_SECTORS * SECTOR))
    return partitions


def make_dmg(
    stage: Path, volume_name: str, out: Path, *, epoch: int | None = None, workers: int | None = None,
    custom_icon: bool = False, progress: Progress | None = None,
) -> UdifStats:
    """Build `out` (.dmg, zlib UDIF) whose HFS+ volume holds a copy of `stage`: xorriso, disk layout, UDIF.

    `custom_icon`: the stage holds `.VolumeIcon.icns`; set the root folder's Finder flag so that Finder shows it.
    `progress`: told the fraction of the whole job as each step goes (xorriso's pacifier, bytes copied, chunks
    compressed), with what is being done; the bytes written are the same with or without it.
    """
    copy_start = _XORRISO_SHARE
    udif_start = _XORRISO_SHARE + _COPY_SHARE
    xorriso = _part(progress, 0.0, copy_start, "making the HFS+ volume")
    copy = _part(progress, copy_start, udif_start, "laying out the disk")
    udif = _part(progress, udif_start, 1.0, "compressing the disk image")
    with _xorriso_image(stage, volume_name, out.parent, epoch, xorriso) as (iso, offset, length, tmp):
        disk = tmp / "disk.img"
        with disk.open("w+b") as dst:
            partitions = _write_disk(iso, offset, length, dst, copy)
            if custom_icon:
                set_root_custom_icon(dst, HFS_START * SECTOR)
        return write_udif(disk, out, partitions=partitions, workers=workers, progress=udif)


def _part(progress: Progress | None, start: float, end: float, what: str) -> Callable[[float], None] | None:
    """One step's 0..1 mapped onto [start, end] of the whole job."""
    if progress is None:
        return None
    report = progress
    return lambda fraction: report(start + (end - start) * fraction, what)


@contextmanager
def _atomic(out: Path) -> Iterator[IO[bytes]]:
    """A file that becomes `out` only once the block finishes without error."""
    with atomic_path(out, mode=0o644) as tmp, tmp.open("wb") as f:
        yield f
