#!/usr/bin/env python3
"""Build Kiln's prebuilt macOS launchers (arm64, x86_64 and universal) from launcher.c with Debian's clang and lld.

    python3 build.py               rebuild launcher-arm64, launcher-x86_64, launcher-universal, SHA256SUMS and
                                   launchers.buildinfo
    python3 build.py --out DIR     write those files to DIR instead
    python3 build.py --check       build twice (in two folders) and compare; compare with the shipped files too
                                   when this machine's toolchain is the one in launchers.buildinfo
    python3 build.py --check --rebuilt-dir DIR    ... and write the fresh build to DIR (CI tests use it)

No macOS SDK is needed: launcher.c declares the few libSystem functions it calls, and libSystem.tbd (a text stub)
tells the linker which library exports them. The output carries no path, date or host name; the linker's LC_UUID
is a hash of the output and its ad-hoc signature names the file, so the bytes depend only on the sources and
the toolchain. Needs clang-14, lld-14 and llvm-14 (Debian 12). Standard library only, any python3.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # reproducible.py, shared with the other launchers' build.py

import reproducible  # noqa: E402

CC = "clang-14"
LD = "ld64.lld-14"
LIPO = "llvm-lipo-14"
SOURCES = ("launcher.c", "libSystem.tbd")
# arch: (clang target, oldest macOS). Apple silicon starts at 11.0; 10.13 keeps every Intel Mac a
# python-build-standalone runtime supports.
ARCHS = {"arm64": ("arm64-apple-macos11.0", "11.0"), "x86_64": ("x86_64-apple-macos10.13", "10.13")}
SDK_VERSION = "11.0"  # recorded in LC_BUILD_VERSION; no SDK is used
CFLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-nostdlibinc", "-fstack-protector-strong"]
OUTPUTS = ("launcher-arm64", "launcher-x86_64", "launcher-universal")
# Debian packages whose versions decide the bytes (recorded in launchers.buildinfo): the compiler, the Mach-O
# linker and lipo.
TOOLCHAIN_PACKAGES = ["clang-14", "lld-14", "llvm-14"]


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise reproducible.BuildError(f"{name} is not installed (apt-get install clang-14 lld-14 llvm-14)")
    return found


def compile_launchers(work: Path) -> None:
    """Compile and link each architecture inside `work` (which holds the sources), then the universal file."""
    for arch, (target, minimum) in ARCHS.items():
        obj = f"launcher-{arch}.o"
        reproducible.run_compiler([tool(CC), "-target", target, *CFLAGS, f"-ffile-prefix-map={work}=.",
                                   "-c", "launcher.c", "-o", obj], work, f"compiling launcher-{arch}")
        reproducible.run_compiler([tool(LD), "-arch", arch, "-platform_version", "macos", minimum, SDK_VERSION,
                                   "-dead_strip", "-S", "-adhoc_codesign", "-o", f"launcher-{arch}", obj,
                                   "libSystem.tbd"], work, f"linking launcher-{arch}")
    reproducible.run_compiler([tool(LIPO), "-create", *(f"launcher-{arch}" for arch in ARCHS),
                               "-output", "launcher-universal"], work, "making launcher-universal")


PRODUCT = reproducible.Product(
    label="macOS launchers",
    folder=HERE,
    sources=SOURCES,
    outputs=OUTPUTS,
    packages=tuple(TOOLCHAIN_PACKAGES),
    record="launchers.buildinfo",
    sums="SHA256SUMS",
    compile=compile_launchers,
)


def main(argv: list[str] | None = None) -> int:
    return reproducible.main(PRODUCT, __doc__ or "", argv)


if __name__ == "__main__":
    sys.exit(main())
