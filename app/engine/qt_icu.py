"""Trim the ICU data a Qt wheel ships (`libicudata.so.NN`, 32 MB): keep only what the bundle's Qt can read.

Qt's Linux wheels bring their own ICU. Its data library is a quarter of a pruned Qt app's AppImage, but QtCore, the
only Qt library that calls ICU, uses four parts of it: converters (`ucnv_*`: the `.cnv` tables), collation
(`ucol_*`: `coll/`), case mapping (`u_strToUpper`/`u_strToLower`: built into the code) and time zones (`ucal_*`:
`zone/` and the root bundles). Break iterators and dictionaries (`brkitr/`, 3.4 MB), and the display names of
units, currencies, languages and regions, number spell-out rules and transliterators (`unit/`, `curr/`, `lang/`,
`region/`, `rbnf/`, `translit/`: 12 MB) are read by ICU APIs nothing in the bundle imports.

The data sits in the library as one ICU "common data" package: a table of contents (item names, sorted, and
offsets) followed by the items. Trimming removes the unused items from that table and zeroes their bytes. ICU finds
items by a binary search of the table, so a removed item is simply not installed, as in an ICU built with a data
filter; the library keeps its size and layout, and the zeroed bytes compress to nothing. It is done only when every
ICU function any ELF file of the bundle imports belongs to the families above, so a package that calls other ICU
APIs keeps all of the data.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

DROPPED_TREES = ("brkitr", "curr", "lang", "rbnf", "region", "translit", "unit")
"""Trees of ICU's data that no function of the families in USED_FAMILIES reads."""

DROPPED_FILES = re.compile(r"^(?:unames\.icu|confusables\w*\.cfu|uts46\.nrm|nfkc(?:_cf)?\.nrm|rfc\d+\w*\.spp|"
                           r"(?:plurals|pluralRanges|dayPeriods|genderList|grammaticalFeatures|units|"
                           r"currencyNumericCodes)\.res)$")
"""Top-level items only other ICU APIs read: character names (u_charName), spoof checks (uspoof_*), IDNA (uidna_*),
NFKC normalization (unorm2_*), StringPrep profiles (usprep_*), and plural, gender and unit rules (formatting)."""

USED_FAMILIES = ("ucnv_", "UCNV_", "ucol_", "ucal_", "u_strToUpper", "u_strToLower")
"""ICU functions (without the version suffix) the trimmed data still serves: what QtCore 6 imports."""

_DATA_LIBRARY = re.compile(r"^libicudata\.so\.(\d+)$")
_ICU_LIBRARY = re.compile(r"^libicu\w*\.so")
_ELF64_LE = b"\x7fELF\x02\x01"
_SHT_DYNSYM = 11
_PT_LOAD = 1


class IcuDataError(Exception):
    """The file is not the ICU data library this module knows how to read (nothing is changed)."""


@dataclass
class IcuTrim:
    """What trimming did to one ICU data library, for the build report."""

    library: str
    """The data library, relative to the bundle's packages/ folder."""
    removed_items: int = 0
    zeroed_bytes: int = 0
    trees: list[str] = field(default_factory=list)
    skipped: str = ""
    """Why the data was left whole (an imported ICU function outside USED_FAMILIES), or ''."""

    def as_dict(self) -> dict[str, object]:
        return {"library": self.library, "removed_items": self.removed_items, "zeroed_bytes": self.zeroed_bytes,
                "trees": self.trees, "skipped": self.skipped}


def _sections(data: bytes) -> list[tuple[int, ...]]:
    if data[:6] != _ELF64_LE or len(data) < 64:
        raise IcuDataError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    if shentsize != 64 or shoff + 64 * shnum > len(data):
        raise IcuDataError("damaged section table")
    return [struct.unpack_from("<IIQQQQIIQQ", data, shoff + 64 * i) for i in range(shnum)]


