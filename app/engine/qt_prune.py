"""Ship only the Qt an app uses: Qt modules its code imports, the libraries they load, the plugins they need.

A PySide6 wheel carries every Qt module of its distribution (Essentials: ~250 MB unpacked, the full `PySide6`
far more), while an app typically imports QtCore, QtGui and QtWidgets. After the dependencies are installed
into the bundle this module:

1. scans the bundle's Python code (the app and every other distribution, never the binding itself) for
   `import PySide6.QtX` / `from PySide6 import QtX` (and PyQt6), plus `[dependencies] qt_modules`;
2. finds which Qt QML modules the app's `.qml` files import (following `qmldir` imports and dependencies);
3. follows shared-library dependencies from those roots with lief (ELF DT_NEEDED, PE imports, Mach-O load
   commands all come out as `binary.libraries`), resolving names to files of the binding's own tree;
4. keeps the plugin categories the kept modules need (platforms, imageformats, styles, tls, ...), and
   translations only when `[dependencies] qt_translations` asks;
5. deletes every Qt binary outside that closure, plus files only a developer needs (headers, type stubs,
   CMake files, Designer/Linguist/qml tools);
6. trims the ICU data library a Linux wheel ships to what Qt reads (kiln.engine.qt_icu).

The same steps run for Linux, Windows and macOS bundles; what differs between the wheels' layouts (the C++
runtime and the DLLs Qt opens by name on Windows, frameworks and .app folders on macOS) is in
kiln.engine.qt_layout.

Nothing here imports the user's code: the scan reads sources with `ast`. What was dropped, and the sizes by
distribution before and after, go into the build report.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.engine.qt_icu import trim_bundle_icu
from kiln.engine.qt_layout import DEVELOPER_SUFFIXES, bundle_folder, loaded_by_name
from kiln.support import pyast

BINDINGS = ("PySide6", "PyQt6")
"""Python packages that wrap Qt 6 and ship Qt's own libraries inside the wheel."""

PLUGINS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "QtCore": ("permissions",),
    "QtGui": ("platforms", "platforminputcontexts", "platformthemes", "imageformats", "iconengines",
              "xcbglintegrations", "wayland-decoration-client", "wayland-graphics-integration-client",
              "wayland-shell-integration"),
    "QtWidgets": ("styles",),
    "QtNetwork": ("tls", "networkinformation", "bearer"),
    "QtSql": ("sqldrivers",),
    "QtPrintSupport": ("printsupport",),
    "QtMultimedia": ("multimedia",),
    "QtPositioning": ("position",),
    "QtLocation": ("geoservices",),
    "QtSensors": ("sensors", "sensorgestures"),
    "QtTextToSpeech": ("texttospeech",),
    "QtSerialBus": ("canbus",),
    "Qt3DRender": ("renderers", "sceneparsers", "geometryloaders", "renderplugins"),
    "QtQuick": ("scenegraph", "vectorimageformats"),
    "QtWebView": ("webview",),
    "QtWaylandCompositor": ("wayland-graphics-integration-server", "wayland-hardware-layer-integration"),
}
"""Plugin folders (under Qt's plugins/) each Qt module loads at run time. Categories no module lists here
(designer, qmltooling, qmllint, egldeviceintegrations, generic input drivers) are development or embedded-device
plugins and are dropped."""

PLUGIN_HELPERS = {"qtcore", "qtgui", "qtsvg", "qtdbus", "qtopengl", "qtxcbqpa", "qtwaylandclient",
                  "qtwlshellintegration", "qtwaylandeglclienthwintegration"}
"""Qt libraries a plugin may bring along although the app does not import their module (small, or the
platform integration itself)."""

EMBEDDED_PLATFORMS = ("eglfs", "linuxfb", "vnc", "vkkhrdisplay", "minimalegl", "directfb")
"""Platform plugins for devices without a window system: dropped (xcb, wayland, offscreen, minimal stay)."""

