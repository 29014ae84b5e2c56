"""The installer kinds Kiln knows: kind name → the class that builds it (imported only when used)."""

from __future__ import annotations

import importlib
from typing import Any

from app.errors import KilnError
from app.installers.base import Installer

# Adding a kind = one module with an Installer class + one line here.
INSTALLER_CLASSES: dict[str, str] = {
    "portable": "app.installers.portable:PortableInstaller",
    "appimage": "app.installers.appimage:AppImageInstaller",
    "msi": "app.installers.msi:MsiInstaller",
    "dmg": "app.installers.dmg:DmgInstaller",
}


def make_installer(options: Any) -> Installer:
    """The installer for one `[[installer]]` table of the project."""
    module_name, class_name = INSTALLER_CLASSES[options.kind].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise KilnError(
            f"installer kind '{options.kind}' is not available in this version of Kiln",
            hint="remove that [[installer]] table or update Kiln",
        ) from None
    installer: Installer = getattr(module, class_name)(options)
    return installer
