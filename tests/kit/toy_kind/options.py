"""The `[[installer]]` table of kind = "toy"."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from kiln.kinds.options import InstallerOptions
from kiln.support.targets import PlatformName


class ToyOptions(InstallerOptions):
    kind: Literal["toy"] = "toy"
    greeting: str = "hello from the toy kind"
    """First line of the artifact."""

    @field_validator("greeting")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("write a greeting, e.g. hello")
        return value

    @property
    def platform(self) -> PlatformName:
        return "linux-x86_64"
