"""The wizard's Run button for a portable archive: unpacked (safely), then its launcher."""

from __future__ import annotations

import os
from pathlib import Path

from kiln.installers.portable.reader import extract
from kiln.kinds.contract import RunHere
from kiln.support.errors import KilnError


def run_here(artifact: Path, scratch: Path) -> RunHere:
    extract(artifact, scratch)
    top = next(p for p in scratch.iterdir() if p.is_dir())
    # The launcher is the one executable file beside the bundle's folders, named after the app's command.
    launchers = [p for p in sorted(top.iterdir()) if p.is_file() and os.access(p, os.X_OK)]
    if len(launchers) != 1:
        raise KilnError(f"{artifact.name} holds no single launcher at its top ({len(launchers)} found)",
                        hint="build it again with this Kiln")
    return RunHere(launchers[0])
