"""The `[[installer]]` table of kind = "portable"."""

from __future__ import annotations

from typing import Literal

from kiln.kinds.options import InstallerOptions
from kiln.support.targets import PlatformName


class PortableOptions(InstallerOptions):
    kind: Literal["portable"] = "portable"
    platform: PlatformName = "linux-x86_64"  # a field here: the user picks
    """The system the archive runs on."""
