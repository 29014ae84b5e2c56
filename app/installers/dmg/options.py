"""The `[[installer]]` table of kind = "dmg"."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import field_validator

from kiln.kinds.options import InstallerOptions


class DmgOptions(InstallerOptions):
    kind: Literal["dmg"] = "dmg"
    platform: Literal["macos-arm64", "macos-x86_64"] = "macos-arm64"
    """Which Macs: Apple silicon (macos-arm64) or Intel (macos-x86_64)."""
    volume_name: str = ""
    """Name of the mounted disk image in Finder. Empty: the display name."""
    applications_link: bool = True
    minimum_macos: str = "11.0"
    """Oldest macOS the app runs on (LSMinimumSystemVersion), e.g. "11.0"."""

    @field_validator("minimum_macos")
    @classmethod
    def _minimum_macos(cls, value: str) -> str:
        if not re.fullmatch(r"\d{1,2}(\.\d{1,2}){0,2}", value):
            raise ValueError(f"'{value[:40]}' is not a macOS version; use a form like \"11.0\" or \"12.3\"")
        return value

    @field_validator("volume_name")
    @classmethod
    def _volume_name(cls, value: str) -> str:
        if len(value) > 27 * 4:  # HFS+ names are at most 255 UTF-16 units; Finder shows about 27 characters
            raise ValueError(f"is {len(value)} characters long; the limit is {27 * 4}")
        return value
