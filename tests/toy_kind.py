"""A toy installer kind, defined entirely here: proof that a kind is one module plus one `registry.register` call.

Its artifact is a plain-text list of the staged bundle's files, headed by the option `greeting`.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import field_validator

from kiln.kinds.contract import BuildContext, Installer, StagedApp
from kiln.kinds.options import InstallerOptions
from kiln.kinds.spec import KindSpec, OptionSpec
from kiln.support.targets import PlatformName


class ToyOptions(InstallerOptions):
    kind: Literal["toy"] = "toy"
    greeting: str = "hello from the toy kind"
    """First line of the artifact."""

    @field_validator("greeting")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("write a greeting, e.g. hello")
        return value

    @property
    def platform(self) -> PlatformName:
        return "linux-x86_64"


class ToyInstaller(Installer[ToyOptions]):
    kind: ClassVar[str] = "toy"

    def build(self, ctx: BuildContext, staged: StagedApp, out: Path) -> None:
        files = sorted(p.relative_to(staged.bundle).as_posix() for p in staged.bundle.rglob("*") if p.is_file())
        out.write_text("\n".join([self.options.greeting, *files]) + "\n", encoding="utf-8")


def describe(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return f"{path.name}: toy listing, greeting {lines[0]!r}, {len(lines) - 1} files"


SPEC = KindSpec(
    kind="toy",
    options=ToyOptions,
    installer="toy_kind:ToyInstaller",
    reader="toy_kind:describe",
    ending=".toy.txt",
    system="Anywhere",
    title="&Toy listing: the bundle's files in a text file",
    wizard_options=(OptionSpec("greeting", "&Greeting:", "The artifact's first line."),),
)
