"""File associations and the PATH entry of an MSI: table rows added with msibuild after wixl.

wixl rejects the Environment element and knows no Extension/MIME tables, so Kiln writes these tables itself, as
it already patches the string tables (installer.fix_strings): export, add rows, import the .idt files.

- **Per-machine installs** register each `[[association]]` through the ProgId, Extension, Verb and MIME tables:
  Windows Installer writes HKLM\\Software\\Classes (`.<ext>` → ProgId, `<ProgId>\\shell\\open\\command` =
  `"<the app's .exe>" "%1"`) from them and removes it at uninstall. The command's program is the key file of the
  component, which per-machine is the launcher itself.
- **Per-user installs** keep every component's key path in HKCU (a per-user install must), so no component has the
  launcher as key file; the same keys are written as Registry rows under HKCU\\Software\\Classes instead, with
  the launcher named by its file key (`[#file]`). They are removed at uninstall with the component.
- **PATH** (`add_to_path`): one Environment row appending the install folder (`[~];[INSTALLDIR]`) to the user's
  PATH (per-user) or the system's (per-machine), removed again at uninstall.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kiln.installers.msi.tables import export_table, table_rows
from kiln.model.associations import Association
from kiln.support.errors import KilnError
from kiln.support.tools import run

FEATURE = "Main"
"""The feature every component belongs to (wxs.py)."""
ICON = "AppIcon.ico"
"""The Icon table row wixl writes for the app's icon (wxs.ICON_ID)."""

# Standard positions of the actions in InstallExecuteSequence (as WiX places them).
_ACTIONS_PER_MACHINE = {"UnregisterExtensionInfo": 2800, "UnregisterProgIdInfo": 2900, "UnregisterMIMEInfo": 3000,
                        "RegisterExtensionInfo": 4700, "RegisterProgIdInfo": 4800, "RegisterMIMEInfo": 4900}
_ACTIONS_PATH = {"RemoveEnvironmentStrings": 3300, "WriteEnvironmentStrings": 5200}
_SCHEMAS = {
    "ProgId": ("ProgId\tProgId_Parent\tClass_\tDescription\tIcon_\tIconIndex", "s255\tS255\tS38\tL255\tS72\tI2",
               "ProgId\tProgId"),
    "Extension": ("Extension\tComponent_\tProgId_\tMIME_\tFeature_", "s255\ts72\tS255\tS64\ts38",
                  "Extension\tExtension\tComponent_"),
    "Verb": ("Extension_\tVerb\tSequence\tCommand\tArgument", "s255\ts32\tI2\tL255\tL255", "Verb\tExtension_\tVerb"),
    "MIME": ("ContentType\tExtension_\tCLSID", "s64\ts255\tS38", "MIME\tContentType"),
    "Environment": ("Environment\tName\tValue\tComponent_", "s72\tl255\tL255\ts72", "Environment\tEnvironment"),
}
_PROGID_RE = re.compile(r"[^A-Za-z0-9.]")


@dataclass(frozen=True)
class Launcher:
    """Where the app's .exe is in the database: its File key and its component."""

    file_key: str
    component: str


def prog_id(app_name: str, association: Association) -> str:
    """`<App>.<ext>`: a ProgId has only letters, digits and dots, and at most 39 characters."""
    return (_PROGID_RE.sub("", app_name) or "App")[:20] + "." + _PROGID_RE.sub("", association.extension)[:18]


def find_launcher(file_rows: Sequence[dict[str, str]], exe_name: str) -> Launcher:
    """The File row of `exe_name` (its FileName is `SHORT|long` or the name alone)."""
    for row in file_rows:
        if row.get("FileName", "").split("|")[-1].casefold() == exe_name.casefold():
            return Launcher(row["File"], row["Component_"])
    raise KilnError(f"internal error: {exe_name} is not in the MSI's File table")


def _escape(value: str) -> str:
    """An IDT field: tabs, CR and LF are stored as the escapes msiinfo/msibuild use."""
    return value.replace("\t", "\x10").replace("\r", "\x11").replace("\n", "\x19")


