"""The portable kind: the bundle and a launcher in one folder, packed as a reproducible .tar.zst."""

from __future__ import annotations

import os
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO, ClassVar, cast

import zstandard

from kiln.installers.portable.options import PortableOptions
from kiln.kinds.contract import BuildContext, Installer, StagedApp
from kiln.kinds.sbom import FILE_NAME as SBOM_NAME
from kiln.kinds.sbom import kiln_part, layout_under
from kiln.support.layers import base_key, normalized_mode, take_base, tree_digest
from kiln.support.posix_launcher import posix_launcher

_BLOCK = tarfile.BLOCKSIZE


class PortableInstaller(Installer[PortableOptions]):
    kind: ClassVar[str] = "portable"

    def build(self, ctx: BuildContext, staged: StagedApp, out: Path) -> None:
        if self.target.os != "linux":
            from kiln.support.errors import KilnError

            raise KilnError("the portable kind is built for linux-x86_64 only so far",
                            hint="use the msi or dmg kinds for Windows and macOS")
        launcher = staged.bundle / staged.command
        launcher.write_text(posix_launcher(staged.app.title, staged.python_relpath), encoding="utf-8")
        launcher.chmod(0o755)
        sbom = _place_sbom(ctx, staged, launcher)
        files = sorted(staged.bundle.rglob("*"))
        # What tar will write: a header block per entry and each file's data (PAX headers for long names and the
        # end-of-archive blocks come on top, so the fraction stays a little under 1 until the end).
        total = sum(_BLOCK + (p.lstat().st_size if p.is_file() else 0) for p in [staged.bundle, *files])
        level = ctx.project.build.compression_level
        params = zstandard.ZstdCompressionParameters.from_level(level, threads=-1)
        compressor = zstandard.ZstdCompressor(compression_params=params)
        # Two zstd frames (kiln.support.layers): the base (all but app/), compressed once and kept in the cache,
        # then the app's files and the end of the archive. One .tar.zst: zstd reads concatenated frames as one.
        app = staged.app_dir
        layer = [p for p in files if p == app or app in p.parents]
        base = [p for p in files if not (p == app or app in p.parents)]
        name = staged.app.name
        content = tree_digest([(f"{name}/{p.name}", p) for p in sorted(staged.bundle.iterdir()) if p != app],
                              remember=(staged.runtime_dir, staged.packages_dir))
        key = base_key(self.kind, content, {"zstd": zstandard.ZSTD_VERSION, "zstandard": zstandard.__version__,
                                            "level": level, "tar": "pax", "python": sys.version_info[:2]})

        def make_base(dest: Path) -> dict[str, int]:
            with dest.open("wb") as raw, compressor.stream_writer(raw, closefd=False) as compressed:
                counted = _CountingWriter(compressed, total, ctx.reporter.progress)
                tar = tarfile.TarFile(fileobj=cast(IO[bytes], _At(counted, 0)), mode="w", format=tarfile.PAX_FORMAT)
                _add(tar, staged, [staged.bundle, *base])  # not closed: the end-of-archive blocks come last
            return {"tar_length": tar.offset}

        reused, info = take_base(ctx.cache_dir, key, make_base, out, ctx.reporter.warn)
        if reused:
            ctx.reporter.log("runtime and dependencies unchanged: reusing their compressed tar frame from the cache")
        with out.open("ab") as raw, compressor.stream_writer(raw, closefd=False) as compressed:
            counted = _CountingWriter(compressed, total, ctx.reporter.progress)
            counted.written = int(info["tar_length"])
            with tarfile.TarFile(fileobj=cast(IO[bytes], _At(counted, counted.written)), mode="w",
                                 format=tarfile.PAX_FORMAT) as tar:  # tar pads the whole archive from here
                _add(tar, staged, layer)
                if sbom is not None:  # with the app's files: the cached frame stays the same when only the app changes
                    tar.add(sbom, arcname=f"{name}/{SBOM_NAME}", recursive=False, filter=_normalize)
        ctx.reporter.progress(1.0, f"packed {counted.written >> 20} MiB")
        os.chmod(out, 0o644)


def _place_sbom(ctx: BuildContext, staged: StagedApp, launcher: Path) -> Path | None:
    """The archive's SBOM (`<name>/sbom.cdx.json`): the bundle in `<name>/`, and the launcher beside it."""
    if ctx.sbom is None:
        return None
    name = staged.app.name
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    inside = ctx.work_dir / SBOM_NAME
    shown = f"{name}/{launcher.name}"  # the launcher is named after the app's command
    part = kiln_part("kiln-launcher", "Kiln launcher", f"{shown}: starts the bundled Python on kiln_boot.py",
                     [ctx.sbom.file(shown, launcher)])
    ctx.sbom.place(staged.bundle, layout_under(name), inside, extra=[part],
                   paths=f"the archive's entries: it unpacks into the folder {name}/")
    return inside


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


class _At:
    """Tar's sink for one part of an archive: `tell` says how much of the archive came before it."""

    def __init__(self, sink: _CountingWriter, start: int) -> None:
        self._sink, self._position = sink, start

    def write(self, data: bytes) -> int:
        self._position += len(data)
        return self._sink.write(data)

    def tell(self) -> int:
        return self._position


def _add(tar: tarfile.TarFile, staged: StagedApp, paths: list[Path]) -> None:
    for path in paths:
        relative = path.relative_to(staged.bundle).as_posix()
        arcname = staged.app.name if relative == "." else f"{staged.app.name}/{relative}"
        tar.add(path, arcname=arcname, recursive=False, filter=_normalize)


def _normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Same input → same bytes: no owners, no times, modes reduced to what matters."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = normalized_mode(info.mode, info.isdir())  # the rule the cached base's key is computed with
    info.pax_headers = {}
    return info
