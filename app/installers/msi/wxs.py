"""The WiX source Kiln hands to wixl: deterministic Ids and component GUIDs, written with xml.etree (escaped).

wixl (msitools 0.101) writes the database string pool in a single-byte code page and crashes on characters
outside Windows-1252, and its preprocessor evaluates `$` in every attribute. So every database string that is
non-ASCII or holds a `$` is written here as an ASCII token (`KILN_TEXT_0001`); `msi.installer` replaces the
tokens after wixl ran, once the database code page is UTF-8 (65001). Summary-information strings
(Package/@Description, @Comments) take UTF-8 as is.

Layout (per-user, the default: no admin rights, nothing outside the user's profile):
  LocalAppDataFolder\\Programs\\<Title>\\      one component per folder, HKCU registry value as key path,
                                             RemoveFolder for each folder (clean uninstall of per-user data)
Per-machine:
  ProgramFiles64Folder\\<Title>\\              one component per file, the file as key path, and one per
                                             folder (the folder as key path) holding its RemoveFolder
Shortcuts (Start menu, optional desktop) sit in the component of <name>.exe.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kiln.installers.msi.names import ShortNames, check_windows_name
from kiln.support.errors import KilnError
from kiln.support.links import link_or_copy
from kiln.support.sizes import tree_size

WIX_NAMESPACE = "http://schemas.microsoft.com/wix/2006/wi"
ICON_ID = "AppIcon.ico"
KEYPATH_REGISTRY_KEY = r"Software\[Manufacturer]\[ProductName]"
_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,71}\Z")
_NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9_.]")

Scope = Literal["per-user", "per-machine"]


@dataclass(frozen=True)
class ProductInfo:
    """What the package says about the product; strings are the user's, unescaped."""

    title: str
    manufacturer: str
    version: str
    """The MSI ProductVersion (app.msi_version)."""
    upgrade_code: str
    description: str
    homepage: str
    scope: Scope
    exe_name: str
    icon: Path
    start_menu_shortcut: bool
    desktop_shortcut: bool
    folder_name: str
    """Name of the install folder and of the shortcuts (a valid Windows file name)."""

    def product_code(self, payload_digest: str) -> str:
        """Derived from the version and the payload: the same build gives the same product, any change another,
        which then replaces the installed one (a new version by MajorUpgrade, the same version by the
        same-version Upgrade row), so a rebuilt 1.0 can be installed over the old 1.0."""
        return guid(self.upgrade_code, f"ProductCode/{self.scope}/{self.version}/{payload_digest}")


@dataclass
class Wxs:
    """The document and what the MSI post-processing needs to know."""

    xml: bytes
    product_code: str
    texts: dict[str, str] = field(default_factory=dict)
    """Token -> real string, for the database tables wixl cannot hold them in."""
    file_count: int = 0
    longest_path: str = ""


def guid(upgrade_code: str, key: str) -> str:
    """A GUID derived from the project's upgrade code: same input, same GUID, in every build."""
    return str(uuid.uuid5(uuid.UUID(upgrade_code), key)).upper()


class _Ids:
    """WiX Ids from relative paths: readable when possible, otherwise the path's tail plus a hash."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def make(self, prefix: str, relative: str) -> str:
        candidate = prefix + relative.replace("/", "_")
        if not _ID_RE.match(candidate) or candidate in self.used:
            digest = hashlib.sha256(relative.encode("utf-8")).hexdigest()[:16]
            tail = _NOT_ID_CHARS.sub("_", relative)[-40:]
            candidate = f"{prefix}{tail}_{digest}"
        if candidate in self.used:  # two paths with one 64-bit hash: not expected to happen, never ignored
            raise KilnError(f"internal error: WiX Id {candidate} is used twice")
        self.used.add(candidate)
        return candidate


def needs_placeholder(text: str) -> bool:
    """True for strings wixl cannot take as they are: non-ASCII (it crashes) or with `$`, which its
    preprocessor evaluates in every attribute (`$(env.X)` expands, a lone `$` vanishes, `$$(` fails)."""
    return not text.isascii() or "$" in text


class _Texts:
    """Strings for database tables: plain ASCII goes in as is, anything else as a token replaced after wixl."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def db(self, text: str) -> str:
        if not needs_placeholder(text):
            return text
        token = f"KILN_TEXT_{len(self.tokens) + 1:04d}"
        self.tokens[token] = text
        return token


