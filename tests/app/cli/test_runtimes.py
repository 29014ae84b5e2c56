"""`kiln runtimes …` and `kiln cache …` through the real CLI entry point, against a loopback mirror."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

import pytest

from kiln.cli.main import main
from kiln.runtimes import catalog
from kiln.support.targets import TARGETS


def fake_runtime(platform: str, full_version: str) -> bytes:
    """A minimal install_only archive: interpreter, stdlib, version header and one thing to prune."""
    minor = ".".join(full_version.split(".")[:2])
    header = f'#define PY_VERSION "{full_version}"\n'.encode()
    if TARGETS[platform].os == "windows":
        files = {"python/python.exe": b"MZ", f"python/python{minor.replace('.', '')}.dll": b"MZ",
                 "python/Lib/os.py": b"", "python/Lib/test/t.py": b"", "python/include/patchlevel.h": header}
    else:
        files = {f"python/bin/python{minor}": b"#!/bin/sh\n", f"python/lib/python{minor}/os.py": b"",
                 f"python/lib/python{minor}/test/t.py": b"", f"python/include/python{minor}/patchlevel.h": header}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tf.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


class _Handler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    hits: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = unquote(self.path)
        self.hits.append(path)
        body = self.files.get(path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[type[_Handler]]:
    """A loopback mirror serving fake 3.12 runtimes for Windows and Linux, with the catalog pointed at it."""
    handler = type("Handler", (_Handler,), {"files": {}, "hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PBS_INSTALLER_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/pbs")
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))
    overrides: dict[str, str] = {}
    for platform in ("windows-x86_64", "linux-x86_64"):
        entry = catalog.pick(TARGETS[platform], "3.12")
        data = fake_runtime(platform, entry.version)
        handler.files[f"/pbs/{entry.filename}"] = data
        overrides[entry.filename] = hashlib.sha256(data).hexdigest()
    real_index = catalog._pbs_index

    def patched(base: str | None) -> catalog.PbsIndex:
        return {v: {k: (url, overrides.get(unquote(url.rsplit("/", 1)[-1]), sha)) for k, (url, sha) in files.items()}
                for v, files in real_index(base).items()}

    monkeypatch.setattr(catalog, "_pbs_index", patched)
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


Served = type[_Handler]
Capture = pytest.CaptureFixture[str]


def test_fetch_then_fetch_again_is_served_from_the_cache(served: Served, capsys: Capture) -> None:
    assert main(["runtimes", "fetch", "3.12", "--platform", "windows-x86_64"]) == 0
    out = capsys.readouterr().out
    assert "downloaded, verified and cached" in out and "windows-x86_64" in out
    assert len(served.hits) == 1
    assert main(["runtimes", "fetch", "3.12", "--platform", "windows-x86_64"]) == 0
    assert "already cached" in capsys.readouterr().out
    assert len(served.hits) == 1  # no HTTP request the second time


def test_list_shows_catalog_versions_and_cached_runtimes(served: Served, capsys: Capture) -> None:
    assert main(["runtimes", "fetch", "3.12", "--platform", "linux-x86_64"]) == 0
    capsys.readouterr()
    assert main(["runtimes", "list", "--platform", "linux-x86_64"]) == 0
    out = capsys.readouterr().out
    newest = catalog.pick(TARGETS["linux-x86_64"], "3.12").version
    assert newest in out and "cached" in out and "3.8" in out
    assert "PBS_INSTALLER_BASE_URL" in out


def test_add_registers_a_local_archive_and_cache_commands(served: Served, tmp_path: Path, capsys: Capture) -> None:
    archive = tmp_path / "python-3.12.3-linux.tar.gz"
    archive.write_bytes(fake_runtime("linux-x86_64", "3.12.3"))
    assert main(["runtimes", "add", str(archive), "--platform", "linux-x86_64", "--version", "3.12"]) == 0
    assert "added to the cache" in capsys.readouterr().out
    assert main(["runtimes", "add", str(archive), "--platform", "linux-x86_64"]) == 0
    assert "already in the cache" in capsys.readouterr().out

    wheels = tmp_path / "cache/wheels/linux-x86_64-py3.12"
    wheels.mkdir(parents=True)
    (wheels / "a-1.0-py3-none-any.whl").write_bytes(b"x")
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert "3.12.3" in out and "linux-x86_64-py3.12" in out

    # what only makes rebuilds faster (kiln.engine.installed_cache, kiln.support.layers) is listed and cleaned too
    installed = tmp_path / "cache/installed/0123abcd/packages"
    installed.mkdir(parents=True)
    (installed / "rich.py").write_bytes(b"x" * 2_000_000)
    base = tmp_path / "cache/bases/appimage/feedface"
    base.mkdir(parents=True)
    (base / "base").write_bytes(b"y" * 3_000_000)
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert "installed dependencies" in out and "2.0 MB" in out
    assert "compressed bases for appimage" in out and "3.0 MB" in out

    assert main(["cache", "clean", "--wheels"]) == 0
    assert not wheels.exists() and (tmp_path / "cache/runtimes").exists() and base.exists()
    assert main(["cache", "clean", "--rebuilds"]) == 0
    assert "5.0 MB freed" in capsys.readouterr().out
    assert not (tmp_path / "cache/installed").exists() and not (tmp_path / "cache/bases").exists()
    assert (tmp_path / "cache/runtimes").exists()
    assert main(["cache", "clean"]) == 0
    out = capsys.readouterr().out
    assert "runtimes, wheels, installed dependencies, compressed bases and build environments" in out
    assert not (tmp_path / "cache/runtimes").exists()
    assert served.hits == []


def test_user_errors_exit_1_with_a_hint(served: Served, tmp_path: Path, capsys: Capture) -> None:
    archive = tmp_path / "rt.tar.gz"
    archive.write_bytes(fake_runtime("linux-x86_64", "3.12.3"))
    assert main(["runtimes", "add", str(archive), "--platform", "linux-x86_64", "--version", "3.11"]) == 1
    err = capsys.readouterr().err
    assert "holds Python 3.12, not 3.11" in err and "hint:" in err
    assert main(["runtimes", "add", str(archive), "--platform", "windows-x86_64"]) == 1
    assert "not a Windows runtime" in capsys.readouterr().err
    assert main(["runtimes", "add", str(tmp_path / "missing.tar.gz"), "--platform", "linux-x86_64"]) == 1
    assert main(["runtimes", "fetch", "3.2"]) == 1
    assert "no downloadable Python 3.2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["runtimes", "fetch", "3.12", "--platform", "solaris"])