QML_MODULES = {"QtQml", "QtQuick", "QtQuickControls2", "QtQuickWidgets", "QtQuick3D", "QtQuickTest"}
"""Python modules whose use means QML runs, so the QML modules the app's .qml files import are kept."""

WEBENGINE = "QtWebEngineCore"

DEVELOPER_DIRS = ("include", "metatypes", "typesystems", "glue", "mkspecs", "doc", "lib/cmake", "Qt/lib/cmake",
                  "Qt/metatypes", "Qt/include", "Qt/mkspecs", "Qt6/include", "Qt6/mkspecs", "Qt6/lib/cmake")
"""Folders of a binding only a developer uses (C++ headers and glue code, CMake files, type-system XML, qmake
specs)."""

_DATA_DIRS = {"qml", "translations", "resources"}
_MAGIC = (b"\x7fELF", b"MZ", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
_EXTENSION = re.compile(r"\.(?:abi3\.so|cpython-[\w-]+\.so|pyd)$")
_MODULE_FILE = re.compile(r"^(Qt\w+)\.(?:[\w.-]+\.)?(?:so|pyd)$")
_QML_IMPORT = re.compile(r"^\s*import\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_QMLDIR_IMPORT = re.compile(r"^\s*(?:(?:optional|default)\s+)?(?:import|depends)\s+([A-Za-z_][\w.]*)",
                            re.MULTILINE)


@dataclass
class QtPruneResult:
    """What pruning kept and dropped in one bundle, for the build report."""

    binding: str
    modules: list[str]
    """The Qt modules kept (Python module names)."""
    qml_modules: list[str] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)
    """Kept plugin files, relative to the binding's plugin folder."""
    dropped: list[str] = field(default_factory=list)
    """Dropped files and folders, relative to the bundle's packages/ folder."""
    dropped_bytes: int = 0
    by_distribution: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per installed distribution: {"unpruned": bytes, "pruned": bytes}."""
    icu: dict[str, Any] = field(default_factory=dict)
    """What trimming the ICU data did (kiln.engine.qt_icu.IcuTrim.as_dict), or {} when the binding ships none."""

    def as_dict(self) -> dict[str, Any]:
        return {"binding": self.binding, "modules": self.modules, "qml_modules": self.qml_modules,
                "plugins": self.plugins, "dropped_bytes": self.dropped_bytes, "dropped": self.dropped,
                "by_distribution": self.by_distribution, "icu": self.icu}


def describe_pruning(qt: dict[str, Any], source: str) -> list[str]:
    """`kiln inspect` lines for one target's `qt` report section: what was kept, and every dropped path (QML
    modules, translations and resources shown once per folder with their count of files)."""
    lines = [f"  qt:       {qt['binding']} pruned at build time ({source}): kept {', '.join(qt['modules'])}"]
    if qt.get("plugins"):
        lines.append(f"            plugins kept: {', '.join(qt['plugins'])}")
    dropped: list[str] = qt.get("dropped", [])
    lines.append(f"            dropped {len(dropped)} files and folders ({qt.get('dropped_bytes', 0) / 1e6:.1f} MB):")
    groups: dict[str, int] = {}
    for relative in dropped:
        parts = relative.split("/")
        data = next((i for i, part in enumerate(parts[:-1]) if part in _DATA_DIRS), None)
        key = "/".join(parts[:data + 1]) + "/…" if data is not None else relative
        groups[key] = groups.get(key, 0) + 1
    for key, count in groups.items():
        lines.append(f"              {key}" + (f" {count} file{'s' if count > 1 else ''}" if key.endswith("…") else ""))
    icu = qt.get("icu") or {}
    if icu.get("skipped"):
        lines.append(f"            ICU data {icu['library']}: {icu['skipped']}")
    elif icu:
        lines.append(f"            ICU data {icu['library']}: {icu['removed_items']} items Qt does not read removed "
                     f"({icu['zeroed_bytes'] / 1e6:.1f} MB zeroed: {', '.join(icu['trees'])})")
    return lines


def _is_binary(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return any(head.startswith(m) for m in _MAGIC)


def library_names(path: Path) -> list[str]:
    """The shared libraries `path` asks the loader for: DT_NEEDED (ELF), imports and delay-load imports (PE),
    dylib load commands of every architecture of a universal file (Mach-O, as written: `@rpath/QtGui.framework/
    Versions/A/QtGui`)."""
    import lief

    lief.logging.disable()
    with path.open("rb") as f:
        head = f.read(4)
    if head in _MAGIC[2:]:
        fat = lief.MachO.parse(str(path))  # lief.parse would give only the first architecture of a universal file
        if fat is None:
            return []
        names: dict[str, None] = {}
        for sliced in (fat.at(index) for index in range(len(fat))):
            if sliced is not None:
                names.update((str(command.name), None) for command in sliced.libraries)
        return list(names)
    binary = lief.parse(str(path))
    if isinstance(binary, lief.PE.Binary):
        return [str(name) for name in binary.libraries] + [str(d.name) for d in binary.delay_imports]
    if isinstance(binary, lief.ELF.Binary):
        return [str(name) for name in binary.libraries]
    return []


def _lib_key(name: str) -> str:
    """How a dependency name is matched to a file: its base name (case-folded: PE names are case-insensitive)."""
    return name.replace("\\", "/").rsplit("/", 1)[-1].lower()


def _qt_module_of_library(name: str) -> str | None:
    """libQt6Widgets.so.6 / Qt6Widgets.dll / QtWidgets (framework) -> 'QtWidgets'."""
    base = _lib_key(name)
    base = base.removeprefix("lib").split(".", 1)[0]
    match = re.fullmatch(r"qt6?(\w+)", base)
    return f"Qt{match.group(1)}".lower() if match else None


# -- what the app imports ---------------------------------------------------------------------------------
def imported_qt_modules(trees: Iterable[Path], skip: set[Path]) -> dict[str, set[str]]:
    """Per binding, the Qt modules that Python files under `trees` import (files under `skip` are not read)."""
    found: dict[str, set[str]] = {}
    for tree in trees:
        for folder, dirs, files in os.walk(tree):
            dirs[:] = [d for d in dirs if Path(folder, d) not in skip and d != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    _scan_file(Path(folder, name), found)
    return found


def _scan_file(path: Path, found: dict[str, set[str]]) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    if not any(b in text for b in BINDINGS):
        return
    try:
        tree = pyast.parse(text)
    except (SyntaxError, ValueError):
        # Not valid for this parser: fall back to the lines that look like imports.
        for binding, module in re.findall(r"\b(PySide6|PyQt6)\.(Qt\w+)", text):
            found.setdefault(binding, set()).add(module)
        for binding, names in re.findall(r"from\s+(PySide6|PyQt6)\s+import\s+\(?([\w\s,]+)", text):
            found.setdefault(binding, set()).update(n for n in re.split(r"[\s,]+", names) if n.startswith("Qt"))
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                _add(alias.name, found)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            _add(node.module, found)
            if node.module in BINDINGS:
                for alias in node.names:
                    _add(f"{node.module}.{alias.name}", found)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(BINDINGS):
            _add(node.value, found)  # importlib.import_module("PySide6.QtSvg") and the like


def _add(dotted: str, found: dict[str, set[str]]) -> None:
    parts = dotted.split(".")
    if parts[0] in BINDINGS:
        bucket = found.setdefault(parts[0], set())
        if len(parts) > 1 and parts[1].startswith("Qt"):
            bucket.add(parts[1])
        elif parts[1:] == ["*"] or dotted == f"{parts[0]}.*":
            bucket.add("*")


# -- the binding's tree -----------------------------------------------------------------------------------
@dataclass
class _QtTree:
    root: Path
    """The binding package (packages/PySide6)."""
    qt: Path
    """Where Qt's own folders live: root/Qt (PySide6 on Linux/macOS), root/Qt6 (PyQt6) or root (Windows)."""

    @property
    def plugins(self) -> Path:
        return self.qt / "plugins"

    @property
    def qml(self) -> Path:
        return self.qt / "qml"

    @property
    def translations(self) -> Path:
        return self.qt / "translations"


