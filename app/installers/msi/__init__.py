"""The MSI kind: a Windows Installer package written as WiX, compiled with wixl, around a branded launcher."""

from __future__ import annotations

from kiln.installers.msi.options import MsiOptions
from kiln.kinds.spec import KindSpec, OptionSpec, Tool

SPEC = KindSpec(
    kind="msi",
    options=MsiOptions,
    installer="kiln.installers.msi.installer:MsiInstaller",
    reader="kiln.installers.msi.installer:describe",
    ending=".msi",
    system="Windows",
    title="&MSI: a standard Windows installer",
    wizard_options=(
        OptionSpec("scope", "&Scope:", "Install for the current user only, or for everyone (needs admin).",
                   choices=(("Just the current user (no admin rights)", "per-user"),
                            ("All users of the computer (needs admin)", "per-machine"))),
        OptionSpec("start_menu_shortcut", "Start m&enu shortcut", "Add the app to the Windows Start menu."),
        OptionSpec("desktop_shortcut", "Des&ktop shortcut", "Put a shortcut to the app on the desktop."),
        OptionSpec("add_to_path", "Command on PAT&H:", "Add the install folder to PATH so the app's command runs in "
                   "any new terminal; removed again at uninstall. Automatic: yes for console apps, no for GUI apps.",
                   choices=(("Automatic: console apps only", None), ("Yes", True), ("No", False))),
    ),
    tools=(Tool("wixl", "wixl"), Tool("msibuild", "msitools"), Tool("msiinfo", "msitools"),
           Tool("osslsigncode", "osslsigncode"), Tool("setsid", "util-linux")),
    check_packages=("msitools", "wine", "xdotool"),  # msiextract; installs under Wine, whose dialogs xdotool drives
)