def dynamic_symbols(data: bytes) -> list[tuple[str, int, int, int]]:
    """(name, section index, value, size) of each entry of an ELF file's .dynsym (index 0: undefined, imported)."""
    sections = _sections(data)
    symbols = []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind != _SHT_DYNSYM or entsize != 24 or link >= len(sections) or offset + size > len(data):
            continue
        strings_offset = sections[link][4]
        for at in range(offset + 24, offset + size, 24):  # entry 0 is the null symbol
            name_offset, _info2, _other, shndx, value, sym_size = struct.unpack_from("<IBBHQQ", data, at)
            end = data.find(b"\0", strings_offset + name_offset)
            symbols.append((data[strings_offset + name_offset:end].decode("ascii", "replace"), shndx, value, sym_size))
    return symbols


def _file_offset(data: bytes, vaddr: int) -> int:
    phoff: int = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        kind, _flags, offset, p_vaddr, _paddr, filesz, _memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + phentsize * i)
        if kind == _PT_LOAD and p_vaddr <= vaddr < p_vaddr + filesz:
            return int(offset + vaddr - p_vaddr)
    raise IcuDataError("the data symbol is outside the loaded segments")


def _common_data(data: bytes, version: str) -> tuple[int, int]:
    """(file offset, size) of the `icudtNN_dat` common data package in the library's bytes."""
    wanted = f"icudt{version}_dat"
    found = [(value, size) for name, shndx, value, size in dynamic_symbols(data) if name == wanted and shndx]
    if not found:
        raise IcuDataError(f"no {wanted} symbol")
    value, size = found[0]
    start = _file_offset(data, value)
    if start + size > len(data):
        raise IcuDataError(f"{wanted} extends past the end of the file")
    return start, size


def _table(blob: memoryview) -> tuple[int, list[tuple[str, int]]]:
    """(offset of the table of contents, [(item name, data offset from the table)]) of a common data package."""
    header_size, magic1, magic2 = struct.unpack_from("<HBB", blob, 0)
    if (magic1, magic2) != (0xDA, 0x27) or bytes(blob[8:9]) != b"\0" or bytes(blob[12:16]) != b"CmnD":
        raise IcuDataError("not a little-endian ICU common data package")
    count, = struct.unpack_from("<I", blob, header_size)
    if header_size + 4 + 8 * count > len(blob):
        raise IcuDataError("damaged table of contents")
    items = []
    for i in range(count):
        name_offset, data_offset = struct.unpack_from("<II", blob, header_size + 4 + 8 * i)
        end = bytes(blob[header_size + name_offset:header_size + name_offset + 256]).find(b"\0")
        if end < 0 or header_size + data_offset > len(blob):
            raise IcuDataError("damaged table of contents")
        name = bytes(blob[header_size + name_offset:header_size + name_offset + end]).decode("ascii", "replace")
        items.append((name, data_offset))
    return header_size, items


def _ends(items: list[tuple[str, int]], end: int) -> dict[int, int]:
    """Where each item's bytes end (offsets from the table): at the next item's start, the last at `end`."""
    starts = sorted(offset for _name, offset in items)
    return dict(zip(starts, [*starts[1:], end], strict=True))


def _dropped(name: str, trees: set[str]) -> bool:
    """An item of one of `trees` ('' for the top level), or a top-level item DROPPED_FILES names."""
    tree = _tree(name)
    return tree in trees or (not tree and DROPPED_FILES.match(name.rsplit("/", 1)[-1]) is not None)


def _tree(name: str) -> str:
    """'icudt73l/coll/de.res' -> 'coll'; items at the top ('icudt73l/de.res') -> ''."""
    parts = name.split("/")
    return parts[1] if len(parts) > 2 else ""


def list_items(library: Path) -> dict[str, bytes]:
    """Every item of an ICU data library's package that its table of contents lists, with its bytes."""
    data = library.read_bytes()
    version = _DATA_LIBRARY.match(library.name)
    if version is None:
        raise IcuDataError(f"{library.name} is not named libicudata.so.NN")
    start, size = _common_data(data, version.group(1))
    blob = memoryview(data)[start:start + size]
    base, items = _table(blob)
    ends = _ends(items, size - base)
    return {name: bytes(blob[base + offset:base + ends[offset]]) for name, offset in items}