def _qt_tree(root: Path) -> _QtTree:
    for name in ("Qt", "Qt6"):
        if (root / name / "plugins").is_dir() or (root / name / "lib").is_dir():
            return _QtTree(root, root / name)
    return _QtTree(root, root)


def _python_modules(root: Path) -> dict[str, Path]:
    """Qt module name -> its extension module file in the binding (QtCore.abi3.so, QtCore.pyd)."""
    modules: dict[str, Path] = {}
    for entry in root.iterdir():
        match = _MODULE_FILE.match(entry.name)
        if match and entry.is_file():
            modules[match.group(1)] = entry
    return modules


# -- QML --------------------------------------------------------------------------------------------------
def _qml_imports(trees: Iterable[Path], skip: set[Path]) -> set[str] | None:
    """Modules imported by the .qml files under `trees`; None when there is no .qml file at all."""
    imports: set[str] = set()
    seen_qml = False
    for tree in trees:
        for folder, dirs, files in os.walk(tree):
            dirs[:] = [d for d in dirs if Path(folder, d) not in skip]
            for name in files:
                if name.endswith(".qml"):
                    seen_qml = True
                    text = Path(folder, name).read_text(encoding="utf-8", errors="replace")
                    imports.update(_QML_IMPORT.findall(text))
    return imports if seen_qml else None


