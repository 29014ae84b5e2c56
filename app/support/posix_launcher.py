"""The one POSIX shell launcher that starts a bundle's Python on kiln_boot.py: portable folders and AppImage's
AppRun use it (the macOS .app starts with a Mach-O launcher, resources/launchers/macos)."""

from __future__ import annotations

import shlex

MAX_LINKS = 40
"""Symlinks followed to the launcher before giving up (a loop must be an error, not a hang)."""


def posix_launcher(
    title: str,
    python_relpath: str,
    bundle_from_script: str = "",
    *,
    comment: str = "",
    appimage: bool = False,
) -> str:
    """A /bin/sh script (macOS /bin/sh, dash, bash) that finds its real folder, then execs the bundled Python
    isolated on kiln_boot.py with the script's arguments.

    It follows symlinks to itself (e.g. from /usr/local/bin) one `readlink` at a time and resolves the folder
    with the shell's own `cd -P`/`pwd -P`: no `readlink -f` (absent before macOS 12.3), and no extra process when
    the launcher is not a link. Trailing newlines in folder names survive (the `x` sentinel).

    `bundle_from_script`: the bundle's path relative to the script's folder ("" = the same folder).
    `appimage`: the AppImage runtime's ARGV0 (the .AppImage's path) becomes the app's sys.argv[0].
    Project strings appear only in the comment line (made one line) or through shlex.quote.
    """
    title = " ".join(title.split())
    bundle = '"$here"' if not bundle_from_script else f'"$here"/{shlex.quote(bundle_from_script)}'
    argv0 = '"${ARGV0:-$0}"' if appimage else '"$0"'
    lines = [
        "#!/bin/sh",
        f"# Written by Kiln: starts {title} with its own Python.{' ' + comment if comment else ''}",
        "self=$0",
        "case $self in */*) ;; *) self=./$self ;; esac",
        "n=0",
        'while [ -L "$self" ]; do',
        f'    n=$((n + 1)); [ "$n" -le {MAX_LINKS} ] || {{ echo "$0: too many symbolic links" >&2; exit 126; }}',
        '    link=$(readlink -- "$self" && echo x) || exit 126',
        "    link=${link%?x}",
        "    case $link in /*) self=$link ;; *) self=${self%/*}/$link ;; esac",
        "done",
        'here=$(cd -P -- "${self%/*}/" && pwd -P && echo x) || exit 126',
        "here=${here%?x}",
        f"bundle={bundle}",
        f'KILN_ARGV0={argv0} exec "$bundle"/{shlex.quote(python_relpath)} -I "$bundle"/kiln_boot.py "$@"',
        "",
    ]
    return "\n".join(lines)
