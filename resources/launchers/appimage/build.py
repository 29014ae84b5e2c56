#!/usr/bin/env python3
"""Build Kiln's AppImage type-2 runtime (runtime-x86_64) reproducibly, or --check the shipped one.

    python3 build.py            rebuild runtime-x86_64, its .sha256 and .buildinfo next to this file
    python3 build.py --check    rebuild in a temp folder; exit 1 if it differs from the shipped binary
    python3 build.py --out DIR  write the three files to DIR instead

Needs gcc and the static libraries from: libsquashfuse-dev libfuse3-dev libsquashfs-dev libzstd-dev
liblzma-dev liblz4-dev liblzo2-dev zlib1g-dev (Debian 12). Standard library only, any python3.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
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


def build(out: Path) -> Path:
    """Compile, link statically, strip and stamp the magic; returns the binary's path in `out`."""
    gcc = shutil.which("gcc")
    if gcc is None:
        sys.exit("build.py: gcc is not installed (apt-get install gcc)")
    with tempfile.TemporaryDirectory(prefix="kiln-runtime-") as tmp:
        # Copy the sources so the build never depends on (or writes into) the checkout's path.
        src = Path(tmp)
        for name in SOURCES + HEADERS:
            shutil.copyfile(HERE / name, src / name)
        linked = src / NAME
        argv = [gcc, *cflags(src), "-o", str(linked), *SOURCES, *LIBS]
        env = {**os.environ, "LC_ALL": "C", "SOURCE_DATE_EPOCH": "0"}
        result = subprocess.run(argv, cwd=src, env=env, capture_output=True, text=True, check=False)
        # The only expected linker note is libfuse's unused module loader mentioning dlopen.
        noise = [line for line in result.stderr.splitlines() if line.strip() and not _is_dlopen_note(line)]
        if result.returncode != 0:
            sys.exit("build.py: gcc failed:\n" + "\n".join(noise or result.stderr.splitlines()[-20:]))
        if noise:
            sys.exit("build.py: unexpected compiler output (must be warning-free):\n" + "\n".join(noise))
        data = bytearray(linked.read_bytes())
        if data[:4] != b"\x7fELF" or data[MAGIC_OFFSET : MAGIC_OFFSET + 3] != b"\0\0\0":
            sys.exit("build.py: unexpected ELF header, cannot place the AppImage magic")
        data[MAGIC_OFFSET : MAGIC_OFFSET + 3] = MAGIC
        out.mkdir(parents=True, exist_ok=True)
        target = out / NAME
        target.write_bytes(bytes(data))
        target.chmod(0o755)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    (out / f"{NAME}.sha256").write_text(f"{digest}  {NAME}\n")
    (out / f"{NAME}.buildinfo").write_text(buildinfo())
    return target


def _is_dlopen_note(line: str) -> bool:
    return "fuse_get_module" in line or "Using 'dlopen' in statically linked" in line


def buildinfo() -> str:
    """Toolchain versions, to explain a --check mismatch on another machine."""
    lines = ["# Versions used to build runtime-x86_64 (Debian packages); --check needs the same ones."]
    if shutil.which("dpkg-query") is None:
        return "\n".join([*lines, "(not a Debian system: versions unknown)"]) + "\n"
    for package in TOOLCHAIN_PACKAGES:
        found = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=False
        )
        lines.append(f"{package} {found.stdout.strip() if found.returncode == 0 else 'missing'}")
    return "\n".join(lines) + "\n"


def check() -> int:
    """Rebuild in a temp folder and compare with the shipped binary and its recorded sha256."""
    shipped = HERE / NAME
    if not shipped.is_file():
        print(f"build.py --check: {NAME} is missing; run build.py", file=sys.stderr)
        return 1
    recorded = (HERE / f"{NAME}.sha256").read_text().split()[0] if (HERE / f"{NAME}.sha256").is_file() else ""
    shipped_digest = hashlib.sha256(shipped.read_bytes()).hexdigest()
    if recorded != shipped_digest:
        print(f"build.py --check: {NAME} does not match {NAME}.sha256", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="kiln-runtime-check-") as tmp:
        rebuilt = build(Path(tmp))
        rebuilt_digest = hashlib.sha256(rebuilt.read_bytes()).hexdigest()
        if rebuilt_digest != shipped_digest:
            print(
                f"build.py --check: rebuilt {NAME} differs (sha256 {rebuilt_digest}, shipped {shipped_digest})",
                file=sys.stderr,
            )
            old = (HERE / f"{NAME}.buildinfo").read_text() if (HERE / f"{NAME}.buildinfo").is_file() else ""
            new = (Path(tmp) / f"{NAME}.buildinfo").read_text()
            for before, after in zip(old.splitlines(), new.splitlines(), strict=False):
                if before != after:
                    print(f"  toolchain: shipped with '{before}', this machine has '{after}'", file=sys.stderr)
            return 1
    print(f"build.py --check: {NAME} is up to date (sha256 {shipped_digest})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the shipped binary instead of replacing it")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    args = parser.parse_args()
    if args.check:
        return check()
    target = build(args.out)
    print(f"built {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