@dataclass
class _Folder:
    relative: str
    files: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)


def scan_payload(payload: Path) -> list[_Folder]:
    """Every folder of the payload (root first, sorted), after checking each name is valid on Windows."""
    folders: list[_Folder] = []
    for current, dirs, files in os.walk(payload):
        dirs.sort()
        relative = Path(current).relative_to(payload).as_posix()
        relative = "" if relative == "." else relative
        names = sorted(files)
        seen: dict[str, str] = {}
        for name in dirs + names:
            path = f"{relative}/{name}" if relative else name
            check_windows_name(name, path)
            other = seen.setdefault(name.casefold(), name)
            if other != name:
                raise KilnError(f"cannot put both '{other}' and '{name}' into {relative or 'the app folder'}: "
                                f"Windows file names ignore case", hint="rename one of them")
        folders.append(_Folder(relative, names, list(dirs)))
    return folders


def _next_version(version: str) -> str | None:
    """The smallest MSI version above `version` (None above 255.255.65535)."""
    major, minor, build = (int(n) for n in version.split("."))
    if build < 65535:
        return f"{major}.{minor}.{build + 1}"
    if minor < 255:
        return f"{major}.{minor + 1}.0"
    return f"{major + 1}.0.0" if major < 255 else None


def payload_digest(payload: Path, folders: list[_Folder]) -> str:
    """SHA-256 over every folder, file name and file content of the payload."""
    digest = hashlib.sha256()
    for folder in folders:
        digest.update(f"d:{folder.relative}\0".encode())
        for name in folder.files:
            relative = f"{folder.relative}/{name}" if folder.relative else name
            digest.update(f"f:{relative}\0".encode())
            with (payload / relative).open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def build_wxs(info: ProductInfo, payload: Path, cwd: Path) -> Wxs:
    """The complete WiX document for `payload` (the folder that becomes the install folder).

    File sources are written relative to `cwd`, the folder wixl runs in (wixl 0.101 cannot open absolute paths).
    """
    texts, ids = _Texts(), _Ids()
    folders = scan_payload(payload)
    exe_relative = info.exe_name
    root = ET.Element("Wix", xmlns=WIX_NAMESPACE)
    product_code = info.product_code(payload_digest(payload, folders))
    product = ET.SubElement(root, "Product", Id=product_code, Name=texts.db(info.title), Language="1033",
                            Version=info.version, Manufacturer=texts.db(info.manufacturer),
                            UpgradeCode=info.upgrade_code, Codepage="65001")
    # Summary information accepts UTF-8 directly (its code page is 65001 via Product/@Codepage).
    ET.SubElement(product, "Package", InstallerVersion="500", Compressed="yes", Keywords="Installer",
                  InstallScope="perUser" if info.scope == "per-user" else "perMachine",
                  Description=_summary(info.title, "-"),
                  Comments=_summary(f"{info.title} {info.version}", f"Version {info.version}"))
    ET.SubElement(product, "MajorUpgrade",
                  DowngradeErrorMessage="A newer version of [ProductName] is already installed.")
    # wixl 0.101 has no MajorUpgrade/@AllowSameVersionUpgrades and ignores IncludeMaximum: the row by hand, as
    # [version, next version) so that it matches exactly this version (a rebuild of it).
    following = _next_version(info.version)
    if following:
        ET.SubElement(ET.SubElement(product, "Upgrade", Id=info.upgrade_code), "UpgradeVersion",
                      Minimum=info.version, IncludeMinimum="yes", Maximum=following, IncludeMaximum="no",
                      Property="WIX_SAME_VERSION_UPGRADE_DETECTED")
    ET.SubElement(product, "MediaTemplate", EmbedCab="yes")
    ET.SubElement(product, "Icon", Id=ICON_ID, SourceFile=_source(info.icon, cwd))
    # Apps & Features: icon, about and help links, and the size (KiB); Windows shows these in the list.
    properties = {"ARPPRODUCTICON": ICON_ID, "ARPNOMODIFY": "1", "ARPURLINFOABOUT": info.homepage,
                  "ARPHELPLINK": info.homepage, "ARPCOMMENTS": info.description,
                  "ARPSIZE": str(max(1, (tree_size(payload) + 1023) // 1024))}
    for name, value in properties.items():
        if value:
            ET.SubElement(product, "Property", Id=name, Value=texts.db(value))
    target = ET.SubElement(product, "Directory", Id="TARGETDIR", Name="SourceDir")
    if info.scope == "per-user":
        base = ET.SubElement(ET.SubElement(target, "Directory", Id="LocalAppDataFolder"),
                             "Directory", Id="d_Programs", Name="Programs")
    else:
        base = ET.SubElement(target, "Directory", Id="ProgramFiles64Folder")
    if info.start_menu_shortcut:
        ET.SubElement(target, "Directory", Id="ProgramMenuFolder")
    if info.desktop_shortcut:
        ET.SubElement(target, "Directory", Id="DesktopFolder")
    feature = ET.SubElement(product, "Feature", Id="Main", Title="Application", Level="1", Absent="disallow")
    ET.SubElement(feature, "ComponentGroupRef", Id="g_payload")

    fragment = ET.SubElement(root, "Fragment")
    all_groups = ET.SubElement(fragment, "ComponentGroup", Id="g_payload")
    dir_ids: dict[str, str] = {"": "INSTALLDIR"}
    dir_elements: dict[str, ET.Element] = {
        "": ET.SubElement(base, "Directory", Id="INSTALLDIR", Name=texts.db(ShortNames([]).name(info.folder_name)))}
    if info.scope == "per-user":  # Programs\ itself: removed at uninstall when no other app is left in it
        _add_group(fragment, all_groups, "g_programs", "d_Programs", [
            _user_component(info, "cp_programs", "rp_programs", "programs-folder", [], create=False)])
    file_count, longest = 0, ""
    sources: dict[str, str] = {}
    for folder in folders:
        dir_id = dir_ids[folder.relative]
        short = ShortNames(folder.folders + folder.files)
        for name in folder.folders:
            child = f"{folder.relative}/{name}" if folder.relative else name
            dir_ids[child] = ids.make("d_", child)
            dir_elements[child] = ET.SubElement(dir_elements[folder.relative], "Directory", Id=dir_ids[child],
                                                Name=texts.db(short.name(name)))
        files: list[ET.Element] = []
        exe_file: ET.Element | None = None
        for name in folder.files:
            relative = f"{folder.relative}/{name}" if folder.relative else name
            file_id = ids.make("f_", relative)
            element = ET.Element("File", Id=file_id, Name=texts.db(short.name(name)),
                                 Source=_source(payload / relative, cwd))
            files.append(element)
            sources[file_id] = relative
            file_count += 1
            longest = max(longest, relative, key=len)
            if relative == exe_relative:
                exe_file = element
        components: list[ET.Element] = []
        if info.scope == "per-user":
            component = _user_component(info, ids.make("cd_", folder.relative or "."),
                                        ids.make("rd_", folder.relative or "."), f"dir:{folder.relative}", files,
                                        create=not files and not folder.folders)
            components.append(component)
            if exe_file is not None:
                _add_shortcuts(component, info, exe_file.get("Id", ""), texts)
        else:
            for element in files:
                relative = sources[element.get("Id", "")]
                component = ET.Element("Component", Id=ids.make("c_", relative),
                                       Guid=guid(info.upgrade_code, f"file:per-machine:{relative}"), Win64="yes")
                element.set("KeyPath", "yes")
                component.append(element)
                components.append(component)
                if element is exe_file:
                    _add_shortcuts(component, info, element.get("Id", ""), texts)
            # The folder's own component (its key path is the folder): created if empty, removed at uninstall.
            component = ET.Element("Component", Id=ids.make("cd_", folder.relative or "."),
                                   Guid=guid(info.upgrade_code, f"dir:per-machine:{folder.relative}"), Win64="yes")
            if not files and not folder.folders:
                ET.SubElement(component, "CreateFolder")
            ET.SubElement(component, "RemoveFolder", Id=ids.make("rd_", folder.relative or "."), On="uninstall")
            components.append(component)
        _add_group(fragment, all_groups, ids.make("g_", folder.relative or "."), dir_id, components)
    if exe_relative not in {f for folder in folders if not folder.relative for f in folder.files}:
        raise KilnError(f"internal error: {exe_relative} is missing from the MSI payload")
    xml = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Wxs(xml=xml, product_code=product_code, texts=texts.tokens, file_count=file_count, longest_path=longest)


def _summary(text: str, instead: str) -> str:
    """Summary strings may be UTF-8 but pass wixl's preprocessor too: with a `$`, `instead` (msi.py then sets
    the subject with msibuild)."""
    return text if "$" not in text else instead


def _source(path: Path, cwd: Path) -> str:
    """`path` for File/@Source, relative to wixl's folder; a path with `$` (which wixl's preprocessor would
    mangle) is read through a hard link (or copy) named without one."""
    relative = Path(os.path.relpath(path, cwd)).as_posix()
    if "$" not in relative:
        return relative
    alias = cwd / "sources" / hashlib.sha256(relative.encode()).hexdigest()[:24]
    alias.parent.mkdir(exist_ok=True)
    if not alias.exists():
        link_or_copy(path, alias)
    return Path(os.path.relpath(alias, cwd)).as_posix()


def _add_group(fragment: ET.Element, all_groups: ET.Element, group_id: str, dir_id: str,
               components: list[ET.Element]) -> None:
    """One ComponentGroup per folder: wixl takes a grouped component's folder from the group."""
    group = ET.SubElement(fragment, "ComponentGroup", Id=group_id, Directory=dir_id)
    group.extend(components)
    ET.SubElement(all_groups, "ComponentGroupRef", Id=group_id)


def _user_component(info: ProductInfo, component_id: str, remove_id: str, key: str, files: list[ET.Element],
                    *, create: bool) -> ET.Element:
    """A per-user folder's component: its files, RemoveFolder, and an HKCU value as key path (ICE38/ICE64)."""
    component = ET.Element("Component", Id=component_id, Guid=guid(info.upgrade_code, f"{key}:per-user"),
                           Win64="yes")
    component.extend(files)
    if create:
        ET.SubElement(component, "CreateFolder")
    ET.SubElement(component, "RemoveFolder", Id=remove_id, On="uninstall")
    ET.SubElement(component, "RegistryValue", Root="HKCU", Key=KEYPATH_REGISTRY_KEY, Name=component_id,
                  Type="integer", Value="1", KeyPath="yes")
    return component


def _add_shortcuts(component: ET.Element, info: ProductInfo, exe_id: str, texts: _Texts) -> None:
    """Non-advertised shortcuts to the launcher, with the app's icon, in the launcher's component."""
    places = [("s_menu", "ProgramMenuFolder", info.start_menu_shortcut),
              ("s_desktop", "DesktopFolder", info.desktop_shortcut)]
    for shortcut_id, directory, wanted in places:
        if not wanted:
            continue
        shortcut = ET.SubElement(component, "Shortcut", Id=shortcut_id, Directory=directory,
                                 Name=texts.db(ShortNames([]).name(info.folder_name)), Target=f"[#{exe_id}]",
                                 WorkingDirectory="INSTALLDIR", Icon=ICON_ID, IconIndex="0")
        if info.description:  # the Shortcut table holds 255 characters of description
            shortcut.set("Description", texts.db(info.description[:255]))
