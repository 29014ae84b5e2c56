"""The check of each bundle before its installers are reported built: every module the app imports is in it.

From the entry point, the imports of the app's own code are followed (read with `ast`: kiln.source.imports),
and each imported module is looked up in the staged bundle as the target's interpreter would find it
(kiln.engine.bundle_index: its runtime's standard library and built-in modules, `app/`, `packages/`, after Qt
pruning). Imports of dependencies are checked, not followed: their own optional imports are their business.

A module that is not there fails the target's installers, naming the module, the importing file and line, and the
fix: tkinter on python.org's embeddable Windows runtime (`[python] source = "download"`), curses on Windows (the
`windows-curses` dependency with a marker), a Qt module the binding's wheel lacks or pruning dropped, a package no
requirement brings. That is for the imports on the app's start: module-level imports of the modules the entry point
imports at their top, and the imports inside the entry function itself. Imports that run only when some function is
called (thonny imports paramiko for its SSH back end only), and imports under a condition Kiln cannot decide, are
warnings; guarded imports (`try: … except ImportError`) are not reported. An import whose name is computed
(`import_module(api + ".QtPrintSupport")`) is a warning that says what Kiln saw, with the `qt_modules` fix when it
names a Qt module the bundle lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from kiln.engine.bundle_index import BundleIndex, Found
from kiln.model.project import EntrySection
from kiln.source.imports import Facts, ImportSite, ModuleImports, Need, module_imports, weaker
from kiln.support.errors import KilnError
from kiln.support.targets import Target

Severity = Literal["error", "warning"]
QT_BINDINGS = ("PySide6", "PyQt6")
TK_MODULES = frozenset({"tkinter", "_tkinter", "turtle", "turtledemo", "idlelib"})
NEEDS_EXTENSION = {"tkinter": "_tkinter", "turtle": "_tkinter", "idlelib": "_tkinter", "turtledemo": "_tkinter",
                   "curses": "_curses", "curses.panel": "_curses_panel", "sqlite3": "_sqlite3", "ssl": "_ssl",
                   "ctypes": "_ctypes", "lzma": "_lzma", "bz2": "_bz2", "dbm.gnu": "_gdbm", "dbm.ndbm": "_dbm",
                   "socket": "_socket", "xml.parsers.expat": "pyexpat"}
"""Standard-library modules that are Python files importing an extension module a runtime may lack (the embeddable
Windows runtime has curses/ in its zip, but no _curses)."""
ONLY_ON = {
    "windows": frozenset({"winreg", "_winreg", "msvcrt", "winsound", "_winapi", "nt", "_overlapped", "_msi",
                          "msilib", "win32api", "win32con", "pywintypes", "win32com", "pythoncom"}),
    "posix": frozenset({"posix", "pwd", "grp", "fcntl", "termios", "tty", "pty", "resource", "syslog", "crypt",
                        "spwd", "nis", "_posixsubprocess", "readline", "curses", "_curses", "ossaudiodev", "_scproxy",
                        "posixshmem", "_posixshmem", "dbm"}),
}
"""Modules that exist on one family of systems only."""
DISTRIBUTIONS = {
    "yaml": "PyYAML", "PIL": "Pillow", "cv2": "opencv-python", "sklearn": "scikit-learn", "skimage": "scikit-image",
    "bs4": "beautifulsoup4", "dateutil": "python-dateutil", "serial": "pyserial", "usb": "pyusb", "attr": "attrs",
    "OpenSSL": "pyOpenSSL", "Crypto": "pycryptodome", "win32api": "pywin32", "win32con": "pywin32",
    "pywintypes": "pywin32", "win32com": "pywin32", "pythoncom": "pywin32", "gi": "PyGObject", "wx": "wxPython",
    "magic": "python-magic", "dotenv": "python-dotenv", "jwt": "PyJWT", "zmq": "pyzmq", "docx": "python-docx",
    "pptx": "python-pptx", "fitz": "PyMuPDF", "slugify": "python-slugify", "markdown": "Markdown",
    "Levenshtein": "levenshtein", "telegram": "python-telegram-bot", "discord": "discord.py",
}
"""Import names whose distribution is named otherwise (for the "add a requirement" fix)."""
_QT_MODULE_FILE = re.compile(r"^(PySide6|PyQt6)/(Qt\w+)\.(?:[\w.-]+\.)?(?:so|pyd)$")
_QT_NAME = re.compile(r"(?:^|\.)(Qt[A-Z]\w*)$")


@dataclass
class Finding:
    """One problem the check found in one target's bundle."""

    check: Literal["missing-module", "computed-import", "smoke-start"]
    severity: Severity
    message: str
    module: str = ""
    file: str = ""
    """The importing file as it sits in the app (`pkg/cli.py`, `main.py`)."""
    line: int = 0
    fix: str = ""
    action: dict[str, Any] | None = None
    """The fix as data: {"set": {"python.source": "download"}}, {"add": {"dependencies.qt_modules": "QtSvg"}}."""

    def data(self, platform: str, installers: Iterable[str]) -> dict[str, Any]:
        """The finding as the events and the report carry it."""
        data: dict[str, Any] = {"check": self.check, "severity": self.severity, "platform": platform,
                                "installers": list(installers), "message": self.message, "module": self.module,
                                "file": self.file, "line": self.line, "fix": self.fix}
        if self.action is not None:
            data["action"] = self.action
        return data


