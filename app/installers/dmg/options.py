"""The `[[installer]]` table of kind = "dmg"."""

from __future__ import annotations

from typing import Literal

from kiln.model.installer_options import InstallerOptions


class DmgOptions(InstallerOptions):
    kind: Literal["dmg"] = "dmg"
    platform: Literal["macos-arm64", "macos-x86_64"] = "macos-arm64"
    """Which Macs: Apple silicon (macos-arm64) or Intel (macos-x86_64)."""
    volume_name: str = ""
    """Name of the mounted disk image in Finder. Empty: the display name."""
    applications_link: bool = True
    minimum_macos: str = "11.0"
