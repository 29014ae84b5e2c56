"""The platforms Kiln builds for and the facts each one needs (pip tags, runtime layout, archive names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PlatformName = Literal["linux-x86_64", "windows-x86_64", "macos-arm64", "macos-x86_64"]
PLATFORMS: tuple[PlatformName, ...] = ("linux-x86_64", "windows-x86_64", "macos-arm64", "macos-x86_64")


@dataclass(frozen=True)
class Target:
    """One platform: its OS family, CPU, and how Python lays itself out there."""

    name: PlatformName
    os: Literal["linux", "windows", "macos"]
    arch: Literal["x86_64", "arm64"]

    @property
    def pbs_platform(self) -> str:
        """The platform word pbs-installer's catalog uses."""
        return {"linux": "linux", "windows": "windows", "macos": "darwin"}[self.os]

    @property
    def pbs_arch(self) -> str:
        return {"x86_64": "x86_64", "arm64": "aarch64"}[self.arch]

    def python_relpath(self, version: str) -> str:
        """The interpreter inside a runtime folder, e.g. bin/python3.11 or python.exe."""
        return "python.exe" if self.os == "windows" else f"bin/python{version}"

    def site_packages_relpath(self, version: str) -> str:
        return "Lib/site-packages" if self.os == "windows" else f"lib/python{version}/site-packages"

    def pip_platform_tags(self) -> list[str]:
        """Every wheel platform tag this target accepts, newest first, for `pip --platform` (repeatable)."""
        if self.os == "linux":
            # manylinux2014 alone excludes manylinux_2_28 wheels; list every glibc level we accept.
            tags = [f"manylinux_2_{minor}_{self.arch}" for minor in range(35, 16, -1)]
            return [*tags, f"manylinux2014_{self.arch}", f"linux_{self.arch}"]
        if self.os == "windows":
            return ["win_amd64"]
        macos_arch = "arm64" if self.arch == "arm64" else "x86_64"
        tags = []
        for major in range(15, 10, -1):
            tags += [f"macosx_{major}_0_{macos_arch}", f"macosx_{major}_0_universal2"]
        if macos_arch == "x86_64":
            tags += [f"macosx_10_{minor}_{kind}" for minor in range(15, 8, -1) for kind in ("x86_64", "universal2")]
        return tags


TARGETS: dict[str, Target] = {
    "linux-x86_64": Target("linux-x86_64", "linux", "x86_64"),
    "windows-x86_64": Target("windows-x86_64", "windows", "x86_64"),
    "macos-arm64": Target("macos-arm64", "macos", "arm64"),
    "macos-x86_64": Target("macos-x86_64", "macos", "x86_64"),
}


def host_target() -> Target:
    """The target matching this machine (Kiln runs on Linux x86_64)."""
    return TARGETS["linux-x86_64"]
