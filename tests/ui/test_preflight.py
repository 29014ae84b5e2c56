"""The Build page says, before building, which installers will get no Python runtime, and its button adds a runtime
archive to Kiln's cache (both through child processes: `kiln preflight`, `kiln runtimes add`)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from kit.testing import REPO
from PySide6.QtWidgets import QFileDialog

from kiln.ui.page_ids import PageId

pytestmark = pytest.mark.slow


def test_missing_runtime_is_named_and_an_archive_fixes_it(driver: Any, hello: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.dmg import fake_macos_runtime

    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))  # nothing cached
    monkeypatch.setenv("PBS_INSTALLER_BASE_URL", "http://127.0.0.1:9/m")  # and nothing downloadable
    shutil.copy(REPO / "examples" / "hello" / "kiln.toml", hello / "kiln.toml")  # appimage, portable, msi, dmg
    archive = tmp_path / "cpython-3.11.4+20230726-aarch64-apple-darwin-install_only.tar.gz"
    fake_macos_runtime(archive)

    driver.open_project(hello / "kiln.toml")
    driver.go_to(PageId.BUILD)
    page = driver.page(PageId.BUILD)
    preflight = page.preflight
    driver.qtbot.waitUntil(lambda: preflight.isVisible(), timeout=60000)
    assert [(i["kind"], i["platform"]) for i in preflight.issues] == [("dmg", "macos-arm64")]
    assert preflight.message.text() == (
        "The DMG for macOS (Apple silicon) cannot be built yet: it needs Python 3.11 for macOS (Apple silicon), and "
        "Kiln has none here and cannot download one (no connection to the internet). Choose a Python file for macOS "
        "(Apple silicon) that you have, or build on a computer that reaches the internet.")
    assert "kiln runtimes add" in preflight.details.details()  # the command, and the address, behind Details
    assert "PBS_INSTALLER_BASE_URL" not in preflight.message.text() and not preflight.details.text.isVisible()

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(archive), ""))
    driver.click(preflight.choose)
    driver.qtbot.waitUntil(lambda: not preflight.isVisible(), timeout=60000)
    assert preflight.issues == []
    assert any((tmp_path / "cache" / "runtimes" / "macos-arm64").iterdir())
