"""Which modules a staged bundle can import, found the way the target's interpreter finds them, from its files.

The search path of a bundle, in order: the script's folder (for a script entry), the runtime's standard library,
then `app/` and `packages/` (with the folders `.pth` files there add). The standard library is, per layout:

- Linux and macOS: `runtime/lib/python3.X/` and its `lib-dynload/`;
- python.org's embeddable Windows runtime: `runtime/python3X.zip` and the `*.pyd` beside `python.exe`;
- python-build-standalone for Windows: `runtime/Lib/` and `runtime/DLLs/`;

plus the modules compiled into the interpreter (kiln.runtimes.builtins). A module is a package folder, a `.py`,
a sourceless `.pyc` or an extension (`name.cpython-311-x86_64-linux-gnu.so`, `name.abi3.so`, `name.pyd`); a folder
without `__init__` is a namespace package. When the standard library cannot be read (it lacks one of STDLIB_CORE:
a stand-in runtime of the tests), its modules count as present.
"""

from __future__ import annotations

import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kiln.support.targets import Target

Where = Literal["builtin", "stdlib", "script", "app", "packages"]
STDLIB_CORE = ("os", "re", "json", "importlib", "encodings", "collections", "typing")
"""Modules every CPython standard library holds as files: one that lacks any is not one Kiln can read (a stand-in)."""


@dataclass(frozen=True)
class Found:
    where: Where
    path: Path | None
    """The module's file or the package's folder (None: built in, or inside the stdlib zip)."""
    is_package: bool = False
    locations: tuple[tuple[str, str], ...] = ()
    """Where its submodules are: ("dir", folder) or ("zip", prefix) pairs."""
    unread: bool = False
    """A module of a standard library that could not be read: taken as present, with every submodule."""

    @property
    def source(self) -> Path | None:
        """The .py file to read (a package's __init__.py), when there is one."""
        if self.path is None:
            return None
        candidate = self.path / "__init__.py" if self.is_package else self.path
        return candidate if candidate.suffix == ".py" and candidate.is_file() else None


@dataclass
class _Root:
    where: Where
    kind: Literal["dir", "zip"]
    location: str