def _qml_closure(qml_root: Path, wanted: set[str]) -> set[str]:
    """The QML modules `wanted` names, with every module their qmldir files import or depend on."""
    kept: set[str] = set()
    todo = [w for w in wanted if (qml_root / w.replace(".", "/")).is_dir()]
    while todo:
        module = todo.pop()
        if module in kept:
            continue
        kept.add(module)
        qmldir = qml_root / module.replace(".", "/") / "qmldir"
        if qmldir.is_file():
            for dep in _QMLDIR_IMPORT.findall(qmldir.read_text(encoding="utf-8", errors="replace")):
                if (qml_root / dep.replace(".", "/")).is_dir():
                    todo.append(dep)
    return kept


def _qml_module_files(qml_root: Path, module: str) -> list[Path]:
    """Files of one QML module: its folder, without sub-folders that are modules of their own (own qmldir)."""
    folder = qml_root / module.replace(".", "/")
    files: list[Path] = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not (Path(current, d) / "qmldir").is_file()]
        files += [Path(current, n) for n in names]
    return files


# -- pruning ----------------------------------------------------------------------------------------------
def prune_qt(packages: Path, keep_modules: list[str], translations: list[str], os_name: str,
             log: Callable[[str], None] = lambda _m: None) -> QtPruneResult | None:
    """Prune the Qt binding installed in `packages` (None when there is none, or `keep_modules` has "*")."""
    roots = [packages / b for b in BINDINGS if (packages / b).is_dir()]
    if not roots:
        return None
    root = roots[0]
    binding = root.name
    if "*" in keep_modules:
        log(f"{binding}: every Qt module kept ([dependencies] qt_modules has \"*\")")
        return None
    unpruned = distribution_sizes(packages)
    tree = _qt_tree(root)
    skip = {packages / b for b in BINDINGS} | {packages / "shiboken6", packages / "shiboken6_generator"}
    imported = imported_qt_modules([packages.parent / "app", packages], skip).get(binding, set())
    if "*" in imported:
        log(f"{binding}: the app imports '{binding}.*'; every Qt module kept")
        return None
    python_modules = _python_modules(root)
    wanted = (imported | {m for m in keep_modules if m.startswith("Qt") and "." not in m}) & set(python_modules)
    wanted.add("QtCore")

    # Libraries by base name, for resolving dependency names to files of the binding.
    libraries: dict[str, Path] = {}
    extra_roots = [packages / "shiboken6"] if (packages / "shiboken6").is_dir() else []
    for base in [root, *extra_roots]:
        for walked, _dirs, names in os.walk(base):
            for name in names:
                path = Path(walked, name)
                if not path.is_symlink() and _is_binary(path):
                    libraries.setdefault(_lib_key(name), path)

    keep: set[Path] = set()
    deps_cache: dict[Path, list[str]] = {}

    def close_over(start: Iterable[Path]) -> None:
        todo = [p for p in start if p not in keep]
        while todo:
            path = todo.pop()
            if path in keep:
                continue
            keep.add(path)
            if path not in deps_cache:
                deps_cache[path] = library_names(path)
            for dep in deps_cache[path]:
                target = libraries.get(_lib_key(dep))
                if target is not None and target not in keep:
                    todo.append(target)

    # Python modules: a kept module's libraries may need other wrapped modules (QtWidgets -> QtGui).
    modules = set(wanted)
    while True:
        close_over(python_modules[m] for m in sorted(modules))
        by_lower = {m.lower(): m for m in python_modules}
        implied = {by_lower[q] for p in keep if (q := _qt_module_of_library(p.name)) and q in by_lower}
        if implied <= modules:
            break
        modules |= implied

    # Plugins the kept modules load by category.
    plugin_paths: list[Path] = []
    categories = {c for m in modules for c in PLUGINS_BY_MODULE.get(m, ())}
    if tree.plugins.is_dir():
        for category in sorted(categories):
            category_dir = tree.plugins / category
            if not category_dir.is_dir():
                continue
            for path in sorted(category_dir.iterdir()):
                if category == "platforms" and any(e in path.name.lower() for e in EMBEDDED_PLATFORMS):
                    continue
                plugin_paths.append(path)
    plugin_paths = [p for p in plugin_paths if _plugin_fits(p, modules, deps_cache)]
    close_over(p for p in plugin_paths if p.is_file() and _is_binary(p))
    keep.update(plugin_paths)

    # QML modules named by the app's .qml files (all of them when QML runs but no .qml file was found).
    qml_kept: set[str] = set()
    if modules & QML_MODULES and tree.qml.is_dir():
        found_qml = _qml_imports([packages.parent / "app", packages], skip)
        wanted_qml = (found_qml or set()) | {m for m in keep_modules if "." in m or m in {"QtQuick", "QtQml"}}
        if found_qml is None:
            log("QML is used but no .qml file was found in the bundle: every QML module kept")
            wanted_qml = {str(p.parent.relative_to(tree.qml)).replace(os.sep, ".")
                          for p in tree.qml.rglob("qmldir")}
        qml_kept = _qml_closure(tree.qml, wanted_qml | {"QtQml", "QtQml.Models", "QtQml.WorkerScript"})
        qml_files = [f for m in sorted(qml_kept) for f in _qml_module_files(tree.qml, m)]
        close_over(f for f in qml_files if _is_binary(f))
        keep.update(qml_files)
        # QML files compiled into the kept plugins (qrc:/) import modules no qmldir names (Controls.Fusion's
        # ApplicationWindow imports QtQuick.Window): keep every module whose plugin needs only kept libraries.
        for qmldir in sorted(tree.qml.rglob("qmldir")):
            module = str(qmldir.parent.relative_to(tree.qml)).replace(os.sep, ".")
            if module in qml_kept:
                continue
            module_files = _qml_module_files(tree.qml, module)
            binaries = [f for f in module_files if _is_binary(f)]
            if not binaries or module.split(".")[0] not in {m.split(".")[0] for m in qml_kept}:
                continue
            names = [d for b in binaries for d in deps_cache.setdefault(b, library_names(b))]
            missing_qt = any(libraries.get(_lib_key(d)) is None and _qt_module_of_library(d) for d in names)
            if not missing_qt and {libraries[_lib_key(d)] for d in names if _lib_key(d) in libraries} <= keep:
                qml_kept.add(module)
                keep.update(module_files)
        keep.update(p for p in tree.qml.iterdir() if p.is_file())  # builtins.qmltypes, jsroot.qmltypes

    # Qt WebEngine runs a helper process and reads its resources and locales.
    if WEBENGINE in modules:
        helpers = [p for p in (tree.qt / "libexec").glob("QtWebEngineProcess*")] + \
            [p for p in tree.qt.glob("QtWebEngineProcess*")]
        close_over(helpers)
        for data_dir in (tree.qt / "resources", tree.translations / "qtwebengine_locales"):
            if data_dir.is_dir():
                keep.update(p for p in data_dir.rglob("*") if p.is_file())
        keep.update(p for p in tree.qt.rglob("*") if p.is_file() and "webengine" in p.name.lower()
                    and not _is_binary(p))

    if translations and tree.translations.is_dir():
        for path in tree.translations.iterdir():
            stem = path.name.removesuffix(".qm")
            if path.is_file() and ("*" in translations or any(stem.endswith(f"_{lang}") for lang in translations)):
                keep.add(path)

    # A kept framework (macOS) ships whole: its Info.plist, resources and helpers, and what their binaries load.
    while True:
        bundles = {b for k in keep if (b := bundle_folder(k, root)) is not None}
        extra = [p for b in sorted(bundles) for p in _files(b) if p not in keep]
        if not extra:
            break
        close_over(p for p in extra if not p.is_symlink() and _is_binary(p))
        keep.update(extra)

    doomed = _doomed(tree, keep, python_modules, modules)
    result = QtPruneResult(binding, sorted(modules), sorted(qml_kept),
                           sorted(str(p.relative_to(tree.plugins)) for p in plugin_paths if tree.plugins in p.parents))
    for path in sorted(doomed):
        if not os.path.lexists(path):
            continue  # inside a folder removed just before
        result.dropped_bytes += _size(path)
        result.dropped.append(path.relative_to(packages).as_posix())
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    _remove_empty_dirs(tree.qt)
    icu = trim_bundle_icu(packages, root)
    result.icu = icu.as_dict() if icu is not None else {}
    pruned = distribution_sizes(packages)
    result.by_distribution = {d: {"unpruned": n, "pruned": pruned.get(d, 0)} for d, n in unpruned.items()
                              if n != pruned.get(d, 0) or d.lower().startswith(("pyside", "pyqt", "shiboken"))}
    log(f"{binding}: kept {', '.join(result.modules)}; dropped {len(result.dropped)} files and folders "
        f"({result.dropped_bytes / 1e6:.1f} MB; the list is in the build report's qt section)")
    for name, sizes in result.by_distribution.items():
        log(f"  {name}: {sizes['unpruned'] / 1e6:.1f} MB unpruned, {sizes['pruned'] / 1e6:.1f} MB shipped")
    if icu is not None:
        log(f"{binding}: ICU data {icu.skipped}" if icu.skipped else
            f"{binding}: ICU data trimmed to what Qt reads ({icu.removed_items} items, {icu.zeroed_bytes / 1e6:.1f} MB "
            "zeroed, same file size; unused: " + ", ".join(f"{t}/" for t in icu.trees) + " and formatting rules)")
    return result


