"""The relocated host runtime runs on its own: own libpython, own stdlib, no trace of the build prefix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiln.runtimes.host import GLIBC_LIBRARIES, HostRuntimeProvider, needed_libraries, runpath_of
from kiln.support.targets import TARGETS


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cache = tmp_path_factory.mktemp("cache")
    return HostRuntimeProvider().provide(TARGETS["linux-x86_64"], f"{sys.version_info[0]}.{sys.version_info[1]}",
                                         cache, lambda fraction, message: None)


def hidden_prefix_argv(argv: list[str]) -> list[str]:
    """Run argv with the host Python's prefix hidden behind an empty tmpfs (needs root and unshare)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding the host prefix needs root and unshare")
    script = 'mount -t tmpfs none "$1" && shift && exec env -i "$@"'
    return ["unshare", "-m", "sh", "-c", script, "sh", sys.base_prefix, *argv]


def test_relocated_runtime_runs_with_host_prefix_hidden(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "moved" / "python"
    shutil.copytree(runtime.root, copy, symlinks=True)
    code = (
        "import sys, json, ssl, sqlite3, lzma, bz2, zlib, ctypes, uuid, decimal, hashlib;"
        "maps=[l.split()[-1] for l in open('/proc/self/maps') if 'libpython' in l or '.so' in l];"
        "print(json.dumps({'prefix': sys.prefix, 'maps': maps, 'ssl': ssl.OPENSSL_VERSION}))"
    )
    result = subprocess.run(hidden_prefix_argv([str(copy / "bin" / runtime.python.name), "-I", "-c", code]),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["prefix"] == str(copy)
    libpython = [m for m in data["maps"] if "libpython" in m]
    assert libpython and all(m.startswith(str(copy)) for m in libpython), libpython
    # every non-glibc library comes from the copy, none from the system or the build prefix
    foreign = [m for m in data["maps"] if not m.startswith(str(copy)) and Path(m).name not in GLIBC_LIBRARIES
               and not Path(m).name.startswith(("libc.so", "ld-linux", "libm.so", "libgcc_s", "libstdc++"))]
    assert foreign == [], foreign


def test_runpaths_are_relative(runtime) -> None:  # type: ignore[no-untyped-def]
    version = runtime.version
    assert runpath_of(runtime.python) == ["$ORIGIN/../lib"]
    assert runpath_of(runtime.root / "lib" / f"libpython{version}.so.1.0") == ["$ORIGIN"]
    dynload = runtime.root / "lib" / f"python{version}" / "lib-dynload"
    assert {tuple(runpath_of(m)) for m in dynload.glob("*.so")} == {("$ORIGIN/../..",)}


def test_bundled_libraries_and_pruned_stdlib(runtime) -> None:  # type: ignore[no-untyped-def]
    lib = runtime.root / "lib"
    for name in ("libssl.so.3", "libcrypto.so.3", "libffi.so.8", "libsqlite3.so.0", "liblzma.so.5", "libz.so.1"):
        assert (lib / name).exists(), name
    stdlib = lib / f"python{runtime.version}"
    assert not (stdlib / "test").exists() and not (stdlib / "idlelib").exists()
    # tkinter stays in the cached runtime with Tcl/Tk (staging drops it from bundles that never import it);
    # X11, fontconfig and freetype are the desktop's own
    assert (stdlib / "tkinter" / "__init__.pyc").exists()
    assert (lib / "tcl8.6" / "init.tcl").is_file() and (lib / "tk8.6" / "tk.tcl").is_file()
    (tkinter_module,) = (stdlib / "lib-dynload").glob("_tkinter.*.so")
    assert set(needed_libraries(tkinter_module)) >= {"libX11.so.6"}  # resolved from the system, not bundled
    assert (lib / "libtcl8.6.so").exists() and (lib / "libtk8.6.so").exists()
    assert not list(lib.glob("libX11*")) and not list(lib.glob("libfontconfig*"))
    assert (stdlib / "os.pyc").exists() and not (stdlib / "os.py").exists()
    assert list((stdlib / "site-packages").iterdir()) == []
    assert needed_libraries(runtime.python) == {}  # everything resolves inside the runtime now


def test_second_provide_reuses_the_cache(runtime) -> None:  # type: ignore[no-untyped-def]
    again = HostRuntimeProvider().provide(runtime.target, runtime.version, runtime.root.parents[3],
                                          lambda fraction, message: None)
    assert again.reused and again.root == runtime.root and not runtime.reused


def test_wrong_version_or_target_is_a_clear_error(tmp_path: Path) -> None:
    from kiln.support.errors import KilnError

    with pytest.raises(KilnError, match="host Python is"):
        HostRuntimeProvider().provide(TARGETS["linux-x86_64"], "3.8", tmp_path, lambda f, m: None)
    with pytest.raises(KilnError, match="only be bundled for Linux"):
        HostRuntimeProvider().provide(TARGETS["windows-x86_64"], "3.11", tmp_path, lambda f, m: None)


def test_no_stale_bytecode_caches(runtime) -> None:  # type: ignore[no-untyped-def]
    # timestamped __pycache__ files would make artifacts depend on when the cache was made
    assert list(runtime.root.rglob("__pycache__")) == []


def test_a_changed_or_swapped_relocated_runtime_is_made_again(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The cached copy proves it is its key's: the key computed from its record, and its tree as recorded."""
    entry = runtime.root.parent
    copy = tmp_path / "cache" / "runtimes" / "host" / entry.name
    shutil.copytree(entry, copy, symlinks=True)

    def provide():  # type: ignore[no-untyped-def]
        return HostRuntimeProvider().provide(runtime.target, runtime.version, tmp_path / "cache", lambda f, m: None)

    assert provide().reused, "a copy of a good entry is as good"
    # Another interpreter's relocated copy filed under this key: its record names that interpreter.
    record = json.loads((copy / ".kiln-complete").read_text(encoding="utf-8"))
    (copy / ".kiln-complete").write_text(json.dumps({**record, "key": {**record["key"], "prefix": "/opt/other"}}),
                                         encoding="utf-8")
    again = provide()
    assert not again.reused and again.root == copy / "python"
    assert again.warnings == (f"the cached relocated host Python ({entry.name}) was not this build's (its record is "
                              "of another entry, made from other inputs): discarded, relocating it again",)
    assert provide().reused and provide().warnings == ()
    # A file slipped into its tree (its record kept).
    stdlib = copy / "python" / "lib" / f"python{runtime.version}"
    (stdlib / "sitecustomize.py").write_text("print('not Python any more')\n", encoding="utf-8")
    again = provide()
    assert not again.reused and not (stdlib / "sitecustomize.py").exists()
    assert "its files are not the ones its record describes" in again.warnings[0]
