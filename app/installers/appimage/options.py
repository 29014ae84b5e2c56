"""The `[[installer]]` table of kind = "appimage"."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from kiln.model.installer_options import InstallerOptions
from kiln.support.targets import PlatformName


class AppImageOptions(InstallerOptions):
    kind: Literal["appimage"] = "appimage"
    categories: list[str] = Field(default_factory=lambda: ["Utility"])
    """freedesktop.org main categories for the menu entry, e.g. Utility, Development, Office."""
    terminal: bool | None = None
    """Open a terminal when started from a menu. Empty: yes for console apps, no for GUI apps."""

    @field_validator("categories")
    @classmethod
    def _some_category(cls, value: list[str]) -> list[str]:
        from kiln.installers.appimage.desktop_entry import normalize_categories

        if not value:
            raise ValueError("enter at least one menu category, e.g. Utility")
        normalize_categories(value)  # raises ValueError naming the accepted categories
        if any(c != c.strip() for c in value):
            raise ValueError("a category has spaces around it; write it as e.g. \"Utility\"")
        return value

    @property
    def platform(self) -> PlatformName:
        return "linux-x86_64"
