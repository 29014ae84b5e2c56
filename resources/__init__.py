"""Kiln's own resources: launcher sources and prebuilt launchers, icons, the boot code, found with resource_path().

The bottom layer: it imports nothing of Kiln (kiln.support.prebuilt finds a prebuilt launcher, with clear errors)."""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    """A file shipped in this package, e.g. resource_path("icons", "kiln-default.png")."""
    return RESOURCES_DIR.joinpath(*parts)
