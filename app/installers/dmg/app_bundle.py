"""The macOS .app bundle: Info.plist, Kiln's Mach-O launcher in Contents/MacOS, the icon, the staged app in Resources.

Layout (the staged bundle keeps its own layout, so kiln_boot.py works unchanged)::

    <Title>.app/Contents/
      Info.plist                   written with plistlib (every string escaped by it)
      PkgInfo                      APPL???? (legacy, still read by some tools)
      MacOS/<command>              the launcher (0755): resources/launchers/macos, for the target's architecture
      Resources/<name>.icns        the icon
      Resources/app-bundle/        runtime/, app/, packages/, kiln_boot.py

Code lives under Resources/ rather than Frameworks/ or MacOS/: codesign rejects plain data files (.py, .pyc, zips)
in those two folders, while Mach-O files in Resources/ are sealed as resources and can be signed one by one.
The launcher is a prebuilt Mach-O executable (a script cannot carry a signature inside a DMG): it finds the bundle
from its own path and runs the bundled Python on kiln_boot.py in its own process.
"""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import unicodedata
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from kiln.kinds.contract import StagedApp
from kiln.model.project import AppSection
from kiln.support.errors import KilnError
from kiln.support.prebuilt import prebuilt_launcher

BUNDLE_DIR = "app-bundle"
"""The staged bundle's folder inside Contents/Resources/."""
BUNDLE_FROM_LAUNCHER = f"../Resources/{BUNDLE_DIR}"
LAUNCHERS_ENV = "KILN_MACOS_LAUNCHERS"
"""A folder with another build of the launchers (CI tests what resources/launchers/macos/build.py builds)."""
_MACOS_VERSION_RE = re.compile(r"^\d{1,2}(\.\d{1,2}){0,2}$")
_APP_NAME_MAX = 200  # HFS+ allows 255 UTF-16 units per name; leave room for ".app" and Finder's copies


def one_line(text: str) -> str:
    """`text` with control characters and runs of whitespace turned into single spaces (plist and sh safe)."""
    cleaned = "".join(" " if c.isspace() or unicodedata.category(c) in ("Cc", "Cs") else c for c in text)
    return " ".join(cleaned.split())


def app_folder_name(title: str) -> str:
    """`<Title>.app`, a valid file name on HFS+ and in Finder: no `/` or `:` (Finder swaps them), no leading dot."""
    name = one_line(unicodedata.normalize("NFC", title)).replace("/", "-").replace(":", "-").lstrip(". ")
    while len(name.encode("utf-16-le")) // 2 > _APP_NAME_MAX:
        name = name[:-1]
    return (name.rstrip() or "App") + ".app"


def bundle_identifier(app: AppSection) -> tuple[str, bool]:
    """(CFBundleIdentifier, derived?): app.identifier, or `local.kiln.<name>` (only A-Z a-z 0-9 - . allowed)."""
    if app.identifier:
        return app.identifier, False
    part = re.sub(r"[^A-Za-z0-9-]+", "-", app.name).strip("-") or "app"
    return f"local.kiln.{part}", True


def apple_version(version: str) -> str:
    """A PEP 440 version as Apple's three period-separated integers: its release part, padded or cut to three.

    1.2 → 1.2.0, 2.0rc1 → 2.0.0, 1!3.1.4.1.post2 → 3.1.4: the epoch, pre/post/dev and local parts are dropped
    because CFBundleVersion and CFBundleShortVersionString may hold only digits and dots.
    """
    try:
        release = Version(version).release
    except InvalidVersion:
        raise KilnError(f"app.version '{version}' is not a version",
                        hint="use a version like 1.0 or 2.3.1") from None
    return ".".join(str(n) for n in (*release, 0, 0)[:3])


def check_minimum_macos(value: str) -> str:
    if not _MACOS_VERSION_RE.match(value):
        raise KilnError(f"minimum_macos '{value}' is not a macOS version", hint='use a form like "11.0" or "12.3"')
    return value


