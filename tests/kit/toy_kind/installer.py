"""The toy kind's installer (a sorted listing of the staged bundle), its reader, and how its artifact "runs" here."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import ClassVar

from kiln.kinds.contract import BuildContext, Installer, RunHere, StagedApp
from kiln.support.tools import run
from kit.toy_kind.options import ToyOptions


class ToyInstaller(Installer[ToyOptions]):
    kind: ClassVar[str] = "toy"

    def required_tools(self) -> list[str]:
        return ["sort"]

    def build(self, ctx: BuildContext, staged: StagedApp, out: Path) -> None:
        files = "".join(f"{p.relative_to(staged.bundle).as_posix()}\n" for p in staged.bundle.rglob("*") if p.is_file())
        listing = run(["sort"], input_bytes=files.encode(), env={"LC_ALL": "C"}).stdout.decode()
        out.write_text(f"{self.options.greeting}\n{listing}", encoding="utf-8")


def describe(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return f"{path.name}: toy listing, greeting {lines[0]!r}, {len(lines) - 1} files"


def run_here(artifact: Path, scratch: Path) -> RunHere:
    """A listing "runs" by showing itself: a script that prints it."""
    script = scratch / "show-listing"
    script.write_text(f"#!/bin/sh\nexec cat {shlex.quote(str(artifact))}\n", encoding="utf-8")
    script.chmod(0o755)
    return RunHere(script)
