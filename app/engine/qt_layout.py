"""Where a Qt binding's wheel puts Qt on each OS, and what Qt loads there without an import entry.

kiln.engine.qt_prune follows dependency lists; this module holds what those lists do not say:

- Linux: `PySide6/Qt/lib/libQt6X.so.6`, plugins in `PySide6/Qt/plugins` (nothing special).
- Windows: `Qt6X.dll` beside the `.pyd` modules, with the Microsoft C++ runtime the wheel brings along
  (`msvcp140*.dll`, `vcruntime140*.dll`, ...) and `opengl32sw.dll`; plugins in `PySide6/plugins`. PySide6's
  `__init__` puts its folder on PATH, so any DLL there is found by name by whatever runs in the process.
- macOS: `PySide6/Qt/lib/QtX.framework/Versions/A/QtX`, named in load commands as `@rpath/QtX.framework/...`;
  a framework is a folder (Info.plist, resources, helpers) that ships whole or not at all, and Qt's tools come
  as `.app` folders (`Designer.app`) that go whole too. Plugins in `PySide6/Qt/plugins`.
"""

from __future__ import annotations

import re
from pathlib import Path

MSVC_RUNTIME = re.compile(r"(?:msvcp140\w*|vcruntime140\w*|concrt140|vcomp140|vcamp140|vccorlib140)\.dll", re.I)
"""Microsoft's C++ runtime as the Windows wheels ship it. Kept whole whatever imports it: the binding's folder is
on PATH, so another extension module of the bundle may rely on finding it there on a machine without the
Visual C++ redistributable (about 2 MB)."""

LOADED_BY_QTGUI = ("opengl32sw", "d3dcompiler")
"""Windows libraries Qt Gui opens by name (the software OpenGL fallback, the Direct3D shader compiler): no import
table names them, so they are kept whenever Qt Gui is."""

BUNDLE_SUFFIXES = (".framework", ".app")
"""macOS folders that are one unit: kept whole when any file of theirs is kept, dropped whole otherwise."""

DEVELOPER_SUFFIXES = (".lib", ".pyi")
"""Files beside the modules only a developer uses: import libraries for linking (Windows), type stubs."""


def loaded_by_name(name: str, modules: set[str]) -> bool:
    """Whether the binding's file `name` is opened by name at run time by the kept `modules` (or by anything)."""
    lowered = name.lower()
    if MSVC_RUNTIME.fullmatch(lowered):
        return True
    return "QtGui" in modules and lowered.startswith(LOADED_BY_QTGUI) and lowered.endswith(".dll")


def bundle_folder(path: Path, top: Path) -> Path | None:
    """The outermost .framework or .app folder holding `path` below `top` (macOS), or None."""
    found = None
    for parent in path.parents:
        if parent == top or top not in parent.parents:
            break
        if parent.suffix in BUNDLE_SUFFIXES:
            found = parent
    return found
