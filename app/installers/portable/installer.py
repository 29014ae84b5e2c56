"""The portable kind: the bundle and a launcher in one folder, packed as a reproducible .tar.zst."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO, ClassVar, cast

import zstandard

from kiln.build.types import BuildContext, StagedApp
from kiln.installers.portable.options import PortableOptions
from kiln.support.posix_launcher import posix_launcher
from kiln.support.targets import TARGETS, Target

_BLOCK = tarfile.BLOCKSIZE


class PortableInstaller:
    kind: ClassVar[str] = "portable"
    extension: ClassVar[str] = ".tar.zst"

    def __init__(self, options: PortableOptions) -> None:
        self.options = options

    @property
    def target(self) -> Target:
        return TARGETS[self.options.platform]

    def required_tools(self) -> list[str]:
        return []

    def artifact_name(self, staged: StagedApp) -> str:
        stem = self.options.output_name or f"{staged.app.name}-{staged.app.version}-{self.target.name}"
        return stem + self.extension

    def build(self, ctx: BuildContext, staged: StagedApp, out: Path) -> None:
        if self.target.os != "linux":
            from kiln.model.errors import KilnError

            raise KilnError("the portable kind is built for linux-x86_64 only so far",
                            hint="use the msi or dmg kinds for Windows and macOS")
        launcher = staged.bundle / staged.app.name
        launcher.write_text(posix_launcher(staged.app.title, staged.python_relpath), encoding="utf-8")
        launcher.chmod(0o755)
        files = sorted(staged.bundle.rglob("*"))
        # What tar will write: a header block per entry and each file's data (PAX headers for long names and the
        # end-of-archive blocks come on top, so the fraction stays a little under 1 until the end).
        total = sum(_BLOCK + (p.lstat().st_size if p.is_file() else 0) for p in [staged.bundle, *files])
        params = zstandard.ZstdCompressionParameters.from_level(ctx.project.build.compression_level, threads=-1)
        compressor = zstandard.ZstdCompressor(compression_params=params)
        with out.open("wb") as raw, compressor.stream_writer(raw) as compressed:
            counted = _CountingWriter(compressed, total, ctx.reporter.progress)
            # Stream mode ("w|") only ever calls write(): the counter needs no seek, tell or read.
            with tarfile.open(fileobj=cast(IO[bytes], counted), mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.add(staged.bundle, arcname=staged.app.name, recursive=False, filter=_normalize)
                for path in files:
                    tar.add(path, arcname=f"{staged.app.name}/{path.relative_to(staged.bundle).as_posix()}",
                            recursive=False, filter=_normalize)
        ctx.reporter.progress(1.0, f"packed {counted.written >> 20} MiB")
        os.chmod(out, 0o644)


class _CountingWriter:
    """Passes tar's output on to the zstd compressor unchanged, reporting the bytes fed so far.

    tarfile writes a file's data in blocks as it reads them, so one large file moves the fraction as it is
    compressed, not only when it is done. Reports come at most every 1 % (tar writes in 10 KiB records).
    """

    def __init__(self, sink: BinaryIO, total: int, progress: Callable[[float, str], None]) -> None:
        self._sink, self._total, self._progress = sink, max(total, 1), progress
        self.written = 0
        self._reported = 0.0

    def write(self, data: bytes) -> int:
        self._sink.write(data)
        self.written += len(data)
        fraction = min(0.99, self.written / self._total)
        if fraction >= self._reported + 0.01:
            self._reported = fraction
            self._progress(fraction, f"packing {self.written >> 20} of {self._total >> 20} MiB")
        return len(data)


def _normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Same input → same bytes: no owners, no times, modes reduced to what matters."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
    info.pax_headers = {}
    return info
