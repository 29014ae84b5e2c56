"""A toy installer kind, defined entirely in this folder: proof that a kind is one folder (this SPEC, its options,
its installer) plus one line that registers it (`registry.load("kit.toy_kind")`).

Its artifact is a plain-text list of the staged bundle's files, headed by the option `greeting`. Like Kiln's own
kinds, this module and options.py stay light: the installer is imported only when a build needs it.
"""

from __future__ import annotations

from kiln.kinds.spec import KindSpec, OptionSpec, Tool
from kit.toy_kind.options import ToyOptions

SPEC = KindSpec(
    kind="toy",
    options=ToyOptions,
    installer="kit.toy_kind.installer:ToyInstaller",
    reader="kit.toy_kind.installer:describe",
    ending=".toy.txt",
    system="Anywhere",
    title="&Toy listing: the bundle's files in a text file",
    wizard_options=(OptionSpec("greeting", "&Greeting:", "The artifact's first line."),),
    run_here="kit.toy_kind.installer:run_here",
    tools=(Tool("sort", "coreutils"),),
    check_packages=("coreutils",),
)
