#!/usr/bin/env python3
"""Build Kiln's AppImage type-2 runtime (runtime-x86_64) reproducibly, or --check the shipped one.

    python3 build.py               rebuild runtime-x86_64, its .sha256 and .buildinfo next to this file
    python3 build.py --out DIR     write those three files to DIR instead
    python3 build.py --check       build twice (in two folders) and compare; compare with the shipped
                                   runtime-x86_64 too when this machine's toolchain is the one in .buildinfo
    python3 build.py --check --rebuilt-dir DIR    ... and write the fresh build to DIR (CI tests use it)

Needs gcc and the static libraries from: libsquashfuse-dev libfuse3-dev libsquashfs-dev libzstd-dev
liblzma-dev liblz4-dev liblzo2-dev zlib1g-dev (Debian 12). Standard library only, any python3.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # reproducible.py, shared with the Windows launcher's build.py

import reproducible  # noqa: E402

NAME = "runtime-x86_64"
SOURCES = ["main.c", "elf.c", "payload.c", "mount.c"]
HEADERS = ["runtime.h"]
# libsquashfuse_ll.a already contains libsquashfuse's objects; order matters for static linking.
LIBS = ["-lsquashfuse_ll", "-lfuse3", "-lsquashfs", "-lzstd", "-llzma", "-llz4", "-llzo2", "-lz", "-lpthread"]
# Debian packages whose versions decide the bytes of the result (recorded in the .buildinfo file).
TOOLCHAIN_PACKAGES = [
    "gcc-12",
    "binutils",
    "libc6-dev",
    "libsquashfuse-dev",
    "libfuse3-dev",
    "libsquashfs-dev",
    "libzstd-dev",
    "liblzma-dev",
    "liblz4-dev",
    "liblzo2-dev",
    "zlib1g-dev",
]
# Type-2 AppImage magic: 'A', 'I', 2 in the ELF identification padding (EI_ABIVERSION and after).
MAGIC_OFFSET = 8
MAGIC = b"AI\x02"


def cflags(src_dir: Path) -> list[str]:
    """Compiler and linker flags; nothing here may depend on the machine or the time."""
    return [
        "-std=gnu11",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fstack-protector-strong",
        "-D_FORTIFY_SOURCE=2",
        f"-ffile-prefix-map={src_dir}=.",
        "-static",
        "-s",
        "-Wl,--build-id=none",
    ]


def compile_runtime(work: Path) -> None:
    """Compile and link statically in `work` (which holds the sources), then stamp the AppImage magic."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise reproducible.BuildError("gcc is not installed (apt-get install gcc)")
    argv = [gcc, *cflags(work), "-o", NAME, *SOURCES, *LIBS]
    # The only expected linker note is libfuse's unused module loader mentioning dlopen.
    reproducible.run_compiler(argv, work, f"compiling {NAME}", allowed=_is_dlopen_note)
    linked = work / NAME
    data = bytearray(linked.read_bytes())
    if data[:4] != b"\x7fELF" or data[MAGIC_OFFSET : MAGIC_OFFSET + 3] != b"\0\0\0":
        raise reproducible.BuildError("unexpected ELF header, cannot place the AppImage magic")
    data[MAGIC_OFFSET : MAGIC_OFFSET + 3] = MAGIC
    linked.write_bytes(bytes(data))


def _is_dlopen_note(line: str) -> bool:
    return "fuse_get_module" in line or "Using 'dlopen' in statically linked" in line


PRODUCT = reproducible.Product(
    label=NAME,
    folder=HERE,
    sources=(*SOURCES, *HEADERS),
    outputs=(NAME,),
    packages=tuple(TOOLCHAIN_PACKAGES),
    record=f"{NAME}.buildinfo",
    sums=f"{NAME}.sha256",
    compile=compile_runtime,
)


def main(argv: list[str] | None = None) -> int:
    return reproducible.main(PRODUCT, __doc__ or "", argv)


if __name__ == "__main__":
    sys.exit(main())
