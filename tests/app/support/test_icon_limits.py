"""Hostile icons are refused quickly, with a clear message, and without the memory a naive decoder would take."""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from kiln.support.icons import icon_problem, load_icon

MEMORY_LIMIT = 500 * 1024 * 1024

# The peak is the process's own high-water mark (VmHWM): getrusage's ru_maxrss keeps what the process held before
# exec, i.e. the forking test runner's resident size, which grows over a long test session.
_CHILD = """
import json, sys, time
from pathlib import Path
from kiln.support.icons import icon_problem
started = time.monotonic()
problem = icon_problem(Path(sys.argv[1]))
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"problem": problem, "seconds": time.monotonic() - started, "peak": peak}))
"""


def _check_in_child(path: Path) -> dict[str, object]:
    """icon_problem in a fresh process, with that process's peak resident memory (bytes)."""
    result = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def _gzip_bomb(path: Path, unpacked: int) -> None:
    """A gzip file of `unpacked` bytes of SVG, written fast: one fully flushed deflate block of a MiB of spaces
    (it refers to nothing before it) repeated, then the gzip trailer (CRC-32 and length of the whole)."""
    start, chunk = b'<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><!--', b" " * (1 << 20)
    end, count = b"--></svg>", unpacked // (1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = packer.compress(start) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    tail = packer.compress(end) + packer.flush()
    crc = zlib.crc32(start)
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(end, crc)
    length = (len(start) + count * len(chunk) + len(end)) & 0xFFFFFFFF
    with path.open("wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + head)
        for _ in range(count):
            out.write(block)
        out.write(tail + struct.pack("<II", crc, length))


def _huge_png(path: Path, side: int) -> None:
    """A valid side x side 1-bit PNG: a few MiB on disk, side² pixels once decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_gzip_bomb_svg_is_refused_quickly_in_little_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "icon.svg"
    _gzip_bomb(bomb, 1 << 30)  # 1 GiB of SVG in about a MiB
    with gzip.open(bomb, "rb") as check:  # a valid gzip stream (read only its start here)
        assert check.read(4) == b"<svg"
    assert bomb.stat().st_size < 4 * 1024 * 1024
    result = _check_in_child(bomb)
    assert "unpacks to more than" in str(result["problem"]) and "icon.svg" in str(result["problem"])
    assert int(result["peak"]) < MEMORY_LIMIT, result  # type: ignore[call-overload]


def test_20000_px_png_is_refused_quickly_in_little_memory(tmp_path: Path) -> None:
    huge = tmp_path / "icon.png"
    _huge_png(huge, 20000)
    assert struct.unpack(">II", huge.read_bytes()[16:24]) == (20000, 20000)  # the IHDR says so
    result = _check_in_child(huge)
    assert "icon.png" in str(result["problem"]) and "pixels" in str(result["problem"]), result
    assert "limit" in str(result["problem"]), result
    assert int(result["peak"]) < MEMORY_LIMIT, result  # type: ignore[call-overload]


@pytest.mark.parametrize("href", ["/etc/hostname", "file:///etc/hostname", "../secret.png", "&outside;",
                                  "\n /etc/hostname"])
def test_svg_may_not_pull_files_from_outside_its_folder(tmp_path: Path, href: str) -> None:
    folder = tmp_path / "assets"
    folder.mkdir()
    Image.new("RGBA", (8, 8), (255, 0, 0, 255)).save(tmp_path / "secret.png")
    svg = folder / "icon.svg"
    svg.write_text('<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY outside "/etc/hostname">]>\n'
                   '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" '
                   f'height="64"><image xlink:href="{href}" width="64" height="64"/></svg>')
    problem = icon_problem(svg)
    assert problem is not None and "outside the icon's folder" in problem


def test_svg_may_use_images_beside_it(tmp_path: Path) -> None:
    Image.new("RGBA", (8, 8), (0, 0, 255, 255)).save(tmp_path / "blue.png")
    svg = tmp_path / "icon.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
                   '<image href="blue.png" width="64" height="64"/></svg>')
    icon = load_icon(svg)
    assert icon.image.getpixel((512, 512)) == (0, 0, 255, 255)


def test_a_fifo_icon_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "icon.png"
    os.mkfifo(fifo)
    problem = icon_problem(fifo)
    assert problem is not None and "not a regular file" in problem
