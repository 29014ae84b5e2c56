"""Fixtures for runtime tests: fake python-build-standalone archives and a loopback HTTP mirror that serves them."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pytest
import zstandard

from kiln.runtimes import catalog
from kiln.support.targets import TARGETS, Target

# Entry name -> content (bytes, mode) or a symlink target ("->", target).
Layout = dict[str, "tuple[bytes, int] | tuple[str, str]"]


def pbs_layout(target: Target, full_version: str = "3.12.7") -> Layout:
    """The shape of an install_only archive for `target`, with the parts Kiln prunes and the parts it keeps."""
    minor = ".".join(full_version.split(".")[:2])
    nodot = minor.replace(".", "")
    header = f'#define PY_VERSION "{full_version}"\n'.encode()
    plain, exe = 0o644, 0o755
    if target.os == "windows":
        return {
            "python/python.exe": (b"MZ fake python", exe),
            "python/pythonw.exe": (b"MZ fake pythonw", exe),
            f"python/python{nodot}.dll": (b"MZ fake dll", plain),
            "python/python3.dll": (b"MZ stable abi", plain),
            "python/Lib/os.py": (b"# os\n", plain),
            "python/Lib/json/__init__.py": (b"# json\n", plain),
            "python/Lib/__pycache__/os.cpython-312.pyc": (b"\0" * 64, plain),
            "python/Lib/test/test_os.py": (b"# test\n" * 100, plain),
            "python/Lib/idlelib/idle.py": (b"# idle\n", plain),
            "python/Lib/tkinter/__init__.py": (b"# tk\n", plain),
            "python/Lib/ensurepip/__init__.py": (b"# ensurepip\n", plain),
            "python/Lib/lib2to3/__init__.py": (b"# 2to3\n", plain),
            "python/Lib/pydoc_data/topics.py": (b"# topics\n", plain),
            "python/Lib/unittest/__init__.py": (b"# unittest\n", plain),
            "python/Lib/unittest/test/test_case.py": (b"# test\n", plain),
            "python/Lib/site-packages/README.txt": (b"site\n", plain),
            "python/DLLs/_socket.pyd": (b"MZ socket", plain),
            "python/DLLs/_tkinter.pyd": (b"MZ tkinter", plain),
            "python/DLLs/tcl86t.dll": (b"MZ tcl", plain),
            "python/DLLs/tk86t.dll": (b"MZ tk", plain),
            "python/tcl/tcl8.6/init.tcl": (b"# tcl\n", plain),
            "python/include/patchlevel.h": (header, plain),
            "python/libs/python312.lib": (b"!<arch>\n", plain),
        }
    libpython = f"libpython{minor}.dylib" if target.os == "macos" else f"libpython{minor}.so.1.0"
    stdlib = f"python/lib/python{minor}"
    return {
        f"python/bin/python{minor}": (b"#!/bin/sh\necho fake python\n", exe),
        "python/bin/python3": ("->", f"python{minor}"),
        f"python/bin/idle{minor}": (b"#!/bin/sh\n", exe),
        "python/bin/idle3": ("->", f"idle{minor}"),
        f"python/bin/python{minor}-config": (b"#!/bin/sh\n", exe),
        f"python/lib/{libpython}": (b"\0fake libpython", exe),
        "python/lib/pkgconfig/python3.pc": (b"Name: Python\n", plain),
        "python/lib/tcl8.6/init.tcl": (b"# tcl\n", plain),
        "python/lib/libtcl8.6.so": (b"\0", plain),
        f"{stdlib}/os.py": (b"# os\n", plain),
        f"{stdlib}/json/__init__.py": (b"# json\n", plain),
        f"{stdlib}/__pycache__/os.cpython-312.pyc": (b"\0" * 64, plain),
        f"{stdlib}/json/__pycache__/__init__.cpython-312.pyc": (b"\0" * 64, plain),
        f"{stdlib}/test/test_os.py": (b"# test\n" * 100, plain),
        f"{stdlib}/idlelib/idle.py": (b"# idle\n", plain),
        f"{stdlib}/tkinter/__init__.py": (b"# tk\n", plain),
        f"{stdlib}/ensurepip/__init__.py": (b"# ensurepip\n", plain),
        f"{stdlib}/lib2to3/__init__.py": (b"# 2to3\n", plain),
        f"{stdlib}/pydoc_data/topics.py": (b"# topics\n", plain),
        f"{stdlib}/lib-dynload/_socket.cpython-312.so": (b"\0", plain),
        f"{stdlib}/lib-dynload/_tkinter.cpython-312.so": (b"\0", plain),
        f"{stdlib}/config-{minor}/libpython{minor}.a": (b"!<arch>\n", plain),
        f"{stdlib}/site-packages/README.txt": (b"site\n", plain),
        "python/lib/libffi.a": (b"!<arch>\n", plain),
        "python/share/man/man1/python3.1": (b".TH\n", plain),
        f"python/include/python{minor}/patchlevel.h": (header, plain),
        f"python/include/python{minor}/Python.h": (b"/* */\n", plain),
    }


def make_archive(layout: Layout, fmt: str = "tar.gz") -> bytes:
    """An archive holding `layout`, as tar.gz, tar.zst or zip (zip stores symlinks as small files)."""
    buffer = io.BytesIO()
    if fmt == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, (first, second) in sorted(layout.items()):
                if first == "->":
                    continue
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o100000 | int(second)) << 16
                zf.writestr(info, first)
        return buffer.getvalue()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        for name, (first, second) in sorted(layout.items()):
            info = tarfile.TarInfo(name)
            if first == "->":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, str(second), 0o777
                tf.addfile(info)
                continue
            assert isinstance(first, bytes)
            info.size, info.mode = len(first), int(second)
            tf.addfile(info, io.BytesIO(first))
    raw = buffer.getvalue()
    if fmt == "tar.zst":
        return zstandard.ZstdCompressor().compress(raw)
    import gzip

    return gzip.compress(raw, mtime=0)


@dataclass
class Mirror:
    """A loopback HTTP server standing in for GitHub (or a PBS_INSTALLER_BASE_URL mirror)."""

    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    truncate: set[str] = field(default_factory=set)
    """Paths whose next response stops halfway through the body (then the name is removed)."""
    stall: dict[str, float] = field(default_factory=dict)
    """Paths that wait this many seconds before answering."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mirror"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        mirror = self.server.mirror
        path = unquote(self.path)
        mirror.hits.append(path)
        if path in mirror.stall:
            time.sleep(mirror.stall[path])
        body = mirror.files.get(path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if path in mirror.truncate:
            mirror.truncate.discard(path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    mirror: Mirror


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Mirror]:
    """A running loopback mirror, PBS_INSTALLER_BASE_URL pointing at it and KILN_CACHE_DIR in tmp_path."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.mirror = Mirror(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    monkeypatch.setenv("PBS_INSTALLER_BASE_URL", server.mirror.base_url)
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))
    try:
        yield server.mirror
    finally:
        server.shutdown()
        server.server_close()


Publish = Callable[..., catalog.CatalogEntry]


@pytest.fixture
def publish(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> Publish:
    """publish(platform, minor, archive_bytes) serves the bytes as the catalog's pick for that target.

    The real catalog code path stays in use: only the sha256 pbs-installer lists for that file is replaced by the
    fake archive's, so the entry, its file name and its mirror URL are the ones Kiln would really download.
    """
    real_index = catalog._pbs_index
    overrides: dict[str, str] = {}

    def patched(base: str | None) -> catalog.PbsIndex:
        def sha_of(url: str, sha: str | None) -> str | None:
            return overrides.get(unquote(url.rsplit("/", 1)[-1]), sha)

        return {
            version: {key: (url, sha_of(url, sha)) for key, (url, sha) in files.items()}
            for version, files in real_index(base).items()
        }

    monkeypatch.setattr(catalog, "_pbs_index", patched)

    def publish_archive(platform: str, minor: str, data: bytes, *, sha256: str | None = None) -> catalog.CatalogEntry:
        entry = catalog.pick(TARGETS[platform], minor)
        mirror.files[f"/mirror/{entry.filename}"] = data
        overrides[entry.filename] = sha256 or hashlib.sha256(data).hexdigest()
        return catalog.pick(TARGETS[platform], minor)

    return publish_archive


ServeRuntime = Callable[..., "tuple[catalog.CatalogEntry, bytes]"]


@pytest.fixture
def serve_runtime(publish: Publish) -> ServeRuntime:
    """serve_runtime(platform, minor="3.12", fmt="tar.gz") publishes a fake runtime of the catalog's version."""

    def serve(platform: str, minor: str = "3.12", fmt: str = "tar.gz") -> tuple[catalog.CatalogEntry, bytes]:
        version = catalog.pick(TARGETS[platform], minor).version
        data = make_archive(pbs_layout(TARGETS[platform], version), fmt)
        return publish(platform, minor, data), data

    return serve


@dataclass(frozen=True)
class FakePbs:
    """The archive helpers, handed to tests as a fixture (test modules cannot import conftest)."""

    layout: Callable[..., Layout] = pbs_layout
    archive: Callable[..., bytes] = make_archive


@pytest.fixture
def fake_pbs() -> FakePbs:
    return FakePbs()
