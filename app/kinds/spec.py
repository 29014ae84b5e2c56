"""How an installer kind describes itself to the rest of Kiln: plain data, no Qt, no heavy imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiln.kinds.options import InstallerOptions


@dataclass(frozen=True)
class OptionSpec:
    """One option the wizard shows for a kind; the widget follows from the field's type or `choices`."""

    field: str
    """The options model's field name."""
    label: str
    """Form label with its keyboard mnemonic, e.g. '&Scope:'."""
    help: str
    choices: tuple[tuple[str, Any], ...] = ()
    """(text, value) pairs: a drop-down. Without them: bool → check box, list[str] → text split at ';', str → text."""
    placeholder: str = ""


@dataclass(frozen=True)
class Tool:
    """An external command a kind runs, and the Debian package that installs it (for the "install X" hint and CI)."""

    command: str
    package: str


@dataclass(frozen=True)
class KindSpec:
    """One installer kind: its options model, where its code is, and how the wizard presents it."""

    kind: str
    options: type[InstallerOptions]
    installer: str
    """'module:Class' of the installer (imported only when a build needs it)."""
    reader: str
    """'module:function' that describes a built artifact for `kiln inspect`."""
    ending: str
    """The artifact's file-name ending, e.g. '.AppImage' (`kiln inspect` matches it in any case)."""
    system: str
    """Where the artifact runs, for the wizard's group title, e.g. 'Linux'."""
    title: str
    """The wizard's check box text with its mnemonic, e.g. '&AppImage: one file for Linux, downloaded and run'."""
    wizard_options: tuple[OptionSpec, ...] = field(default_factory=tuple)
    run_here: str = ""
    """'module:function' that readies a built artifact to run on this machine for the wizard's Run button:
    `(artifact, scratch) -> kiln.kinds.contract.RunHere`, unpacking into the empty folder `scratch` if it must.
    Empty: the artifact does not run here. The wizard prefers kinds in the registry's order."""
    tools: tuple[Tool, ...] = ()
    """Every external command its builds and its reader run (an installer asks for those a build needs)."""
    check_packages: tuple[str, ...] = ()
    """Debian packages of the independent readers its tests check artifacts with (CI installs them)."""
