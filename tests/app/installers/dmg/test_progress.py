"""The DMG writer's own progress: xorriso's pacifier, the disk copy and the UDIF chunks, bytes unchanged."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from kit.testing import StageRecorder
from kit.testing import find_tool as need

from kiln.installers.dmg.hfs_volume import make_dmg
from kiln.installers.dmg.installer import DmgInstaller
from kiln.installers.dmg.reader import verify_dmg
from kiln.installers.dmg.udif import SECTOR, write_udif
from kiln.kinds.contract import BuildContext, StagedApp
from kiln.model.project import AppSection, EntrySection, Project
from kiln.support.epoch import build_epoch
from kiln.support.errors import BuildCancelled
from kiln.support.targets import TARGETS

LARGE = 24 << 20


def mixed_bytes(size: int, seed: int) -> bytes:
    """Half incompressible, half text-like: zlib does real work on every chunk."""
    rng = random.Random(seed)
    words = [bytes(rng.choices(b"abcdefghijklmnop", k=7)) for _ in range(500)]
    text = b" ".join(rng.choices(words, k=size // 16))[: size // 2].ljust(size // 2, b" ")
    return rng.randbytes(size - len(text)) + text


def staged_with_one_large_file(root: Path) -> StagedApp:
    bundle = root / "bundle"
    for rel, data in [("runtime/bin/python3.11", b"#!/bin/sh\n"), ("kiln_boot.py", b"# boot\n"),
                      ("app/hello/__init__.pyc", b"pyc")]:
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_bytes(data)
    (bundle / "packages").mkdir()
    (bundle / "packages" / "libhuge.dylib").write_bytes(mixed_bytes(LARGE, 5))
    app = AppSection(name="hello", display_name="Hello", version="1.0", identifier="org.example.hello")
    return StagedApp(bundle, TARGETS["macos-arm64"], "3.11", app, EntrySection(module="hello:main"), None)


def test_a_dmg_build_reports_many_fractions_and_writes_the_same_bytes(tmp_path: Path) -> None:
    need("xorriso")
    staged = staged_with_one_large_file(tmp_path)
    project = Project.model_validate({"app": staged.app.model_dump(), "entry": {"module": "hello:main"},
                                      "installer": [{"kind": "dmg", "platform": "macos-arm64"}]})
    installer = DmgInstaller(project.installer[0])  # type: ignore[arg-type]
    recorder = StageRecorder()
    dmg = tmp_path / "out" / installer.artifact_name(staged)
    dmg.parent.mkdir()
    installer.build(BuildContext(project, tmp_path, tmp_path / "work", tmp_path / "cache", recorder), staged, dmg)

    fractions = recorder.fractions
    assert fractions == sorted(fractions), fractions
    assert fractions[0] <= 0.05 and fractions[-1] == 1.0
    inside = [f for f in fractions if 0.0 < f < 1.0]
    assert len(set(inside)) > 5, fractions
    # 24 MiB is 24 chunks of 1 MiB: the compression moves in small steps, not one jump to the end.
    assert max(b - a for a, b in itertools.pairwise(fractions)) < 0.2, fractions
    assert {"laying out the disk", "compressing the disk image"} <= set(recorder.messages)
    assert not verify_dmg(dmg)

    # The installer's build followed progress; the same volume without it gives the same bytes.
    quiet = tmp_path / "quiet.dmg"
    make_dmg(tmp_path / "work" / "volume", installer.volume_name(staged), quiet, epoch=build_epoch(),
             custom_icon=True)
    assert quiet.read_bytes() == dmg.read_bytes()


def test_udif_reports_the_chunks_compressed_and_writes_the_same_bytes(tmp_path: Path) -> None:
    image = mixed_bytes(6 << 20, 9) + bytes(3 << 20) + mixed_bytes(2 << 20, 10)  # data, a zero run, data
    seen: list[float] = []
    write_udif(image, tmp_path / "with.dmg", progress=seen.append, workers=2)
    write_udif(image, tmp_path / "without.dmg", workers=1)
    assert (tmp_path / "with.dmg").read_bytes() == (tmp_path / "without.dmg").read_bytes()
    assert seen == sorted(seen) and seen[-1] == 1.0
    data_chunks = (8 << 20) // (2048 * SECTOR)  # the zero run is one "ignore" chunk and counts for nothing
    assert len(seen) == data_chunks, seen
    assert seen[0] == pytest.approx(1 / data_chunks)


def test_a_cancel_during_compression_leaves_no_file(tmp_path: Path) -> None:
    image = mixed_bytes(4 << 20, 11)

    def cancel(fraction: float) -> None:
        if fraction > 0.3:
            raise BuildCancelled("build cancelled")

    with pytest.raises(BuildCancelled):
        write_udif(image, tmp_path / "cancelled.dmg", progress=cancel)
    assert list(tmp_path.iterdir()) == []
