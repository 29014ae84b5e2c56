"""Kiln's prebuilt launchers (resources/launchers/<kind>/), or the fresh builds CI points Kiln at instead."""

from __future__ import annotations

import os
from pathlib import Path

from kiln.resources import resource_path
from kiln.support.errors import KilnError


def prebuilt_launcher(kind: str, name: str, override_env: str) -> Path:
    """A prebuilt binary from launchers/<kind>/, or the build that `override_env` names (the file or its folder).

    CI rebuilds the launchers from their sources with the machine's current toolchain and points Kiln at those
    builds (KILN_APPIMAGE_RUNTIME, KILN_WINDOWS_LAUNCHERS, KILN_MACOS_LAUNCHERS), so what it tests is what today's
    sources and libraries give. The error says what to do when the file is missing.
    """
    override = os.environ.get(override_env, "").strip()
    path = Path(override) if override else resource_path("launchers", kind, name)
    if path.is_dir():
        path = path / name
    if path.is_file():
        return path
    if override:
        raise KilnError(f"{override_env} names {override}, which is not {name} nor a folder holding it",
                        hint=f"build it with resources/launchers/{kind}/build.py, or unset {override_env}")
    raise KilnError(f"{name} is missing from this Kiln installation ({path})",
                    hint=f"reinstall Kiln, or rebuild it with: python3 resources/launchers/{kind}/build.py")
