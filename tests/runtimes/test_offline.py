"""When the catalog's newest patch cannot be downloaded: the newest cached runtime of the same 3.X, or an error
whose hint is a command that fixes the build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiln.runtimes import catalog
from kiln.runtimes.archive import install_archive
from kiln.runtimes.downloaded import DownloadedRuntimeProvider, build_choice
from kiln.support.errors import KilnError
from kiln.support.targets import TARGETS


def _noop(fraction: float, message: str) -> None:
    pass


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PBS_INSTALLER_BASE_URL", "http://127.0.0.1:9/mirror")  # refused at once


@pytest.mark.parametrize("platform", ["macos-arm64", "windows-x86_64", "linux-x86_64"])
def test_added_runtime_is_used_with_a_warning(offline: None, tmp_path: Path, fake_pbs: Any, platform: str) -> None:
    target = TARGETS[platform]
    newest = catalog.pick(target, "3.12").version
    provider = DownloadedRuntimeProvider(timeout=5)
    with pytest.raises(KilnError) as raised:
        provider.provide(target, "3.12", tmp_path / "cache", _noop)
    assert f"`kiln runtimes add ARCHIVE --platform {platform}`" in (raised.value.hint or "")
    if target.os == "windows":
        assert 'source = "embed"' in (raised.value.hint or "")
    assert build_choice(tmp_path / "cache", target, "3.12").startswith(f"{newest} ")

    archive = tmp_path / "added.tar.gz"
    archive.write_bytes(fake_pbs.archive(fake_pbs.layout(target, "3.12.1")))
    install_archive(archive, target, tmp_path / "cache", source="added", progress=_noop, minor="3.12")
    runtime = provider.provide(target, "3.12", tmp_path / "cache", _noop)
    assert runtime.full_version == "3.12.1" and runtime.reused
    (warning,) = runtime.warnings
    assert f"Python {newest} for {platform} could not be fetched" in warning and "using Python 3.12.1" in warning
    assert build_choice(tmp_path / "cache", target, "3.12") == f"{newest} if downloadable, else cached 3.12.1"
