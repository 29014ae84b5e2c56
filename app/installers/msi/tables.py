"""An MSI's tables read back with msiinfo: where Kiln's post-processing after wixl (strings, associations, PATH,
dialogs) and `kiln inspect` start."""

from __future__ import annotations

from pathlib import Path

from kiln.support.limits import TOOL_OUTPUT_MAX_BYTES
from kiln.support.tools import run


def export_table(msi: Path, table: str, *, raw: bool = False) -> list[list[str]]:
    """A table as msiinfo exports it (IDT: column names, types, table name and keys, then one row per line).

    Tables that do not exist come back as the empty list. `raw` keeps undecodable bytes (surrogateescape), so the
    rows can be written back unchanged; otherwise they are replaced, for showing.
    """
    result = run(["msiinfo", "export", msi, table], check=False, what=f"reading the MSI's {table} table",
                 max_output=TOOL_OUTPUT_MAX_BYTES)
    if result.returncode != 0:
        return []
    text = result.stdout.decode("utf-8", errors="surrogateescape" if raw else "replace")
    return [line.split("\t") for line in text.split("\r\n") if line]


def table_rows(msi: Path, table: str, *, raw: bool = False) -> list[dict[str, str]]:
    """A table's rows as {column: value}; missing trailing values are empty (none when the table does not exist)."""
    lines = export_table(msi, table, raw=raw)
    if len(lines) < 3:
        return []
    names = lines[0]
    return [dict(zip(names, row + [""] * (len(names) - len(row)), strict=False)) for row in lines[3:]]
