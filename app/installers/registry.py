"""The installer kinds Kiln knows: kind name → the class that builds it (imported only when used)."""

from __future__ import annotations

import importlib
from typing import Any

from kiln.installers.base import Installer
from kiln.model.errors import KilnError

# Adding a kind = one module with an Installer class + one line here.
INSTALLER_CLASSES: dict[str, str] = {
    "portable": "kiln.installers.portable.installer:PortableInstaller",
    "appimage": "kiln.installers.appimage.installer:AppImageInstaller",
    "msi": "kiln.installers.msi.installer:MsiInstaller",
    "dmg": "kiln.installers.dmg.installer:DmgInstaller",
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