def _plugin_fits(plugin: Path, modules: set[str], deps_cache: dict[Path, list[str]]) -> bool:
    """A plugin is kept when the Qt libraries it loads belong to kept modules or are small helpers: the virtual
    keyboard input plugin would otherwise bring Qt Quick and QML into every widgets app."""
    if not plugin.is_file() or not _is_binary(plugin):
        return True
    deps_cache.setdefault(plugin, library_names(plugin))
    allowed = {m.lower() for m in modules} | PLUGIN_HELPERS
    return all(q is None or q in allowed for q in map(_qt_module_of_library, deps_cache[plugin]))


def _doomed(tree: _QtTree, keep: set[Path], python_modules: dict[str, Path], modules: set[str]) -> set[Path]:
    """Every file of the binding that the closure did not reach and that Python code does not need."""
    doomed: set[Path] = set()
    root = tree.root
    for name in DEVELOPER_DIRS:
        if (root / name).is_dir():
            doomed.add(root / name)
    for module, path in python_modules.items():
        if module not in modules:
            doomed.add(path)
    doomed.update(p for p in root.iterdir() if p.is_file() and p.name.lower().endswith(DEVELOPER_SUFFIXES))
    # Qt's own folders: everything not kept (plugins, qml, translations, libraries, helper programs).
    for sub in ("plugins", "qml", "translations", "libexec", "resources", "lib", "bin"):
        qt_dir = tree.qt / sub
        if qt_dir.is_dir() and qt_dir != root:
            doomed.update(_unkept_files(qt_dir, keep))
    # Binaries anywhere else in the binding (Windows keeps DLLs and tools beside the modules; Linux keeps
    # designer, linguist, qmlls... there): dropped when unreached, unless Qt opens them by name.
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) not in doomed]
        for name in files:
            path = Path(folder, name)
            if path in keep or path in doomed or path.is_symlink() or not _is_binary(path):
                continue
            if loaded_by_name(name, modules) or _EXTENSION.search(name):
                continue  # opened by name, or a Python extension module that is not a Qt module (PyQt6's sip)
            doomed.add(path)
    doomed -= keep
    # A framework or .app folder (macOS) goes as a whole when nothing in it is kept.
    bundles = {b for d in doomed if (b := bundle_folder(d, root)) is not None}
    for bundle in bundles:
        if not any(bundle in k.parents for k in keep):
            doomed.add(bundle)
    # Symbolic links (libQt6Core.so -> libQt6Core.so.6) to dropped files go with them.
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if path.is_symlink() and Path(folder, os.readlink(path)).resolve(strict=False) in \
                    {d.resolve(strict=False) for d in doomed}:
                doomed.add(path)
    return doomed


