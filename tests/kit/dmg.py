"""Helpers for DMG tests: a stand-in macOS runtime archive (no macOS CPython is obtainable here), 7-Zip's listing."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import unicodedata
from pathlib import Path

from kit.testing import find_tool as need

PY = f"3.{sys.version_info.minor}"  # the fake runtime's version: the host compiles its bytecode
ARCHIVES = {"macos-arm64": f"cpython-{PY}.9+20240726-aarch64-apple-darwin-install_only.tar.gz",
            "macos-x86_64": f"cpython-{PY}.9+20240726-x86_64-apple-darwin-install_only.tar.gz"}
FAKE_PYTHON = b"#!/bin/sh\necho 'a macOS python would run here'\n"


def fake_macos_runtime(path: Path) -> None:
    """A python-build-standalone install_only archive in layout only (no macOS CPython can be downloaded here)."""
    files: dict[str, tuple[bytes, int]] = {
        f"python/bin/python{PY}": (FAKE_PYTHON, 0o755),
        f"python/lib/libpython{PY}.dylib": (b"\xcf\xfa\xed\xfe not really a dylib", 0o755),
        f"python/lib/python{PY}/os.py": (b"# os\n", 0o644),
        f"python/lib/python{PY}/lib-dynload/_fake.cpython-3{sys.version_info.minor}-darwin.so": (b"so", 0o755),
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("python/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, f"python{PY}"
        tar.addfile(link)


def seven_zip(dmg: Path) -> dict[str, dict[str, str]]:
    listing = subprocess.run([need("7z", "7zz"), "l", "-slt", str(dmg)], capture_output=True, text=True, check=True)
    entries: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in listing.stdout.split("----------", 1)[1].splitlines():
        key, sep, value = line.partition(" = ")
        if sep and key == "Path":
            current = entries.setdefault(unicodedata.normalize("NFC", value), {})
        elif sep:
            current[key] = value
    return entries
