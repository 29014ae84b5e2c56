"""Tcl/Tk stays in cached runtimes and leaves each bundle that does not use it (runtimes.prune.drop_tkinter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.runtimes.prune import drop_tkinter

LAYOUTS = {
    "linux": (["lib/python3.12/tkinter/__init__.py", "lib/python3.12/turtle.py",
               "lib/python3.12/lib-dynload/_tkinter.cpython-312-x86_64-linux-gnu.so", "lib/libtcl8.6.so",
               "lib/libtk8.6.so", "lib/tcl8.6/init.tcl", "lib/tk8.6/tk.tcl"],
              ["lib/python3.12/os.py", "lib/python3.12/lib-dynload/_socket.cpython-312-x86_64-linux-gnu.so",
               "lib/libpython3.12.so.1.0", "bin/python3.12"]),
    "windows": (["Lib/tkinter/__init__.py", "Lib/turtle.py", "DLLs/_tkinter.pyd", "DLLs/tcl86t.dll",
                 "DLLs/tk86t.dll", "tcl/tcl8.6/init.tcl"],
                ["Lib/os.py", "DLLs/_socket.pyd", "python312.dll", "python.exe"]),
}


@pytest.mark.parametrize("target_os", sorted(LAYOUTS))
def test_drop_tkinter_removes_exactly_tcl_tk(target_os: str, tmp_path: Path) -> None:
    tk, other = LAYOUTS[target_os]
    for name in tk + other:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    removed = drop_tkinter(tmp_path, target_os)
    assert removed and all(not (tmp_path / name).exists() for name in tk)
    assert all((tmp_path / name).is_file() for name in other)
