"""Where a problem belongs: a project-file location (`app.version`, `installer[1].scope`) → wizard page + field key.

Field keys are what pages register their widgets under: section fields keep their dotted location; installer
fields use the kind instead of the index (`installer.msi.scope`) because the page shows one box per kind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kiln.support.errors import Problem
from kiln.ui.page_ids import PageId

_PAGE_OF_SECTION: dict[str, PageId] = {
    "app": PageId.APPLICATION,
    "entry": PageId.ENTRY,
    "source": PageId.ENTRY,  # the source folder is chosen next to the entry point it holds
    "dependencies": PageId.DEPENDENCIES,
    "python": PageId.DEPENDENCIES,
    "icon": PageId.ICON,
    "installer": PageId.INSTALLERS,
    "build": PageId.INSTALLERS,  # the output folder sits under the installer choices
    "association": PageId.INSTALLERS,  # file types and the licence file sit below the installers
}
_ON_INSTALLERS_PAGE = ("app.license_file",)
_INSTALLER = re.compile(r"^installer\[(\d+)\](?:\.(.*))?$")


def page_for(location: str) -> PageId:
    """The page that owns a location; file-level problems (`line 3`, `schema_version`) belong to Start."""
    if location in _ON_INSTALLERS_PAGE:
        return PageId.INSTALLERS
    section = re.split(r"[.\[]", location, maxsplit=1)[0]
    return _PAGE_OF_SECTION.get(section, PageId.START)


def field_key(location: str, installer_kinds: Sequence[str] = ()) -> str:
    """The widget key for a location; `installer[i].x` becomes `installer.<kind of i>.x`."""
    match = _INSTALLER.match(location)
    if not match:
        return location
    index, rest = int(match.group(1)), match.group(2)
    kind = installer_kinds[index] if index < len(installer_kinds) else ""
    if not kind:
        return "installer"
    return f"installer.{kind}.{rest}" if rest else f"installer.{kind}"


def key_candidates(key: str) -> list[str]:
    """The key, then each parent (`installer.msi.scope` → `installer.msi` → `installer`): the first registered wins."""
    parts = key.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def describe(problem: Problem) -> str:
    """One line for a message that names the page: 'Application page — app.version: … (hint)'."""
    return f"{page_for(problem.location).label} page — {problem}"
