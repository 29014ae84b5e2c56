"""The app's command: the name its launchers and executables get, and the `sys.argv[0]` it sees.

The developer named it already when the project declares a console or GUI script for the entry (Pygments runs as
`pygmentize`, not `Pygments`): that name wins over `[app] name`, and `[entry] command` over both. The scripts are
read from the installed distributions' entry_points.txt in the staged bundle, the app's own first.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from packaging.utils import canonicalize_name

from kiln.model.project import EntrySection, is_machine_name

_GROUPS = ("console_scripts", "gui_scripts")
BUNDLE_NAMES = frozenset({"app", "packages", "runtime", "kiln_boot.py"})
"""What a bundle holds beside the launcher (kiln.kinds.contract.StagedApp): no script named so can be a launcher."""


def command_name(entry: EntrySection, app_name: str, sites: Path | tuple[Path, ...],
                 own_distribution: str = "") -> tuple[str, str]:
    """The command's name and where it comes from (empty when it is app.name).

    `sites` are the bundle's folders holding installed distributions (app/ for the app's own wheel, packages/);
    `own_distribution` the name of the app's own distribution, if it was built and installed there (its scripts come
    before those of dependencies).
    """
    if entry.command:
        return entry.command, "[entry] command"
    if ":" not in entry.module:
        return app_name, ""
    target = _target(entry.module)
    own = canonicalize_name(own_distribution) if own_distribution else None
    candidates: list[tuple[tuple[bool, bool, int], str, str]] = []
    for distribution, scripts in (found for site in ((sites,) if isinstance(sites, Path) else sites)
                                  for found in installed_scripts(site)):
        for position, (name, value) in enumerate(scripts):
            if _target(value) == target and is_machine_name(name) and name.lower() not in BUNDLE_NAMES:
                # The app's own distribution first, then a script named like the app, then the file's order.
                rank = (canonicalize_name(distribution) != own, name != app_name, position)
                candidates.append((rank, name, distribution))
    if not candidates:
        return app_name, ""
    _, name, distribution = min(candidates)
    return name, f"the script {name} = {entry.module} of {distribution}"


def installed_scripts(packages: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    """(distribution name, [(script name, target)…]) for every distribution in `packages` that declares scripts."""
    result = []
    for entry_points in sorted(packages.glob("*.dist-info/entry_points.txt")):
        parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # script names keep their case
        try:
            parser.read_string(entry_points.read_text(encoding="utf-8", errors="replace"))
        except configparser.Error:
            continue
        scripts = [(name, value) for group in _GROUPS if parser.has_section(group)
                   for name, value in parser.items(group)]
        if scripts:
            result.append((entry_points.parent.name.removesuffix(".dist-info").split("-")[0], scripts))
    return result


def _target(value: str) -> str:
    """`pkg.mod:func` without spaces and without the `[extras]` an entry point may name."""
    return re.sub(r"\s+", "", value.split("[", 1)[0])
