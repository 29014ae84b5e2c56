"""The Debian packages every registered installer kind needs: its tools and the readers its tests use.

`.ci/setup` installs Kiln's base packages, then asks this module for the kinds' own
(`python -m kiln.kinds.tools --debian-packages`), so a new kind brings its packages in its SPEC alone.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kiln.kinds import registry

CORE_PACKAGES = ("binutils",)
"""What Kiln itself runs whatever the kinds: `strip` when it relocates this machine's Python into a bundle."""


def debian_packages(checks: bool = True) -> list[str]:
    """Every package the registered kinds declare (their tools', and with `checks` the readers their tests use),
    sorted, once each."""
    found = {tool.package for spec in registry.kinds() for tool in spec.tools}
    if checks:
        found.update(package for spec in registry.kinds() for package in spec.check_packages)
    return sorted(found)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiln.kinds.tools",
                                     description="the Debian packages every installer kind needs")
    parser.add_argument("--debian-packages", action="store_true", required=True,
                        help="print the Debian packages of every installer kind, one a line")
    parser.add_argument("--builds", action="store_true",
                        help="only what building and `kiln inspect` need (Kiln's own and the kinds' tools), not the "
                             "readers Kiln's tests check artifacts with: what a CI machine installs")
    args = parser.parse_args(argv)
    packages = sorted({*debian_packages(checks=False), *CORE_PACKAGES}) if args.builds else debian_packages()
    print("\n".join(packages))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
