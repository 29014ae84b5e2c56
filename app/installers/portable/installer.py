"""The portable kind: the bundle and a launcher in one folder, packed as a reproducible .tar.zst."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import ClassVar

import zstandard

from kiln.build.types import BuildContext, StagedApp
from kiln.installers.portable.options import PortableOptions
from kiln.support.posix_launcher import posix_launcher
from kiln.support.targets import TARGETS, Target


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
        total = sum(p.lstat().st_size for p in files if p.is_file()) or 1
        done = 0
        params = zstandard.ZstdCompressionParameters.from_level(ctx.project.build.compression_level, threads=-1)
        compressor = zstandard.ZstdCompressor(compression_params=params)
        with out.open("wb") as raw, compressor.stream_writer(raw) as compressed, tarfile.open(
            fileobj=compressed, mode="w|", format=tarfile.PAX_FORMAT
        ) as tar:
            tar.add(staged.bundle, arcname=staged.app.name, recursive=False, filter=_normalize)
            for path in files:
                tar.add(path, arcname=f"{staged.app.name}/{path.relative_to(staged.bundle).as_posix()}",
                        recursive=False, filter=_normalize)
                if path.is_file():
                    done += path.lstat().st_size
                    if done % (8 << 20) < path.lstat().st_size:
                        ctx.reporter.progress(done / total, f"packing {done >> 20} MiB")
        os.chmod(out, 0o644)


def _normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Same input → same bytes: no owners, no times, modes reduced to what matters."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
    info.pax_headers = {}
    return info
