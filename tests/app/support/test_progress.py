"""Progress read from a tool's own output: mksquashfs's bar and xorriso's pacifier, for real, output unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kit.testing import require_tools

from kiln.installers.appimage.format import make_squashfs
from kiln.support.errors import BuildCancelled, ToolFailed
from kiln.support.progress import mksquashfs_fraction, run_with_progress, xorriso_fraction


def test_fraction_of_the_bar() -> None:
    assert mksquashfs_fraction(b"[=========/          ] 300/1200  25%") == 0.25
    assert mksquashfs_fraction(b"[===================] 1200/1200 100%") == 1.0
    assert mksquashfs_fraction(b"Parallel mksquashfs: Using 2 processors") is None


def test_fraction_of_xorrisos_pacifier() -> None:
    assert xorriso_fraction(b"xorriso : UPDATE :  19.36% done") == pytest.approx(0.1936)
    assert xorriso_fraction(b"xorriso : UPDATE :  100.00% done") == 1.0
    assert xorriso_fraction(b"xorriso : UPDATE :       1 files added in 1 seconds") is None


def test_progress_read_from_stderr_with_the_environment_overlay(tmp_path: Path) -> None:
    script = tmp_path / "pacifier.sh"
    script.write_text('for p in 10.00 45.50 $LAST; do echo "xorriso : UPDATE :  $p% done" >&2; done\n'
                      'echo "ordinary output"\n', encoding="utf-8")
    seen: list[float] = []
    run_with_progress(["sh", script], xorriso_fraction, seen.append, "the pacifier", env={"LAST": "100.00"},
                      stream="stderr")
    assert seen == pytest.approx([0.1, 0.455, 1.0])


def test_a_cancel_raised_by_the_report_stops_the_tool(tmp_path: Path) -> None:
    script = tmp_path / "long.sh"
    # Reports once, then would run for a long while: the cancel must kill it, not wait for it.
    script.write_text('echo "xorriso : UPDATE :  5.00% done" >&2\nexec sleep 600\n', encoding="utf-8")

    def cancel(_fraction: float) -> None:
        raise BuildCancelled("build cancelled")

    with pytest.raises(BuildCancelled):
        run_with_progress(["sh", script], xorriso_fraction, cancel, "the long tool", stream="stderr")


def _appdir(tmp_path: Path) -> Path:
    appdir = tmp_path / "AppDir"
    appdir.mkdir()
    (appdir / "AppRun").write_text("#!/bin/sh\n", encoding="utf-8")
    # mksquashfs redraws its bar on a timer: a small job shows only its end, a long one many steps.
    for index in range(8):
        (appdir / f"data{index}.bin").write_bytes(os.urandom(256 * 1024))
    return appdir


def test_mksquashfs_reports_its_progress_and_writes_the_same_image(tmp_path: Path) -> None:
    require_tools("mksquashfs")
    appdir = _appdir(tmp_path)
    seen: list[float] = []
    make_squashfs(appdir, tmp_path / "with-progress.squashfs", seen.append)
    make_squashfs(appdir, tmp_path / "quiet.squashfs")
    assert seen and seen[-1] == 1.0 and seen == sorted(seen), seen
    assert (tmp_path / "with-progress.squashfs").read_bytes() == (tmp_path / "quiet.squashfs").read_bytes()


def test_a_failing_tool_says_what_failed(tmp_path: Path) -> None:
    require_tools("mksquashfs")
    with pytest.raises(ToolFailed, match="packing the test"):
        run_with_progress(["mksquashfs", tmp_path / "missing", tmp_path / "out.squashfs", "-noappend"],
                          mksquashfs_fraction, lambda _f: None, what="packing the test")
