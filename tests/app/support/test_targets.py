"""The wheels each target accepts (kiln.support.targets): what a wheel's tags must match for it to ship."""

from __future__ import annotations

from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

from kiln.support.targets import TARGETS


def _accepts(platform: str, wheel: str) -> bool:
    tags = set(TARGETS[platform].wheel_tags("3.11"))
    return not parse_wheel_filename(wheel)[3].isdisjoint(tags)


def test_linux_takes_every_manylinux_level_up_to_its_glibc_with_the_legacy_names() -> None:
    # pyqt6-sip 13.13.1 has only manylinux1 wheels for Linux x86_64: taken, not built from its sdist
    assert _accepts("linux-x86_64", "pyqt6_sip-13.13.1-cp311-cp311-manylinux1_x86_64.manylinux_2_5_x86_64.whl")
    assert _accepts("linux-x86_64", "x-1-cp311-cp311-manylinux2010_x86_64.whl")
    assert _accepts("linux-x86_64", "x-1-cp311-cp311-manylinux_2_28_x86_64.whl")
    assert _accepts("linux-x86_64", "x-1-py3-none-any.whl")
    assert not _accepts("linux-x86_64", "x-1-cp311-cp311-manylinux_2_39_x86_64.whl")  # newer than the bundle serves
    assert not _accepts("linux-x86_64", "x-1-cp311-cp311-win_amd64.whl")
    assert not _accepts("windows-x86_64", "x-1-cp311-cp311-manylinux1_x86_64.whl")


def test_linux_tags_are_ordered_as_pip_orders_them() -> None:
    platforms = TARGETS["linux-x86_64"].pip_platform_tags()
    assert platforms.index("manylinux_2_17_x86_64") + 1 == platforms.index("manylinux2014_x86_64")
    assert platforms[-3:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    first = TARGETS["linux-x86_64"].wheel_tags("3.11")[0]
    assert first == Tag("cp311", "cp311", platforms[0])
