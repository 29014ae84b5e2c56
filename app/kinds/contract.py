"""The interface every installer kind implements."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Protocol

from kiln.engine.types import BuildContext, StagedApp
from kiln.support.targets import Target


class Installer(Protocol):
    """One installer kind. Adding a kind = one module with a class like this + one line in the registry."""

    kind: ClassVar[str]
    extension: ClassVar[str]
    """File name ending of the artifact, e.g. '.AppImage' or '.tar.zst'."""

    @property
    def target(self) -> Target: ...

    def required_tools(self) -> list[str]:
        """External commands this kind needs (checked before the slow stages start)."""
        ...

    def artifact_name(self, staged: StagedApp) -> str:
        """The artifact's file name, e.g. Hello-1.0-x86_64.AppImage."""
        ...

    def build(self, ctx: BuildContext, staged: StagedApp, out: Path) -> None:
        """Write the artifact to `out` (a temporary name; the engine renames it when complete)."""
        ...
