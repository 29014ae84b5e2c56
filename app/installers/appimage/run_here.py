"""The wizard's Run button for an AppImage: the file itself, extracting itself where FUSE cannot mount it."""

from __future__ import annotations

from pathlib import Path

from kiln.kinds.contract import RunHere


def run_here(artifact: Path, scratch: Path) -> RunHere:
    return RunHere(artifact, {} if Path("/dev/fuse").exists() else {"APPIMAGE_EXTRACT_AND_RUN": "1"})
