"""`kiln inspect FILE`: describes a built artifact with the reader of the kind that makes such files."""

from __future__ import annotations

from pathlib import Path

from kiln.installers import registry
from kiln.model.errors import KilnError


def inspect_artifact(path: Path) -> str:
    if not path.is_file():
        raise KilnError(f"{path}: no such file")
    describe = registry.reader_for(path)
    if describe is None:
        raise KilnError(f"{path.name}: not an artifact Kiln knows",
                        hint=f"kiln inspect reads {', '.join(registry.artifact_endings())}")
    return describe(path)
