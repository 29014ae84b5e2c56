"""Each kind declares its tools and their Debian packages once, in its SPEC: the "install X" hints and the packages
.ci/setup installs both come from there."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from kit.testing import REPO

from kiln.kinds import registry
from kiln.kinds.tools import debian_packages
from kiln.support import tools
from kiln.support.errors import ToolMissing


def test_a_missing_tool_of_a_kind_names_the_package_its_spec_declares(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: object) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    for spec in registry.kinds():
        for tool in spec.tools:
            with pytest.raises(ToolMissing) as caught:
                tools.require(tool.command)
            assert caught.value.hint == f"install it with: sudo apt-get install {tool.package}"


def test_the_command_lists_every_kinds_packages_once() -> None:
    listed = subprocess.run([sys.executable, "-m", "kiln.kinds.tools", "--debian-packages"], capture_output=True,
                            text=True, check=True, timeout=60).stdout.split()
    assert listed == debian_packages() == sorted(set(listed))
    assert {"squashfs-tools", "wixl", "msitools", "xorriso", "dmg2img"} <= set(listed)


def test_builds_lists_what_building_needs_without_the_test_readers() -> None:
    listed = subprocess.run([sys.executable, "-m", "kiln.kinds.tools", "--debian-packages", "--builds"],
                            capture_output=True, text=True, check=True, timeout=60).stdout.split()
    tools_only = {tool.package for spec in registry.kinds() for tool in spec.tools}
    assert set(listed) == tools_only | {"binutils"} and listed == sorted(listed)
    assert "wine" not in listed and "dmg2img" not in listed  # readers of Kiln's own tests


def test_ci_setup_installs_the_kinds_packages_from_their_specs() -> None:
    """.ci/setup names no package that only a kind needs: it asks the installed Kiln for them."""
    setup = (REPO / ".ci" / "setup").read_text(encoding="utf-8")
    assert "-m kiln.kinds.tools --debian-packages" in setup
    base = re.search(r"^PACKAGES=\((.*?)^\)", setup, re.DOTALL | re.MULTILINE)
    assert base is not None
    words = {w for line in base.group(1).splitlines() for w in line.split("#")[0].split()}
    kinds = {tool.package for spec in registry.kinds() for tool in spec.tools}
    kinds |= {package for spec in registry.kinds() for package in spec.check_packages}
    kind_only = kinds - {"osslsigncode", "util-linux"}  # Kiln itself runs them too (runtime checks, setsid)
    assert words and not words & kind_only