@dataclass
class BundleIndex:
    """The modules of one staged bundle; `find` answers like the target's import system would."""

    bundle: Path
    target: Target
    version: str
    builtins: frozenset[str] | None
    script_dir: Path | None = None
    roots: list[_Root] = field(default_factory=list)
    stdlib_known: bool = True
    _listings: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    _zips: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        runtime = self.bundle / "runtime"
        if self.script_dir is not None:
            self.roots.append(_Root("script", "dir", str(self.script_dir)))
        tag = self.version.replace(".", "")
        if self.target.os == "windows":
            zipped = runtime / f"python{tag}.zip"
            if zipped.is_file():
                self.roots.append(_Root("stdlib", "zip", str(zipped)))
                self._zips[str(zipped)] = _zip_names(zipped)
            for folder in (runtime / "Lib", runtime / "DLLs", runtime):
                self.roots.append(_Root("stdlib", "dir", str(folder)))
        else:
            stdlib = runtime / "lib" / f"python{self.version}"
            self.roots += [_Root("stdlib", "dir", str(stdlib)), _Root("stdlib", "dir", str(stdlib / "lib-dynload"))]
        self.roots.append(_Root("app", "dir", str(self.bundle / "app")))
        packages = self.bundle / "packages"
        self.roots.append(_Root("packages", "dir", str(packages)))
        self.roots += [_Root("packages", "dir", str(p)) for p in _pth_folders(packages)]
        found = [self.find(name) for name in STDLIB_CORE]
        self.stdlib_known = all(f is not None and f.where == "stdlib" for f in found)

    def find(self, dotted: str) -> Found | None:
        """The module `dotted` as the bundle would import it, or None when it is not there."""
        parts = dotted.split(".")
        top = parts[0]
        found = self._top(top)
        for part in parts[1:]:
            if found is not None and found.unread:
                return found
            if found is None:
                return None
            if not found.is_package:  # a module's "submodule" is one it puts into sys.modules (os.path, six.moves)
                return Found(found.where, None, unread=True)
            if not found.locations:
                return None
            found = self._search(part, [(found.where, kind, location) for kind, location in found.locations])
        return found

    def is_stdlib_name(self, dotted: str) -> bool:
        return dotted.split(".")[0] in sys.stdlib_module_names

    def _top(self, name: str) -> Found | None:
        if self.builtins is not None and name in self.builtins:
            return Found("builtin", None)
        if self.builtins is None and name in sys.builtin_module_names:  # not read from the runtime: this Python's
            return Found("builtin", None, unread=True)
        found = self._search(name, [(r.where, r.kind, r.location) for r in self.roots])
        if found is None and not self.stdlib_known and (name in sys.stdlib_module_names or
                                                        (self.builtins is None and name in sys.builtin_module_names)):
            return Found("stdlib", None, unread=True)
        return found

    def _search(self, name: str, places: list[tuple[Where, str, str]]) -> Found | None:
        namespace: list[tuple[Where, str, str]] = []
        for where, kind, location in places:
            hit = self._in_zip(name, where, location) if kind == "zip" else self._in_dir(name, where, location)
            if isinstance(hit, Found):
                return hit
            if hit is not None:  # a namespace package: every folder of that name counts, unless a module comes
                if kind == "dir":
                    namespace.append((where, kind, f"{location}/{name}"))
                else:
                    archive, _, prefix = location.partition("\0")
                    namespace.append((where, kind, f"{archive}\0{prefix}/{name}" if prefix else f"{archive}\0{name}"))
        if namespace:
            locations = tuple(("dir", loc) if kind == "dir" else ("zip", loc) for _w, kind, loc in namespace)
            first = namespace[0]
            return Found(first[0], Path(first[2]) if first[1] == "dir" else None, True, locations)
        return None

    def _in_dir(self, name: str, where: Where, folder: str) -> Found | Literal["namespace"] | None:
        entries = self._listing(folder).get(name)
        if not entries:
            return None
        path = Path(folder, name)
        if "" in entries:  # a folder
            listing = self._listing(str(path))
            if "__init__" in listing and any(e in (".py", ".pyc") for e in listing["__init__"]):
                return Found(where, path, True, (("dir", str(path)),))
        for suffix in ("ext", ".py", ".pyc"):
            if suffix in entries:
                file_name = next((n for n in self._files(folder, name) if _suffix(n) == suffix), name + suffix)
                return Found(where, Path(folder, file_name))
        return "namespace" if "" in entries else None

    def _in_zip(self, name: str, where: Where, location: str) -> Found | Literal["namespace"] | None:
        archive, _, prefix = location.partition("\0")
        names = self._zips.get(archive, set())
        base = f"{prefix}/{name}" if prefix else name
        if f"{base}/__init__.pyc" in names or f"{base}/__init__.py" in names:
            return Found(where, None, True, (("zip", f"{archive}\0{base}"),))
        if f"{base}.pyc" in names or f"{base}.py" in names:
            return Found(where, None)
        if any(n.startswith(f"{base}/") for n in names):
            return "namespace"
        return None

    def _listing(self, folder: str) -> dict[str, list[str]]:
        """Module name -> the kinds of entries ("" folder, ".py", ".pyc", "ext") of one folder, read once."""
        if folder not in self._listings:
            listing: dict[str, list[str]] = {}
            try:
                entries = list(os.scandir(folder))
            except OSError:
                entries = []
            for entry in entries:
                if entry.is_dir():
                    listing.setdefault(entry.name, []).append("")
                else:
                    suffix = _suffix(entry.name)
                    if suffix:
                        listing.setdefault(entry.name.split(".", 1)[0], []).append(suffix)
            self._listings[folder] = listing
        return self._listings[folder]

    def _files(self, folder: str, name: str) -> list[str]:
        try:
            return sorted(n for n in os.listdir(folder) if n.split(".", 1)[0] == name)
        except OSError:
            return []


def _suffix(file_name: str) -> str:
    if file_name.endswith(".py"):
        return ".py"
    if file_name.endswith(".pyc"):
        return ".pyc"
    if file_name.endswith((".so", ".pyd")):
        return "ext"
    return ""


def _zip_names(path: Path) -> set[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return set()


def _pth_folders(site: Path) -> list[Path]:
    """Folders the .pth files of a site directory add to sys.path (lines that are paths, not `import` lines)."""
    folders = []
    for pth in sorted(site.glob("*.pth")) if site.is_dir() else []:
        try:
            lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.strip().replace("\\", "/")
            if line and not line.startswith(("#", "import ", "import\t")):
                folder = (site / line).resolve()
                if folder.is_dir() and folder != site.resolve():
                    folders.append(folder)
    return folders
