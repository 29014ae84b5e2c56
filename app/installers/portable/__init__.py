"""The portable kind: the bundle and a launcher in one folder, packed as a reproducible .tar.zst."""

from __future__ import annotations

from kiln.installers.portable.options import PortableOptions
from kiln.kinds.spec import KindSpec, OptionSpec
from kiln.support.targets import PLATFORMS

SPEC = KindSpec(
    kind="portable",
    options=PortableOptions,
    installer="kiln.installers.portable.installer:PortableInstaller",
    reader="kiln.installers.portable.reader:describe",
    ending=".tar.zst",
    system="Any system",
    title="&Portable archive (.tar.zst): unpack and run",
    run_here="kiln.installers.portable.run_here:run_here",
    wizard_options=(
        OptionSpec("platform", "P&latform:", "The system the portable archive runs on.",
                   choices=tuple((name, name) for name in PLATFORMS)),
    ),
)