def info_plist(staged: StagedApp, minimum_macos: str, icon_file: str) -> dict[str, Any]:
    """The Info.plist keys of the app bundle; every value the project supplies is a plain string for plistlib."""
    app = staged.app
    title = one_line(app.title) or app.name
    identifier, _ = bundle_identifier(app)
    version = apple_version(app.version)
    plist: dict[str, Any] = {
        "CFBundleDevelopmentRegion": "en",
        "CFBundleDisplayName": title,
        "CFBundleExecutable": staged.command,
        "CFBundleIconFile": icon_file,
        "CFBundleIdentifier": identifier,
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleName": title,
        "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": version,
        "CFBundleSignature": "????",
        "CFBundleVersion": version,
        "LSMinimumSystemVersion": check_minimum_macos(minimum_macos),
        "LSUIElement": False,
        "NSHighResolutionCapable": True,
    }
    if app.publisher:
        plist["NSHumanReadableCopyright"] = f"© {one_line(app.publisher)}"
    return plist


def launcher_binary(arch: str) -> Path:
    """Kiln's prebuilt launcher for `arch` (arm64 or x86_64)."""
    return prebuilt_launcher("macos", f"launcher-{arch}", LAUNCHERS_ENV)


def make_app_bundle(staged: StagedApp, parent: Path, minimum_macos: str, icns: Path) -> tuple[Path, list[str]]:
    """Write `<parent>/<Title>.app` from the staged bundle; returns its path and warnings for the user.

    The staged bundle is copied, never linked: its runtime is hard-linked from Kiln's cache, and the copy gets
    normalised modes (0755 folders and executables, 0644 the rest) so the volume does not depend on the umask.
    """
    app_dir = parent / app_folder_name(staged.app.title)
    contents = app_dir / "Contents"
    for folder in (app_dir, contents, contents / "MacOS", contents / "Resources"):
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
    icon_file = f"{staged.app.name}.icns"
    _write(contents / "Info.plist", plistlib.dumps(info_plist(staged, minimum_macos, icon_file), sort_keys=True))
    _write(contents / "PkgInfo", b"APPL????")
    _write(contents / "MacOS" / staged.command, launcher_binary(staged.target.arch).read_bytes(), executable=True)
    _write(contents / "Resources" / icon_file, icns.read_bytes())
    resources = contents / "Resources" / BUNDLE_DIR
    warnings = copy_normalized(staged.bundle, resources)
    return app_dir, warnings


def _write(path: Path, data: bytes, executable: bool = False) -> None:
    path.write_bytes(data)
    path.chmod(0o755 if executable else 0o644)


def copy_normalized(source: Path, dest: Path) -> list[str]:
    """Copy a tree keeping symlinks, with normalised modes; refuse names that clash on a case-insensitive disk."""
    warnings: list[str] = []
    inside = os.path.normpath(os.path.abspath(source)) + os.sep
    dest.mkdir(mode=0o755)
    dest.chmod(0o755)
    for folder, dirs, files in os.walk(source):
        dirs.sort()
        here = Path(folder)
        out = dest / here.relative_to(source)
        _check_clashes(here, source, [*dirs, *files])
        for name in sorted([*dirs, *files]):
            src, dst = here / name, out / name
            if src.is_symlink():
                target = os.readlink(src)
                resolved = os.path.normpath(os.path.join(os.path.abspath(folder), target))
                if os.path.isabs(target) or not resolved.startswith(inside):
                    warnings.append(f"{src.relative_to(source)} links outside the app ({target}); it will dangle")
                os.symlink(target, dst)  # os.walk does not descend into a linked folder: the link alone is copied
            elif src.is_dir():
                dst.mkdir(mode=0o755)
                dst.chmod(0o755)
            else:
                shutil.copyfile(src, dst)
                dst.chmod(0o755 if src.stat().st_mode & 0o111 else 0o644)
    return warnings


def _check_clashes(folder: Path, root: Path, names: list[str]) -> None:
    # macOS disks are case-insensitive and normalise Unicode: Foo.py and foo.py would overwrite each other.
    seen: dict[str, str] = {}
    for name in sorted(names):
        key = unicodedata.normalize("NFD", name).lower()  # HFS+ folds case by simple mapping (no ß → ss)
        if key in seen:
            where = folder.relative_to(root).as_posix()
            raise KilnError(
                f"'{seen[key]}' and '{name}' in {where or 'the bundle'} are the same name on a macOS disk",
                hint="macOS file systems ignore case; rename one of them (or drop the package that ships both)",
            )
        seen[key] = name