def _files(folder: Path) -> set[Path]:
    return {Path(current, n) for current, _dirs, names in os.walk(folder) for n in names}


def _unkept_files(folder: Path, keep: set[Path]) -> set[Path]:
    return _files(folder) - keep


def _size(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        return sum(os.lstat(os.path.join(c, n)).st_size for c, _d, names in os.walk(path) for n in names)
    return path.lstat().st_size


def _remove_empty_dirs(top: Path) -> None:
    for current, _dirs, _files in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
        path = Path(current)
        if path != top and not any(path.iterdir()):
            path.rmdir()


def distribution_sizes(packages: Path) -> dict[str, int]:
    """Bytes per installed distribution, counting the files its RECORD lists that are still present.

    PySide6, PySide6-Essentials and PySide6-Addons install into the same `PySide6/` folder: RECORD tells
    them apart where a folder-based sum cannot."""
    sizes: dict[str, int] = {}
    for dist_info in sorted(packages.glob("*.dist-info")):
        record = dist_info / "RECORD"
        name = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        total = 0
        if record.is_file():
            for line in record.read_text(encoding="utf-8").splitlines():
                relative = line.rsplit(",", 2)[0]
                path = packages / relative
                if relative and not relative.startswith("..") and os.path.lexists(path):
                    total += path.lstat().st_size
        sizes[name] = total
    return sizes


def prune_bundle_qt(packages: Path, dependencies: Any, os_name: str, stage: Any) -> QtPruneResult | None:
    """The staging hook, for every target OS (the wheels' layouts differ: see kiln.engine.qt_layout)."""
    if not any((packages / b).is_dir() for b in BINDINGS):
        return None
    return prune_qt(packages, list(dependencies.qt_modules), list(dependencies.qt_translations), os_name,
                    stage.log)
