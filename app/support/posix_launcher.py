"""The POSIX shell launcher that starts a bundle's Python on kiln_boot.py (portable folders, AppRun, .app)."""

from __future__ import annotations

import shlex

from kiln.build.types import StagedApp


def posix_launcher(staged: StagedApp, bundle_from_script: str = "", comment: str = "") -> str:
    """A /bin/sh script that finds itself (through symlinks), then execs the bundled interpreter isolated.

    `bundle_from_script` is the bundle's path relative to the script's folder ("" = same folder).
    Nothing from the project is interpolated except through shlex.quote.
    """
    bundle = '"$here"' if not bundle_from_script else f'"$here"/{shlex.quote(bundle_from_script)}'
    title = " ".join(staged.app.title.split())  # one line, whatever the name holds
    lines = [
        "#!/bin/sh",
        f"# Written by Kiln: starts {shlex.quote(title)} with its own Python.{' ' + comment if comment else ''}",
        'here=$(dirname -- "$(readlink -f -- "$0")")',
        f"bundle={bundle}",
        f'KILN_ARGV0="${{ARGV0:-$0}}" exec "$bundle"/{shlex.quote(staged.python_relpath)} -I '
        '"$bundle"/kiln_boot.py "$@"',
        "",
    ]
    return "\n".join(lines)