def association_rows(app_name: str, associations: Sequence[Association], launcher: Launcher, scope: str
                     ) -> dict[str, list[list[str]]]:
    """New rows per table for `associations`."""
    tables: dict[str, list[list[str]]] = {}
    for association in associations:
        progid, ext = prog_id(app_name, association), association.extension
        if scope == "per-machine":
            tables.setdefault("ProgId", []).append([progid, "", "", association.description, ICON, "0"])
            tables.setdefault("Extension", []).append([ext, launcher.component, progid, association.mime, FEATURE])
            tables.setdefault("Verb", []).append([ext, "open", "1", "&Open", '"%1"'])
            tables.setdefault("MIME", []).append([association.mime, ext, ""])
        else:
            classes = "Software\\Classes"
            command = f'"[#{launcher.file_key}]" "%1"'
            for suffix, (key, name, value) in enumerate([
                (f"{classes}\\.{ext}", "", progid),
                (f"{classes}\\.{ext}", "Content Type", association.mime),
                (f"{classes}\\{progid}", "", association.description),
                (f"{classes}\\{progid}\\DefaultIcon", "", f"[#{launcher.file_key}],0"),
                (f"{classes}\\{progid}\\shell\\open", "", "&Open"),
                (f"{classes}\\{progid}\\shell\\open\\command", "", command),
            ]):
                row_id = f"r_assoc_{_PROGID_RE.sub('_', ext)}_{suffix}"
                tables.setdefault("Registry", []).append([row_id, "1", key, name, value, launcher.component])
    return tables


def path_rows(launcher: Launcher, scope: str) -> dict[str, list[list[str]]]:
    """The Environment row appending the install folder to PATH; `*` makes it the system's PATH."""
    name = "=-*PATH" if scope == "per-machine" else "=-PATH"
    return {"Environment": [["e_path", name, "[~];[INSTALLDIR]", launcher.component]]}


def add_rows(msi: Path, new: dict[str, list[list[str]]], actions: dict[str, int], work: Path,
             schemas: dict[str, tuple[str, str, str]] | None = None) -> None:
    """Append `new` rows to their tables (creating missing tables, from `schemas` too) and `actions` to
    InstallExecuteSequence."""
    work.mkdir(parents=True, exist_ok=True)
    if actions:
        existing = {row[0] for row in export_table(msi, "InstallExecuteSequence", raw=True)[3:]}
        rows = [[name, "", str(sequence)] for name, sequence in sorted(actions.items()) if name not in existing]
        if rows:
            new = {**new, "InstallExecuteSequence": rows}
    imports = []
    for table, rows in new.items():
        current = export_table(msi, table, raw=True)
        header = current[:3] if current else [line.split("\t") for line in {**_SCHEMAS, **(schemas or {})}[table]]
        width = len(header[0])  # e.g. wixl's CustomAction has a fifth column, ExtendedType: rows are padded
        lines = header + current[3:] + [[_escape(value) for value in row] + [""] * (width - len(row)) for row in rows]
        (work / f"{table}.idt").write_bytes("".join("\t".join(line) + "\r\n" for line in lines).encode(
            "utf-8", "surrogateescape"))
        imports.append(f"{table}.idt")
    if imports:
        run(["msibuild", msi.resolve(), "-i", *imports], cwd=work, what="adding file associations and PATH")


def register(msi: Path, *, app_name: str, exe_name: str, associations: Sequence[Association], add_to_path: bool,
             scope: str, work: Path) -> None:
    """Add the association and PATH rows to `msi` (built by wixl, strings already fixed)."""
    if not associations and not add_to_path:
        return
    work.mkdir(parents=True, exist_ok=True)
    launcher = find_launcher(table_rows(msi, "File", raw=True), exe_name)
    tables = association_rows(app_name, associations, launcher, scope)
    actions = dict(_ACTIONS_PER_MACHINE) if associations and scope == "per-machine" else {}
    if add_to_path:
        tables.update(path_rows(launcher, scope))
        actions.update(_ACTIONS_PATH)
    add_rows(msi, tables, actions, work)
