"""Fixtures of the DMG signing tests: markupsafe's real macOS modules and self-made certificates, made once."""

from __future__ import annotations

from pathlib import Path

import pytest
from kit.macos import Certificate, developer_id_certificate, markupsafe_module


@pytest.fixture(scope="session")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """markupsafe's compiled module: "arm64" (thin, linker-signed) and "universal2" (x86_64 unsigned + arm64)."""
    folder = tmp_path_factory.mktemp("markupsafe")
    return {"arm64": markupsafe_module(folder, "macosx_11_0_arm64"),
            "universal2": markupsafe_module(folder, "macosx_10_9_universal2")}


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Certificate]:
    """"developer-id": Developer ID Application (Apple's extension); "other": a plain code signing certificate."""
    folder = tmp_path_factory.mktemp("certificates")
    return {"developer-id": developer_id_certificate(folder / "devid"),
            "other": developer_id_certificate(folder / "other", "Apple Development: Someone", developer_id=False)}
