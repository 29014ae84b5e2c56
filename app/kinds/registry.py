"""The one list of installer kinds. The project model, `kiln check`, the CLI, `kiln inspect`, `kiln schema`
and the wizard all read it; adding a kind is one package with a `SPEC` plus one name in BUILTIN_KINDS (or, from
outside Kiln, one `load("package")` call)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.kinds.spec import KindSpec
from kiln.support import tools
from kiln.support.errors import KilnError

if TYPE_CHECKING:
    from kiln.kinds.contract import RunHere

_KINDS: dict[str, KindSpec] = {}
_listeners: list[Callable[[], None]] = []

BUILTIN_KINDS = ("appimage", "msi", "dmg", "portable")
"""Kiln's own kinds, in the order the wizard shows them; each is the package kiln.installers.<kind>."""


def register(spec: KindSpec) -> None:
    """Add (or replace) a kind; models built from the registry (the project file's union) are rebuilt."""
    _KINDS[spec.kind] = spec
    tools.declare_packages({tool.command: tool.package for tool in spec.tools})
    for listener in _listeners:
        listener()


def load(package: str) -> KindSpec:
    """Register the kind that `package` is (its `__init__` holds `SPEC`; nothing else of it is imported)."""
    entry: KindSpec = importlib.import_module(package).SPEC
    register(entry)
    return entry


def unregister(kind: str) -> None:
    _KINDS.pop(kind, None)
    for listener in _listeners:
        listener()


def on_change(listener: Callable[[], None]) -> None:
    """Call `listener` whenever a kind is registered or removed."""
    _listeners.append(listener)


def kinds() -> list[KindSpec]:
    return list(_KINDS.values())


def kind_names() -> list[str]:
    return list(_KINDS)


def spec(kind: str) -> KindSpec:
    try:
        return _KINDS[kind]
    except KeyError:
        raise KilnError(f"installer kind '{kind}' is not known to this version of Kiln",
                        hint=f"use one of: {', '.join(_KINDS)}") from None


def _load(target: str) -> Any:
    module_name, attribute = target.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def make_installer(options: Any) -> Any:
    """The installer (see kiln.kinds.contract.Installer) for one `[[installer]]` table of the project."""
    return _load(spec(options.kind).installer)(options)


def reader_for(path: Path) -> Callable[[Path], str] | None:
    """The function that describes an artifact with this file name, or None when no kind makes such files."""
    name = path.name.lower()
    for entry in _KINDS.values():
        if name.endswith(entry.ending.lower()):
            reader: Callable[[Path], str] = _load(entry.reader)
            return reader
    return None


def runner_for(kind: str) -> Callable[[Path, Path], RunHere] | None:
    """The kind's `run_here` hook (see KindSpec.run_here), or None when its artifacts do not run here."""
    target = spec(kind).run_here
    if not target:
        return None
    runner: Callable[[Path, Path], RunHere] = _load(target)
    return runner


def runnable_kinds() -> list[str]:
    """Kinds whose artifacts run on this machine, in the registry's order."""
    return [entry.kind for entry in _KINDS.values() if entry.run_here]


def artifact_endings() -> list[str]:
    return [entry.ending.lower() for entry in _KINDS.values()]


for _kind in BUILTIN_KINDS:
    load(f"kiln.installers.{_kind}")