def trim_library(library: Path, trees: Iterable[str] = DROPPED_TREES) -> tuple[int, int]:
    """Remove the items of `trees` and the top-level items DROPPED_FILES names from the library's data package and
    zero their bytes; returns (items removed, bytes zeroed). The file is replaced (a temporary file renamed over
    it), so a hard link to it (Kiln's cache of installed dependencies) keeps the original."""
    drop = set(trees)
    data = bytearray(library.read_bytes())
    version = _DATA_LIBRARY.match(library.name)
    if version is None:
        raise IcuDataError(f"{library.name} is not named libicudata.so.NN")
    start, size = _common_data(bytes(data), version.group(1))
    blob = memoryview(data)[start:start + size]
    base, items = _table(blob)
    ends = _ends(items, size - base)
    kept = [(i, name, offset) for i, (name, offset) in enumerate(items) if not _dropped(name, drop)]
    if len(kept) == len(items):
        return 0, 0
    raw = [struct.unpack_from("<II", blob, base + 4 + 8 * i) for i in range(len(items))]
    zeroed = 0
    for name, offset in items:
        if _dropped(name, drop):
            blob[base + offset:base + ends[offset]] = bytes(ends[offset] - offset)
            zeroed += ends[offset] - offset
    struct.pack_into("<I", blob, base, len(kept))
    for slot, (i, _name, _offset) in enumerate(kept):
        struct.pack_into("<II", blob, base + 4 + 8 * slot, *raw[i])
    blob[base + 4 + 8 * len(kept):base + 4 + 8 * len(items)] = bytes(8 * (len(items) - len(kept)))
    blob.release()
    fd, temp = tempfile.mkstemp(prefix=f".{library.name}.", dir=library.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, library.stat().st_mode & 0o7777)
        os.replace(temp, library)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return len(items) - len(kept), zeroed


def other_icu_imports(packages: Path) -> list[str]:
    """'file: function' for each ICU function an ELF file under `packages` (ICU's own libraries aside) imports
    outside USED_FAMILIES: any of them means the data stays whole."""
    found = []
    for folder, _dirs, names in os.walk(packages):
        for name in names:
            path = Path(folder, name)
            if _ICU_LIBRARY.match(name) or path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as f:
                if f.read(6) != _ELF64_LE:
                    continue
            try:
                symbols = dynamic_symbols(path.read_bytes())
            except IcuDataError:
                continue
            for symbol, shndx, _value, _size in symbols:
                if shndx == 0 and re.fullmatch(r"(?:u|U)[A-Za-z]*_\w+_\d{2,3}", symbol) and \
                        not symbol.startswith(USED_FAMILIES):
                    found.append(f"{path.relative_to(packages).as_posix()}: {symbol}")
    return found


def trim_bundle_icu(packages: Path, qt_root: Path) -> IcuTrim | None:
    """Trim the ICU data library of the Qt binding at `qt_root` (None when it ships none, as on Windows and macOS,
    where Qt uses the system's ICU)."""
    libraries = sorted(p for p in qt_root.rglob("libicudata.so.*") if _DATA_LIBRARY.match(p.name)
                       and not p.is_symlink())
    if not libraries:
        return None
    library = libraries[0]
    result = IcuTrim(library.relative_to(packages).as_posix())
    others = other_icu_imports(packages)
    if others:
        result.skipped = f"kept whole: {others[0]} uses ICU beyond what Qt uses"
        return result
    try:
        result.removed_items, result.zeroed_bytes = trim_library(library)
    except IcuDataError as e:
        result.skipped = f"kept whole: {e}"
        return result
    result.trees = list(DROPPED_TREES)
    return result
