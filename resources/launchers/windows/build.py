#!/usr/bin/env python3
"""Build Kiln's prebuilt Windows launchers (console and GUI) from launcher.c with Debian's mingw-w64.

    python3 build.py               rebuild launcher-console.exe, launcher-gui.exe, SHA256SUMS, launchers.buildinfo
    python3 build.py --out DIR     write those files to DIR instead
    python3 build.py --check       build twice (in two folders) and compare; compare with the shipped .exe files
                                   too when this machine's toolchain is the one in launchers.buildinfo
    python3 build.py --check --rebuilt-dir DIR    ... and write the fresh build to DIR (CI tests use it)

The flags make the output byte-reproducible: no link timestamp, source paths mapped to '.', symbols stripped.
Needs gcc-mingw-w64-x86-64 (Debian 12). Standard library only, any python3.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # reproducible.py, shared with the AppImage runtime's build.py

import reproducible  # noqa: E402

# The win32-thread-model compiler by its own name, whatever Debian's x86_64-w64-mingw32-gcc alternative points to.
CC = "x86_64-w64-mingw32-gcc-win32"
SOURCE = "launcher.c"
COMMON = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-municode", "-s", "-Wl,--no-insert-timestamp"]
VARIANTS: dict[str, tuple[list[str], list[str]]] = {
    # name: (compile flags, libraries)
    "launcher-console.exe": (["-mconsole"], ["-lshell32"]),
    "launcher-gui.exe": (["-mwindows", "-DKILN_GUI"], ["-lshell32", "-luser32"]),
}
# Debian packages whose versions decide the bytes of the launchers (recorded in launchers.buildinfo):
# the compiler (with its libgcc), the linker, and the mingw-w64 import libraries and CRT start-up objects.
TOOLCHAIN_PACKAGES = ["gcc-mingw-w64-x86-64-win32", "binutils-mingw-w64-x86-64", "mingw-w64-x86-64-dev"]


def compile_launchers(work: Path) -> None:
    """Compile every variant inside `work`, which holds launcher.c."""
    cc = shutil.which(CC)
    if cc is None:
        raise reproducible.BuildError(f"{CC} is not installed (apt-get install gcc-mingw-w64-x86-64)")
    for name, (flags, libs) in VARIANTS.items():
        argv = [cc, *COMMON, f"-ffile-prefix-map={work}=.", *flags, "-o", name, SOURCE, *libs]
        reproducible.run_compiler(argv, work, f"compiling {name}")


PRODUCT = reproducible.Product(
    label="Windows launchers",
    folder=HERE,
    sources=(SOURCE,),
    outputs=tuple(VARIANTS),
    packages=tuple(TOOLCHAIN_PACKAGES),
    record="launchers.buildinfo",
    sums="SHA256SUMS",
    compile=compile_launchers,
)


def main(argv: list[str] | None = None) -> int:
    return reproducible.main(PRODUCT, __doc__ or "", argv)


if __name__ == "__main__":
    sys.exit(main())
