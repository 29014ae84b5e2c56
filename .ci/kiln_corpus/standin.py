"""A stand-in macOS runtime for the DMG builds: no macOS CPython can be obtained offline (python-build-standalone
comes from GitHub). Like the test suite's (tests/kit/macos.py), its interpreter and libpython are real, empty
Mach-O files made by the signing library Kiln uses, so the DMG kind signs and reads them as it would real ones.
Unlike the tests' it carries this machine's standard library sources (the same on every platform) and a Mach-O
placeholder named after each extension module this machine's Python has, so a check of the bundle's imports sees
a standard library shaped like a real one. Nothing in it can run: a DMG built on it is read back, never started."""

from __future__ import annotations

import io
import sys
import sysconfig
import tarfile
from pathlib import Path

_LEFT_OUT = {"site-packages", "test", "idlelib", "lib2to3", "__pycache__", "ensurepip", "turtledemo"}


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def macos_archive(folder: Path, platform: str = "macos-arm64") -> Path:
    """A python-build-standalone install_only archive for `platform`, of this interpreter's version."""
    import apple_platform as ap  # Kiln's own dependency (DMG signing)

    arch = {"macos-arm64": "aarch64", "macos-x86_64": "x86_64"}[platform]
    version = ".".join(map(str, sys.version_info[:3]))
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    tag = minor.replace(".", "")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    path = folder / f"cpython-{version}+20240726-{arch}-apple-darwin-install_only.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, f"python/bin/python{minor}", ap.macho.create_synthetic(arch, "executable"), 0o755)
        _add(tar, f"python/lib/libpython{minor}.dylib", ap.macho.create_synthetic(arch, "dylib"), 0o755)
        _add(tar, f"python/include/python{minor}/patchlevel.h", f'#define PY_VERSION "{version}"\n'.encode(), 0o644)
        _add(tar, f"python/lib/python{minor}/site-packages/README.txt", b"", 0o644)
        for source in sorted(stdlib.rglob("*.py")):
            relative = source.relative_to(stdlib)
            if not _LEFT_OUT & set(relative.parts):
                _add(tar, f"python/lib/python{minor}/{relative.as_posix()}", source.read_bytes(), 0o644)
        dylib = ap.macho.create_synthetic(arch, "dylib")
        for extension in sorted((stdlib / "lib-dynload").glob("*.so")):
            module = extension.name.split(".")[0]
            _add(tar, f"python/lib/python{minor}/lib-dynload/{module}.cpython-{tag}-darwin.so", dylib, 0o755)
        link = tarfile.TarInfo("python/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, f"python{minor}"
        tar.addfile(link)
    return path
