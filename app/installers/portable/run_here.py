"""The wizard's Run button for a portable archive: unpacked (safely), then its launcher."""

from __future__ import annotations

from pathlib import Path

from kiln.installers.portable.reader import extract
from kiln.kinds.contract import RunHere


def run_here(artifact: Path, scratch: Path) -> RunHere:
    extract(artifact, scratch)
    top = next(p for p in scratch.iterdir() if p.is_dir())
    return RunHere(top / top.name)