class BundleCheckFailed(KilnError):
    """The bundle of one target misses what its app needs; `findings` are the errors (as Finding.data)."""

    def __init__(self, errors: list[Finding], findings: list[dict[str, Any]]) -> None:
        first, others = errors[0], errors[1:]
        modules = sorted({e.module or "a file" for e in others})
        more = f" ({len(others)} more import{'s' if len(others) > 1 else ''} of {', '.join(modules[:5])}" \
               f"{' and others' if len(modules) > 5 else ''} fail: see the build report)" if others else ""
        super().__init__(first.message + more, hint=first.fix or None)
        self.findings = findings


@dataclass
class _Reach:
    """How surely a module of the app's own code is imported: the weakest need along the surest path to it."""

    need: Need
    lazy: bool

    def through(self, site: ImportSite, called: str = "") -> _Reach:
        """The reach of what `site` imports; `called` is the function of its module that surely runs (the entry's)."""
        return _Reach(weaker(self.need, site.need), self.lazy or (site.in_function and site.function != called))

    def better_than(self, other: _Reach) -> bool:
        """Whether this reach makes more of the module's imports count: errors first (required, on the start), then
        warnings (lazy, or conditional), then nothing (optional); on the start before lazy."""
        return (self.rank, self.lazy) < (other.rank, other.lazy)

    @property
    def rank(self) -> int:
        return 0 if self.need == "required" and not self.lazy else 2 if self.need == "optional" else 1


