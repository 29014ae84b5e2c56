"""The AppImage kind: one executable file for Linux (type-2 runtime + squashfs of an AppDir)."""

from __future__ import annotations

from kiln.installers.appimage.categories import MAIN_CATEGORIES
from kiln.installers.appimage.options import AppImageOptions
from kiln.kinds.spec import KindSpec, OptionSpec, Tool

SPEC = KindSpec(
    kind="appimage",
    options=AppImageOptions,
    installer="kiln.installers.appimage.installer:AppImageInstaller",
    reader="kiln.installers.appimage.installer:describe",
    ending=".AppImage",
    system="Linux",
    title="&AppImage: one file for Linux, downloaded and run as it is",
    wizard_options=(
        OptionSpec("categories", "Ca&tegories:", "Menu categories (freedesktop.org), separated by ';': at least one "
                   f"main category ({', '.join(MAIN_CATEGORIES)}), and additional ones with theirs, e.g. "
                   "Office; WordProcessor or Utility; TextEditor.", placeholder="e.g. Utility; Development"),
        OptionSpec("terminal", "Open a te&rminal:", "Whether starting the app from a menu opens a terminal window. "
                   "Automatic: yes for console apps, no for GUI apps.",
                   choices=(("Automatic: console apps only", None), ("Yes", True), ("No", False))),
        OptionSpec("update_url", "&Update URL:", "The web folder where you publish new versions: the AppImage can "
                   "then update itself (AppImageUpdate) from the .zsync file the build writes beside it. Empty: no "
                   "updates.", placeholder="e.g. https://example.org/downloads/"),
        OptionSpec("start_cache", "Fast starts: keep an e&xtracted copy after the first start",
                   "From the second start on, the app runs from a copy in the user's cache folder, as fast as an "
                   "installed app, instead of unpacking itself at every start. Copies unused for 30 days are "
                   "removed."),
    ),
    run_here="kiln.installers.appimage.run_here:run_here",
    tools=(Tool("mksquashfs", "squashfs-tools"), Tool("unsquashfs", "squashfs-tools"), Tool("zsyncmake", "zsync")),
    check_packages=("desktop-file-utils", "libglib2.0-bin", "libappimage1.0abi1", "7zip", "appstream"),
)
