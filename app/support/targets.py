"""The platforms Kiln builds for and the facts each one needs (wheel tags, markers, runtime layout, archive names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

PlatformName = Literal["linux-x86_64", "windows-x86_64", "macos-arm64", "macos-x86_64"]
PLATFORMS: tuple[PlatformName, ...] = ("linux-x86_64", "windows-x86_64", "macos-arm64", "macos-x86_64")
MANYLINUX_CEILING = 35
"""Linux wheels up to manylinux_2_35 (glibc 2.35) are accepted: the newest level a Linux bundle's runtime serves."""
MACOS_FLOOR = (11, 0)
"""macOS wheels must run on macOS 11.0, the DMG's default `minimum_macos`: a macosx_14_0 wheel would break there."""


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
            # Every glibc level accepted, down to manylinux1's 2.5 (a wheel for an older glibc runs on a newer one),
            # each legacy alias after its level, as pip orders them.
            aliases = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
            tags = []
            for minor in range(MANYLINUX_CEILING, 4, -1):
                tags.append(f"manylinux_2_{minor}_{self.arch}")
                if minor in aliases:
                    tags.append(f"{aliases[minor]}_{self.arch}")
            return [*tags, f"linux_{self.arch}"]
        if self.os == "windows":
            return ["win_amd64"]
        return list(mac_platforms(MACOS_FLOOR, self.arch))

    def wheel_tags(self, python_version: str) -> list[Tag]:
        """The wheel tags a CPython `python_version` of this platform accepts, most specific first (as pip orders
        them): the order a wheel is chosen in when a package has several for the target."""
        major, minor = (int(part) for part in python_version.split(".")[:2])
        platforms = self.pip_platform_tags()
        return [*cpython_tags((major, minor), platforms=platforms),
                *compatible_tags((major, minor), f"cp{major}{minor}", platforms)]

    @property
    def uv_platform(self) -> str:
        """The platform uv resolves for (`uv pip compile --python-platform`); macOS's version is set apart, through
        MACOSX_DEPLOYMENT_TARGET (`uv_environment`)."""
        if self.os == "linux":
            return f"{self.arch}-manylinux_2_{MANYLINUX_CEILING}"
        if self.os == "windows":
            return "x86_64-pc-windows-msvc"
        return f"{'aarch64' if self.arch == 'arm64' else 'x86_64'}-apple-darwin"

    def uv_environment(self) -> dict[str, str]:
        """Environment variables uv reads for this platform: the oldest macOS the wheels must run on."""
        return {"MACOSX_DEPLOYMENT_TARGET": ".".join(map(str, MACOS_FLOOR))} if self.os == "macos" else {}

    def marker_environment(self, python_version: str) -> dict[str, str]:
        """The values environment markers (PEP 508) see on this platform with CPython `python_version`, for
        `packaging.markers.Marker.evaluate`: `colorama; sys_platform == "win32"` is true for Windows targets.
        The patch version is taken as .0, as uv does for `--python-version 3.X`."""
        system = {"linux": "Linux", "windows": "Windows", "macos": "Darwin"}[self.os]
        machine = {"windows": "AMD64"}.get(self.os, "arm64" if self.arch == "arm64" else "x86_64")
        return {
            "implementation_name": "cpython", "implementation_version": f"{python_version}.0",
            "os_name": "nt" if self.os == "windows" else "posix", "platform_machine": machine,
            "platform_release": "", "platform_system": system, "platform_version": "",
            "python_full_version": f"{python_version}.0", "platform_python_implementation": "CPython",
            "python_version": python_version,
            "sys_platform": {"linux": "linux", "windows": "win32", "macos": "darwin"}[self.os],
        }


TARGETS: dict[str, Target] = {
    "linux-x86_64": Target("linux-x86_64", "linux", "x86_64"),
    "windows-x86_64": Target("windows-x86_64", "windows", "x86_64"),
    "macos-arm64": Target("macos-arm64", "macos", "arm64"),
    "macos-x86_64": Target("macos-x86_64", "macos", "x86_64"),
}


def host_target() -> Target:
    """The target matching this machine (Kiln runs on Linux x86_64)."""
    return TARGETS["linux-x86_64"]