@dataclass
class ImportCheck:
    """Follows the app's own code from its entry point through one bundle (see the module's docstring)."""

    index: BundleIndex
    target: Target
    own_tops: frozenset[str]
    """Top-level names in packages/ that are the app's own (from its wheel); everything in app/ is the app's."""
    qt_dropped: frozenset[str] = frozenset()
    """Qt modules ("QtPrintSupport") that pruning removed from the bundle."""
    findings: list[Finding] = field(default_factory=list)
    entry_imports: list[str] = field(default_factory=list)
    """What the entry function imports first thing (pyzo's start() imports pyzo._start): the smoke start imports
    them too."""
    _reach: dict[Path, _Reach] = field(default_factory=dict)
    _names: dict[Path, tuple[str, bool]] = field(default_factory=dict)
    _parsed: dict[tuple[Path, bool], ModuleImports | None] = field(default_factory=dict)
    _shipped_names: set[str] | None = None

    def run(self, entry: EntrySection) -> list[Finding]:
        facts = Facts.for_target(self.target.os, self.index.version)
        todo: list[tuple[Path, str, bool, bool, _Reach]] = []
        start = _Reach("required", False)
        called: tuple[Path | None, str] = (None, "")  # the entry's module and function: its imports surely run
        if entry.script:
            todo.append((self.index.bundle / "app" / entry.script, "", False, True, start))
        else:
            module, _, function = entry.module.partition(":")
            as_main = ":" not in entry.module
            found = self.index.find(module)
            if found is None:
                return []  # the entry checks (kiln.source.entry_checks) have said so already
            for prefix in _prefixes(module)[:-1]:
                todo += self._own(prefix, start)
            if found.source is not None:
                todo.append((found.source, module, found.is_package, as_main and not found.is_package, start))
                called = (found.source, function)
            if as_main and found.is_package:
                main = self.index.find(f"{module}.__main__")
                if main is not None and main.source is not None:
                    todo.append((main.source, f"{module}.__main__", False, True, start))
        sites_by_module: dict[Path, list[tuple[ImportSite, str]]] = {}
        while todo:
            path, name, is_package, as_main, reach = todo.pop()
            known = self._reach.get(path)
            if known is not None and not reach.better_than(known):
                continue
            self._reach[path] = reach
            self._names[path] = (name, as_main)
            imports = self._parse(path, name, is_package, as_main, facts)
            if imports is None:
                continue
            shown = self._shown(path)
            sites_by_module[path] = [(site, shown) for site in imports.sites]
            for site in imports.sites:
                todo += self._follow(site, reach.through(site, called[1] if path == called[0] else ""))
                if path == called[0] and called[1] and site.function == called[1] and site.need == "required" and \
                        site.module not in self.entry_imports:
                    self.entry_imports.append(site.module)
            for computed in imports.computed:
                self._computed(computed.text, computed.constants, shown, computed.line,
                               weaker(reach.need, computed.need))
        for path, sites in sorted(sites_by_module.items()):
            reach = self._reach[path]
            for site, shown in sites:
                self._check(site, reach.through(site, called[1] if path == called[0] else ""), shown)
        return _unique(self.findings)

    @property
    def checked_modules(self) -> list[Path]:
        """The files of the app's own code the check followed."""
        return sorted(self._reach)

    def top_level_imports(self, script: Path) -> list[str]:
        """The modules a script imports whenever it runs (at its top, unguarded), in order."""
        try:
            imports = module_imports(script.read_bytes(), "", False,
                                     Facts.for_target(self.target.os, self.index.version), as_main=True)
        except OSError:
            return []
        names: list[str] = []
        for site in imports.sites if imports is not None else []:
            if site.need == "required" and not site.in_function and site.module not in names:
                names.append(site.module)
        return names

    # -- following the app's own code ------------------------------------------------------------------------
    def _parse(self, path: Path, name: str, is_package: bool, as_main: bool, facts: Facts) -> ModuleImports | None:
        key = (path, as_main)
        if key not in self._parsed:
            try:
                source = path.read_bytes()
            except OSError:
                source = None
            self._parsed[key] = module_imports(source, name, is_package, facts, as_main) if source else None
        return self._parsed[key]

    def _own(self, dotted: str, reach: _Reach) -> list[tuple[Path, str, bool, bool, _Reach]]:
        found = self.index.find(dotted)
        if found is None or found.source is None or not self._is_own(found, dotted):
            return []
        return [(found.source, dotted, found.is_package, False, reach)]

    def _follow(self, site: ImportSite, reach: _Reach) -> list[tuple[Path, str, bool, bool, _Reach]]:
        todo = []
        for prefix in _prefixes(site.module):
            todo += self._own(prefix, reach)
        for name in site.names:
            todo += self._own(f"{site.module}.{name}", reach)
        return todo

    def _is_own(self, found: Found, dotted: str) -> bool:
        return found.where in ("app", "script") or (found.where == "packages" and dotted.split(".")[0] in
                                                    self.own_tops)

    def _shown(self, path: Path) -> str:
        for folder in (self.index.bundle / "app", self.index.bundle / "packages"):
            if folder in path.parents:
                return path.relative_to(folder).as_posix()
        return path.name

    # -- checking one import ---------------------------------------------------------------------------------
    def _check(self, site: ImportSite, reach: _Reach, shown: str) -> None:
        if reach.need == "optional":
            return
        for prefix in _prefixes(site.module):
            found = self.index.find(prefix)
            if found is None:
                self._missing(prefix, shown, site.line, reach)
                return
            if found.where == "stdlib" and not self._extension_present(prefix, shown, site.line, reach):
                return
        if site.module in QT_BINDINGS:
            for name in site.names:
                if name.startswith("Qt") and self.index.find(f"{site.module}.{name}") is None:
                    self._missing(f"{site.module}.{name}", shown, site.line, reach)

    def _extension_present(self, module: str, shown: str, line: int, reach: _Reach) -> bool:
        extension = NEEDS_EXTENSION.get(module)
        if extension is None or not self.index.stdlib_known or self.index.find(extension) is not None:
            return True
        self._missing(module, shown, line, reach, because=extension)
        return False

    def _missing(self, module: str, shown: str, line: int, reach: _Reach, because: str = "") -> None:
        top = module.split(".")[0]
        if self._shipped_elsewhere(top):
            return  # the app ships it in a folder of its own that it puts on sys.path itself
        severity: Severity = "error" if reach.need == "required" and not reach.lazy else "warning"
        fix, action = self.fix_for(module)
        what = f"{module} (its {because} is not in this runtime)" if because else module
        where = f"{shown}:{line}"
        if severity == "error":
            message = f"{where} imports {what}, which is not in the {self.target.name} bundle"
        elif reach.need == "conditional":
            message = f"{where} imports {what} under a condition Kiln cannot decide; it is not in the " \
                      f"{self.target.name} bundle"
        else:
            message = f"{where} imports {what} in code that runs only when called (a function, or a module imported " \
                      f"by one); it is not in the {self.target.name} bundle"
        self.findings.append(Finding("missing-module", severity, message, module, shown, line, fix, action))

    def fix_for(self, module: str) -> tuple[str, dict[str, Any] | None]:
        """How to get `module` into this target's bundle: the words and the action."""
        top = module.split(".")[0]
        other_os = self._other_os_only(top)
        windows = self.target.os == "windows"
        if top in TK_MODULES:
            if windows:
                return ('set [python] source = "download": python-build-standalone\'s Windows runtime has Tcl/Tk, '
                        "python.org's embeddable runtime has none", {"set": {"python.source": "download"}})
            return ("this runtime has no Tcl/Tk (a runtime cached by an older Kiln): run `kiln cache clean` and "
                    "build again", None)
        if windows and top in ("curses", "_curses"):
            requirement = 'windows-curses; sys_platform == "win32"'
            return (f"add '{requirement}' to [dependencies] requirements (curses needs it on Windows)",
                    {"add": {"dependencies.requirements": requirement}})
        if windows and top == "readline":
            requirement = 'pyreadline3; sys_platform == "win32"'
            return (f"add '{requirement}' to [dependencies] requirements, or import readline only where it exists",
                    {"add": {"dependencies.requirements": requirement}})
        qt = _QT_NAME.search(module)
        if top in QT_BINDINGS and qt:
            name = qt.group(1)
            if name in self.qt_dropped:
                return (f'keep it: add "{name}" to [dependencies] qt_modules',
                        {"add": {"dependencies.qt_modules": name}})
            if top == "PySide6" and self.index.find("PySide6") is not None:
                return (f"{name} is in PySide6-Addons: add \"PySide6-Addons\" to [dependencies] requirements",
                        {"add": {"dependencies.requirements": "PySide6-Addons"}})
        if other_os:
            return (f"{top} exists on {other_os} only: import it under a check such as "
                    f"`if sys.platform {'==' if other_os == 'Windows' else '!='} \"win32\":`", None)
        if self.index.is_stdlib_name(module):
            return (f"this {self.target.name} runtime has no {top}; use a runtime that has it ([python] source)",
                    None)
        distribution = DISTRIBUTIONS.get(top, top)
        return (f'add "{distribution}" to [dependencies] requirements (or to the project\'s dependencies)',
                {"add": {"dependencies.requirements": distribution}})

    def _other_os_only(self, top: str) -> str:
        if self.target.os == "windows":
            return "Linux and macOS" if top in ONLY_ON["posix"] else ""
        return "Windows" if top in ONLY_ON["windows"] else ""

    def _shipped_elsewhere(self, top: str) -> bool:
        """Whether a module or package of that name sits anywhere in the app's own folders."""
        if self._shipped_names is None:
            names: set[str] = set()
            roots = [self.index.bundle / "app", *(self.index.bundle / "packages" / t for t in self.own_tops)]
            for root in roots:
                if root.is_dir():
                    for path in root.rglob("*"):
                        if path.suffix in (".py", ".pyc") or path.is_dir():
                            names.add(path.name.split(".", 1)[0])
            self._shipped_names = names
        return top in self._shipped_names

    # -- computed names ----------------------------------------------------------------------------------------
    def _computed(self, text: str, constants: tuple[str, ...], shown: str, line: int, need: Need) -> None:
        if need == "optional":
            return
        bindings = [b for b in QT_BINDINGS if self.index.find(b) is not None]
        for constant in constants:
            qt = _QT_NAME.search(constant)
            if qt and bindings and all(self.index.find(f"{b}.{qt.group(1)}") is None for b in bindings):
                name = qt.group(1)
                self.findings.append(Finding(
                    "computed-import", "warning",
                    f"{shown}:{line} imports a module by a computed name ({text}) that names {name}, which is not in "
                    f"the {self.target.name} bundle" + (" (Qt pruning dropped it: no code imports it by name)"
                                                        if name in self.qt_dropped else ""),
                    name, shown, line, f'keep it: add "{name}" to [dependencies] qt_modules',
                    {"add": {"dependencies.qt_modules": name}}))
                return
        if any(_QT_NAME.search(c) for c in constants) and bindings:
            return  # it names Qt modules that are all in the bundle
        self.findings.append(Finding(
            "computed-import", "warning",
            f"{shown}:{line} imports a module by a computed name ({text}): Kiln cannot tell which, so it cannot "
            "check that it ships", "", shown, line,
            "if it is a module no other code imports, list its package in [dependencies] requirements (a Qt module "
            "in [dependencies] qt_modules)"))


def qt_dropped_modules(dropped: Iterable[str]) -> frozenset[str]:
    """The Qt modules among the paths Qt pruning dropped (relative to packages/)."""
    return frozenset(m.group(2) for path in dropped if (m := _QT_MODULE_FILE.match(path)))


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _unique(findings: list[Finding]) -> list[Finding]:
    """One finding per file, module and severity (the first line; the message names the others), errors first."""
    kept: dict[tuple[str, str, str, str], Finding] = {}
    more: dict[tuple[str, str, str, str], list[int]] = {}
    for finding in findings:
        key: tuple[str, str, str, str] = (finding.check, finding.severity, finding.file,
                                          finding.module or str(finding.line))
        if key not in kept:
            kept[key], more[key] = finding, []
        elif finding.line != kept[key].line and finding.line not in more[key]:
            more[key].append(finding.line)
    for key, lines in more.items():
        if lines:
            finding = kept[key]
            finding.message += f" (also line{'s' if len(lines) > 1 else ''} {', '.join(map(str, sorted(lines)))})"
    return sorted(kept.values(), key=lambda f: (f.severity != "error", PurePosixPath(f.file).parts, f.line))
