"""The modules compiled into a runtime's interpreter (`sys.builtin_module_names`), read from what ships.

A module compiled into the interpreter has no file in the standard library, so a check of the bundle's imports
needs this list for each runtime, also for runtimes that cannot run here:

- **Windows** (python.org's embeddable runtime, python-build-standalone): `python3X.dll` exports
  `PyImport_Inittab`, a pointer to the table of built-in modules ({name, init function} pairs ending with a null
  name). The DLL's bytes hold the pointers as addresses at the image's preferred base, so the table is read from
  the file with lief without loading it.
- **Linux and macOS**: the interpreter runs here when it is Linux's: it is asked. Otherwise the `PyInit_<name>`
  symbols of libpython or the interpreter name the built-in modules (a superset at worst: an init function of a
  module not in the table would make a missing module look present, never the reverse).

None when nothing can be read (a stand-in runtime of the tests, a stripped binary): the check then leaves the
standard library alone.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from kiln.support.errors import ToolFailed
from kiln.support.targets import Target
from kiln.support.tools import run

_INIT = re.compile(r"^_?PyInit_(\w+)$")


def builtin_modules(runtime: Path, target: Target, version: str) -> frozenset[str] | None:
    """The built-in module names of the runtime folder `runtime` for `target` (Python `version`, 3.X)."""
    if target.os == "windows":
        dll = runtime / f"python{version.replace('.', '')}.dll"
        return inittab_of_dll(dll) if dll.is_file() else None
    python = runtime / target.python_relpath(version)
    if target.os == "linux" and python.is_file():
        try:
            result = run([python, "-I", "-S", "-c", "import sys; print(' '.join(sys.builtin_module_names))"],
                         what="asking the runtime for its built-in modules", timeout=60)
            return frozenset(result.stdout.decode().split())
        except ToolFailed:
            pass
    for binary in [*sorted((runtime / "lib").glob("libpython3*")), python]:
        names = _init_symbols(binary)
        if names:
            return names | _CORE
    return None


_CORE = frozenset({"sys", "builtins", "_warnings", "marshal", "_imp"})
"""Built into every CPython without a PyInit_ symbol of their own name."""


def inittab_of_dll(dll: Path) -> frozenset[str] | None:
    """The names in a Windows python3X.dll's PyImport_Inittab, or None when it cannot be read."""
    import lief

    lief.logging.disable()
    binary = lief.PE.parse(str(dll))
    if binary is None or not binary.has_exports:
        return None
    exports = binary.get_export()
    export = next((e for e in exports.entries if e.name == "PyImport_Inittab"), None) if exports else None
    if export is None:
        return None
    base = binary.optional_header.imagebase
    size, word = (8, "<Q") if binary.optional_header.magic == lief.PE.PE_TYPE.PE32_PLUS else (4, "<I")

    def read(rva: int, count: int) -> bytes:
        return bytes(binary.get_content_from_virtual_address(rva, count))

    try:
        table = struct.unpack(word, read(export.address, size))[0] - base
        names: list[str] = []
        for index in range(1000):  # CPython's table holds about 70 entries
            name_va = struct.unpack(word, read(table + index * 2 * size, size))[0]
            if name_va == 0:
                return frozenset(names)
            names.append(read(name_va - base, 128).split(b"\0", 1)[0].decode("ascii"))
    except (struct.error, UnicodeDecodeError):  # an address outside the file: not a table Kiln can read
        return None
    return None


def _init_symbols(binary: Path) -> frozenset[str]:
    """Module names of the PyInit_* symbols an ELF or Mach-O file defines (empty when none can be read)."""
    import lief

    if not binary.is_file():  # is_file follows a link: a dangling one is not a file
        return frozenset()
    lief.logging.disable()
    parsed = lief.parse(str(binary))
    if parsed is None:
        return frozenset()
    names = set()
    for symbol in parsed.symbols:
        match = _INIT.match(str(symbol.name))
        if match and int(getattr(symbol, "value", 0) or 0):
            names.add(match.group(1))
    return frozenset(names)
