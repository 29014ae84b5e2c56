"""The DMG kind: a macOS .app bundle on an HFS+ volume, wrapped in Kiln's own UDIF writer."""

from __future__ import annotations

from kiln.installers.dmg.options import DmgOptions
from kiln.kinds.spec import KindSpec, OptionSpec, Tool

SPEC = KindSpec(
    kind="dmg",
    options=DmgOptions,
    installer="kiln.installers.dmg.installer:DmgInstaller",
    reader="kiln.installers.dmg.installer:describe",
    ending=".dmg",
    system="macOS",
    title="&DMG: a disk image to drag the app from",
    wizard_options=(
        OptionSpec("volume_name", "&Volume name:", "The name of the disk image when it is opened in Finder.",
                   placeholder="Empty: the app's display name"),
        OptionSpec("platform", "Mac pro&cessor:", "Which Macs the DMG is for: Apple silicon (M1 and later) or Intel.",
                   choices=(("Apple silicon (arm64)", "macos-arm64"), ("Intel (x86_64)", "macos-x86_64"))),
    ),
    tools=(Tool("xorriso", "xorriso"), Tool("7zz", "7zip")),  # 7-Zip (7zz, or 7z) lists the volume for inspect
    check_packages=("dmg2img", "7zip"),
)
