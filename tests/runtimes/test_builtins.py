"""The modules compiled into a runtime's interpreter, read from what ships: the Windows DLL's PyImport_Inittab, the
Linux interpreter asked, PyInit_ symbols when it cannot run here."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

import pytest
from kit.embed import provide_real_embed

from kiln.runtimes.builtins import builtin_modules, inittab_of_dll
from kiln.support.targets import TARGETS

PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def _libpython() -> Path:
    library = Path(sysconfig.get_config_var("LIBDIR")) / str(sysconfig.get_config_var("LDLIBRARY"))
    if not library.is_file() or library.suffix == ".a":
        pytest.skip("this Python has no shared libpython")
    return library


def test_a_linux_runtime_is_asked(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    (runtime / "bin").mkdir(parents=True)
    (runtime / "bin" / f"python{PY}").symlink_to(sys.executable)
    assert builtin_modules(runtime, TARGETS["linux-x86_64"], PY) == frozenset(sys.builtin_module_names)


def test_a_runtime_that_cannot_run_here_is_read_from_its_symbols(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    (runtime / "lib").mkdir(parents=True)
    shutil.copyfile(_libpython(), runtime / "lib" / _libpython().name)  # a macOS layout, read as files
    assert builtin_modules(runtime, TARGETS["macos-arm64"], PY) == frozenset(sys.builtin_module_names)


def test_nothing_readable_is_none(tmp_path: Path) -> None:
    (tmp_path / "python311.dll").write_bytes(b"MZ not really a DLL")
    assert builtin_modules(tmp_path, TARGETS["windows-x86_64"], "3.11") is None
    assert inittab_of_dll(tmp_path / "python311.dll") is None
    assert builtin_modules(tmp_path, TARGETS["macos-arm64"], "3.11") is None


@pytest.mark.slow
def test_the_embeddable_runtimes_dll_lists_its_builtins(tmp_path: Path) -> None:
    runtime = provide_real_embed(tmp_path / "cache").root
    names = builtin_modules(runtime, TARGETS["windows-x86_64"], "3.11")
    assert names is not None and len(names) == 67
    assert {"nt", "winreg", "msvcrt", "_winapi", "_io", "sys", "builtins", "zlib", "_json", "math"} <= names
    assert not names & {"posix", "_tkinter", "_curses", "_socket"}  # not built in (_socket is a .pyd beside it)
