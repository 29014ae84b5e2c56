"""Windows names: display strings made file names, payload names Windows refuses, 8.3 short names."""

from __future__ import annotations

import re

import pytest

from kiln.installers.msi.names import ShortNames, check_windows_name, clean_text, windows_name
from kiln.support.errors import KilnError

SHORT_NAME = re.compile(r"[A-Z0-9_-]{1,8}(\.[A-Z0-9_-]{1,3})?\Z")


def test_names_for_windows() -> None:
    assert windows_name('A <b> "c": d|e?*', "fallback") == "A _b_ _c__ d_e__"
    assert windows_name("trailing. ", "fallback") == "trailing"
    assert windows_name("CON", "fallback") == "fallback"
    assert windows_name("nul.txt", "fallback") == "fallback"
    assert windows_name("...", "fallback") == "fallback"
    assert windows_name("Łódź 日本", "fallback") == "Łódź 日本"
    assert clean_text("two\nlines\tand\x00nul ") == "two lines and nul"


@pytest.mark.parametrize("name", ["a:b", "aux.py", "LPT1", "x.", "x ", "a\x01b", "a*b"])
def test_names_windows_cannot_create(name: str) -> None:
    with pytest.raises(KilnError, match=f"cannot put 'dir/{re.escape(name)}' into an MSI"):
        check_windows_name(name, f"dir/{name}")


def test_short_names() -> None:
    names = ShortNames(["os.py", "OS2.PY", "kiln_boot.py"])
    assert names.name("os.py") == "os.py" and names.name("DLLs") == "DLLs"  # valid 8.3 names stay as they are
    made = [names.name(n) for n in ("kiln_boot.py", "python311._pth", "café ☕.txt", ".hidden", "a.b.c", "x y")]
    shorts = [m.split("|")[0] for m in made]
    assert [m.split("|")[1] for m in made] == ["kiln_boot.py", "python311._pth", "café ☕.txt", ".hidden", "a.b.c",
                                               "x y"]
    assert all(SHORT_NAME.match(s) for s in shorts), shorts
    assert len({s.upper() for s in shorts} | {"OS.PY", "OS2.PY"}) == len(shorts) + 2
    assert made == [ShortNames(["os.py", "OS2.PY", "kiln_boot.py"]).name(n) for n in
                    ("kiln_boot.py", "python311._pth", "café ☕.txt", ".hidden", "a.b.c", "x y")]  # deterministic
