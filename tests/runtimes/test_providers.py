"""Runtime providers end to end against a loopback mirror: download, verify, extract, prune, cache, reuse."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from kiln.runtimes import archive, cache
from kiln.runtimes.archive import ArchiveRuntimeProvider
from kiln.runtimes.base import Runtime
from kiln.runtimes.downloaded import DownloadedRuntimeProvider
from kiln.runtimes.embed import EmbedRuntimeProvider
from kiln.runtimes.select import AutoRuntimeProvider, provider_for
from kiln.support.errors import KilnError
from kiln.support.targets import TARGETS, Target

PRUNED = {
    "windows": ["Lib/test", "Lib/idlelib", "Lib/ensurepip", "Lib/lib2to3", "Lib/pydoc_data",
                "Lib/__pycache__", "Lib/unittest/test", "include", "libs"],
    "unix": ["lib/python3.12/test", "lib/python3.12/idlelib", "lib/python3.12/ensurepip",
             "lib/python3.12/lib2to3", "lib/python3.12/pydoc_data", "lib/python3.12/__pycache__",
             "lib/python3.12/json/__pycache__",
             "lib/python3.12/config-3.12", "lib/libffi.a", "lib/pkgconfig",
             "share/man", "include", "bin/idle3", "bin/idle3.12", "bin/python3.12-config"],
}
KEPT = {
    # Tcl/Tk is kept in the cache: each bundle drops it unless its code imports tkinter.
    "windows": ["python.exe", "pythonw.exe", "python312.dll", "python3.dll", "Lib/os.py", "Lib/json/__init__.py",
                "Lib/unittest/__init__.py", "Lib/site-packages/README.txt", "DLLs/_socket.pyd", "DLLs/_tkinter.pyd",
                "DLLs/tcl86t.dll", "tcl/tcl8.6/init.tcl"],
    "unix": ["bin/python3.12", "bin/python3", "lib/python3.12/os.py", "lib/python3.12/json/__init__.py",
             "lib/python3.12/lib-dynload/_socket.cpython-312.so", "lib/python3.12/site-packages/README.txt",
             "lib/python3.12/lib-dynload/_tkinter.cpython-312.so", "lib/tcl8.6/init.tcl", "lib/libtcl8.6.so"],
}


def _noop(fraction: float, message: str) -> None:
    pass


def _assert_pruned(runtime: Runtime) -> None:
    family = "windows" if runtime.target.os == "windows" else "unix"
    for gone in PRUNED[family]:
        assert not (runtime.root / gone).exists() and not (runtime.root / gone).is_symlink(), gone
    for kept in KEPT[family]:
        assert (runtime.root / kept).exists(), kept
    libpython = {"linux": "lib/libpython3.12.so.1.0", "macos": "lib/libpython3.12.dylib"}.get(runtime.target.os)
    if libpython:
        assert (runtime.root / libpython).is_file()


@pytest.mark.parametrize("platform", ["windows-x86_64", "linux-x86_64", "macos-arm64", "macos-x86_64"])
def test_download_provider_fetches_prunes_and_reuses(
    platform: str, serve_runtime: Any, mirror: Any, tmp_path: Path
) -> None:
    entry, _data = serve_runtime(platform, "3.12")
    seen: list[float] = []
    runtime = DownloadedRuntimeProvider().provide(TARGETS[platform], "3.12", tmp_path / "cache",
                                                  lambda f, m: seen.append(f))
    assert runtime.python.is_file() and runtime.python == runtime.root / TARGETS[platform].python_relpath("3.12")
    assert (runtime.version, runtime.full_version, runtime.reused) == ("3.12", entry.version, False)
    assert runtime.root == tmp_path / "cache/runtimes" / platform / f"{entry.version}-{entry.build}" / "python"
    assert "sha256 verified" in runtime.source and runtime.notes
    assert seen[-1] == 1.0 and seen == sorted(seen)
    _assert_pruned(runtime)
    assert mirror.hits == [f"/mirror/{entry.filename}"]

    again = DownloadedRuntimeProvider().provide(TARGETS[platform], "3.12", tmp_path / "cache", _noop)
    assert again.reused and again.root == runtime.root
    assert len(mirror.hits) == 1  # served from the cache: no HTTP request at all


def test_zstd_runtime_archive(publish: Any, fake_pbs: Any, tmp_path: Path) -> None:
    from kiln.runtimes import catalog

    target = TARGETS["linux-x86_64"]
    version = catalog.pick(target, "3.13").version
    publish("linux-x86_64", "3.13", fake_pbs.archive(fake_pbs.layout(target, version), "tar.zst"))
    runtime = DownloadedRuntimeProvider().provide(target, "3.13", tmp_path / "cache", _noop)
    assert (runtime.root / "bin/python3.13").is_file()


def test_checksum_mismatch_caches_nothing(publish: Any, fake_pbs: Any, mirror: Any, tmp_path: Path) -> None:
    data = fake_pbs.archive(fake_pbs.layout(TARGETS["windows-x86_64"]))
    publish("windows-x86_64", "3.12", data, sha256=hashlib.sha256(b"another file").hexdigest())
    with pytest.raises(KilnError, match="checksum mismatch"):
        DownloadedRuntimeProvider().provide(TARGETS["windows-x86_64"], "3.12", tmp_path / "cache", _noop)
    assert cache.list_cached(tmp_path / "cache") == []
    assert list((tmp_path / "cache/runtimes/windows-x86_64").iterdir()) == []
    assert len(mirror.hits) == 1


def test_interrupted_download_then_retry(serve_runtime: Any, mirror: Any, tmp_path: Path) -> None:
    entry, _data = serve_runtime("windows-x86_64")
    mirror.truncate.add(f"/mirror/{entry.filename}")
    provider = DownloadedRuntimeProvider()
    with pytest.raises(KilnError, match="interrupted"):
        provider.provide(TARGETS["windows-x86_64"], "3.12", tmp_path / "cache", _noop)
    assert cache.list_cached(tmp_path / "cache") == []
    assert list((tmp_path / "cache/runtimes/windows-x86_64").iterdir()) == []
    runtime = provider.provide(TARGETS["windows-x86_64"], "3.12", tmp_path / "cache", _noop)
    assert not runtime.reused and runtime.python.is_file()
    assert len(mirror.hits) == 2


def test_a_crash_before_the_marker_leaves_nothing_usable(
    serve_runtime: Any, mirror: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    entry, _data = serve_runtime("linux-x86_64")

    def crash(*args: object) -> int:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(archive, "prune_runtime", crash)
        DownloadedRuntimeProvider().provide(TARGETS["linux-x86_64"], "3.12", tmp_path / "cache", _noop)
    assert list((tmp_path / "cache/runtimes/linux-x86_64").iterdir()) == []
    # A folder without a marker (e.g. a copy interrupted by hand) is not trusted either: it is replaced.
    stale = tmp_path / "cache/runtimes/linux-x86_64" / f"{entry.version}-{entry.build}" / "python"
    stale.mkdir(parents=True)
    (stale / "half-written").write_text("")
    assert cache.list_cached(tmp_path / "cache") == []
    runtime = DownloadedRuntimeProvider().provide(TARGETS["linux-x86_64"], "3.12", tmp_path / "cache", _noop)
    assert not (runtime.root / "half-written").exists() and runtime.python.is_file()


def _archive(tmp_path: Path, fake_pbs: Any, target: Target, name: str, version: str = "3.12.7") -> Path:
    path = tmp_path / name
    path.write_bytes(fake_pbs.archive(fake_pbs.layout(target, version)))
    return path


def test_archive_provider_caches_by_checksum(tmp_path: Path, fake_pbs: Any) -> None:
    target = TARGETS["macos-arm64"]
    archive = _archive(tmp_path, fake_pbs, target, "cpython-3.12.7+20241016-aarch64-apple-darwin-install_only.tar.gz")
    runtime = ArchiveRuntimeProvider(archive).provide(target, "3.12", tmp_path / "cache", _noop)
    assert (runtime.full_version, runtime.reused) == ("3.12.7", False)
    assert runtime.root.parent.name == "3.12.7-20241016"
    _assert_pruned(runtime)
    again = ArchiveRuntimeProvider(archive).provide(target, "3.12", tmp_path / "cache", _noop)
    assert again.reused and again.root == runtime.root

    plain = _archive(tmp_path, fake_pbs, target, "my-python.tar.gz", "3.12.5")
    local = ArchiveRuntimeProvider(plain).provide(target, "3.12", tmp_path / "cache", _noop)
    assert local.root.parent.name.startswith("3.12.5-local-")


@pytest.mark.parametrize(
    ("platform", "name", "layout_of", "version", "message"),
    [
        ("windows-x86_64", "cpython-3.12.7+20241016-x86_64-unknown-linux-gnu-install_only.tar.gz", "linux-x86_64",
         "3.12", "for linux x86_64, not for windows-x86_64"),
        ("windows-x86_64", "runtime.tar.gz", "linux-x86_64", "3.12", "it holds a Linux or macOS runtime"),
        ("linux-x86_64", "runtime.tar.gz", "windows-x86_64", "3.12", "it holds a Windows runtime"),
        ("linux-x86_64", "runtime.tar.gz", "linux-x86_64", "3.11", "holds Python 3.12, not 3.11"),
        ("linux-x86_64", "cpython-3.12.7+20241016-x86_64-unknown-linux-gnu-pgo+lto-full.tar.zst", "linux-x86_64",
         "3.12", "not an install_only archive"),
    ],
)
def test_archive_provider_refuses_the_wrong_runtime(
    platform: str, name: str, layout_of: str, version: str, message: str, tmp_path: Path, fake_pbs: Any
) -> None:
    archive = _archive(tmp_path, fake_pbs, TARGETS[layout_of], name)
    with pytest.raises(KilnError, match=message):
        ArchiveRuntimeProvider(archive).provide(TARGETS[platform], version, tmp_path / "cache", _noop)
    assert cache.list_cached(tmp_path / "cache") == []


def test_interpreter_built_for_another_cpu_is_refused(tmp_path: Path, fake_pbs: Any) -> None:
    layout = fake_pbs.layout(TARGETS["linux-x86_64"])
    elf_aarch64 = b"\x7fELF\x02\x01\x01" + b"\0" * 11 + (183).to_bytes(2, "little") + b"\0" * 64
    layout["python/bin/python3.12"] = (elf_aarch64, 0o755)
    archive = tmp_path / "runtime.tar.gz"
    archive.write_bytes(fake_pbs.archive(layout))
    with pytest.raises(KilnError, match="holds a runtime for linux aarch64, not for linux-x86_64"):
        ArchiveRuntimeProvider(archive).provide(TARGETS["linux-x86_64"], "3.12", tmp_path / "cache", _noop)


class _FakeHost:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def provide(self, target: Target, version: str, cache_dir: Path, progress: Any) -> Runtime:
        self.calls.append(target.name)
        return Runtime(cache_dir, target, version, version + ".0", "host")


def test_provider_for_dispatches_every_source(tmp_path: Path, fake_pbs: Any) -> None:
    assert isinstance(provider_for("download", tmp_path), DownloadedRuntimeProvider)
    archive = _archive(tmp_path, fake_pbs, TARGETS["linux-x86_64"], "rt.tar.gz")
    relative = provider_for("rt.tar.gz", tmp_path)
    assert isinstance(relative, ArchiveRuntimeProvider) and relative.archive == archive
    assert isinstance(provider_for("embed", tmp_path), EmbedRuntimeProvider)
    with pytest.raises(KilnError, match="neither auto, host, download, embed nor an existing archive"):
        provider_for("missing.tar.gz", tmp_path)
    with pytest.raises(KilnError, match="not available here"):
        provider_for("host", tmp_path)
    host = _FakeHost()
    assert provider_for("host", tmp_path, host) is host
    auto = provider_for("auto", tmp_path, host)
    assert isinstance(auto, AutoRuntimeProvider)
    auto.provide(TARGETS["linux-x86_64"], "3.12", tmp_path, _noop)
    assert host.calls == ["linux-x86_64"]
    assert isinstance(provider_for("auto", tmp_path).download, DownloadedRuntimeProvider)  # type: ignore[attr-defined]


def test_cache_root_override_and_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_pbs: Any) -> None:
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "kc"))
    assert cache.cache_root() == tmp_path / "kc"
    monkeypatch.delenv("KILN_CACHE_DIR")
    assert cache.cache_root().name == "kiln"
    archive = _archive(tmp_path, fake_pbs, TARGETS["linux-x86_64"], "rt.tar.gz")
    ArchiveRuntimeProvider(archive).provide(TARGETS["linux-x86_64"], "3.12", tmp_path / "kc", _noop)
    (cache.wheels_root(tmp_path / "kc") / "linux-x86_64-py3.12").mkdir(parents=True)
    (cache.wheels_root(tmp_path / "kc") / "linux-x86_64-py3.12" / "a.whl").write_bytes(b"x" * 100)
    assert cache.clean(tmp_path / "kc", runtimes=False) == 100
    assert len(cache.list_cached(tmp_path / "kc")) == 1
    assert cache.clean(tmp_path / "kc") > 0 and cache.list_cached(tmp_path / "kc") == []
