"""Brand Kiln's generic Windows launcher for one app: icon, version information and manifest as PE resources.

lief 1.0's high-level icon/version API loses data, so the resource tree (type -> id -> language -> data) is
rebuilt here from raw bytes we serialise ourselves, then the PE checksum is recomputed.
Also writes the runtime's `python3XX._pth`, which the launcher requires (see resources/launchers/windows/README.md).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import lief
from packaging.version import InvalidVersion, Version

from kiln.resources import resource_path
from kiln.support.atomic import atomic_write_bytes
from kiln.support.errors import KilnError
from kiln.support.prebuilt import prebuilt_launcher

LAUNCHER_DIR = resource_path("launchers", "windows")
LAUNCHERS_ENV = "KILN_WINDOWS_LAUNCHERS"
RT_ICON, RT_RCDATA, RT_GROUP_ICON, RT_VERSION, RT_MANIFEST = 3, 10, 14, 16, 24
UTF8_OFF = b"utf8=0"
"""RCDATA 1 of a launcher whose app runs without Python's UTF-8 mode (launcher.c: utf8_mode)."""
LANG_EN_US = 1033
_CODEPAGE_UNICODE = 0x04B0
_VS_FF_SIGNATURE = 0xFEEF04BD
_VOS_NT_WINDOWS32 = 0x00040004
_VFT_APP = 1
_CHECKSUM_FIELD = 64  # offset of CheckSum within the optional header (same for PE32 and PE32+)

# asInvoker stops Windows' installer heuristics asking for admin rights for names like "Setup" or "Update";
# supportedOS stops version lies; longPathAware lets Python use paths over 260 characters where enabled.
MANIFEST = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0">
  <trustInfo xmlns="urn:schemas-microsoft-com:asm.v3">
    <security><requestedPrivileges><requestedExecutionLevel level="asInvoker" uiAccess="false"/></requestedPrivileges>
    </security>
  </trustInfo>
  <compatibility xmlns="urn:schemas-microsoft-com:compatibility.v1">
    <application>
      <supportedOS Id="{8e0f7a12-bfb3-4fe8-b9a5-48fd50a15a9a}"/>
      <supportedOS Id="{1f676c76-80e1-4239-95bb-83d0f6d0da78}"/>
      <supportedOS Id="{4a2f28e3-53b9-4441-ba9c-d69d4a4a6e38}"/>
      <supportedOS Id="{35138b9a-5d96-4fbd-8e2d-a2440225f93a}"/>
    </application>
  </compatibility>
  <application xmlns="urn:schemas-microsoft-com:asm.v3">
    <windowsSettings><longPathAware xmlns="http://schemas.microsoft.com/SMI/2016/WindowsSettings">true</longPathAware>
    </windowsSettings>
  </application>
</assembly>
"""


@dataclass(frozen=True)
class VersionInfo:
    """What Explorer shows in the exe's Properties > Details, and the numeric version Windows compares."""

    product_name: str
    version: str
    """The app's PEP 440 version, shown as is; mapped to four numbers for VS_FIXEDFILEINFO."""
    company: str = ""
    description: str = ""
    internal_name: str = ""
    original_filename: str = ""
    copyright: str = ""

    @property
    def numeric(self) -> tuple[int, int, int, int]:
        return version_quad(self.version)

    def strings(self) -> dict[str, str]:
        """The StringFileInfo table, in the order Windows tools list it."""
        return {
            "CompanyName": self.company,
            "FileDescription": self.description or self.product_name,
            "FileVersion": self.version,
            "InternalName": self.internal_name or self.product_name,
            "LegalCopyright": self.copyright,
            "OriginalFilename": self.original_filename,
            "ProductName": self.product_name,
            "ProductVersion": self.version,
        }


def version_quad(version: str) -> tuple[int, int, int, int]:
    """'1.2.3rc1' -> (1, 2, 3, 0): the release numbers, padded or cut to four, each at most 65535."""
    try:
        release = Version(version).release
    except InvalidVersion:
        release = tuple(int(n) for n in re.findall(r"\d+", version)[:4]) or (0,)
    numbers = [min(n, 0xFFFF) for n in (*release, 0, 0, 0)[:4]]
    return numbers[0], numbers[1], numbers[2], numbers[3]


def launcher_template(kind: Literal["console", "gui"]) -> Path:
    """The shipped generic launcher for an entry kind, or the build in the folder KILN_WINDOWS_LAUNCHERS names."""
    return prebuilt_launcher("windows", f"launcher-{kind}.exe", LAUNCHERS_ENV)


def write_runtime_pth(runtime_dir: Path, python_version: str) -> Path:
    """Write runtime/python3XX._pth: it fixes sys.path (and home) so the registry and PYTHON* variables
    cannot change what the app imports. Paths are relative to the runtime folder.

    The stdlib entries are those the runtime has: python-build-standalone's `DLLs`, `Lib` and
    `Lib\\site-packages`, or the embeddable distribution's `python3XX.zip` (and `.` for its .pyd modules);
    python.org's own ._pth there is replaced by this one."""
    major, _, minor = python_version.partition(".")
    tag = f"{major}{minor}"
    stdlib_zip = [f"python{tag}.zip"] if (runtime_dir / f"python{tag}.zip").is_file() else []
    folders = [name for name in ("DLLs", "Lib", "Lib\\site-packages")
               if (runtime_dir / name.replace("\\", "/")).is_dir()]
    lines = [*stdlib_zip, ".", *folders, "..\\app", "..\\packages", "import site"]
    path = runtime_dir / f"python{tag}._pth"
    _write_atomic(path, ("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def brand_launcher(template: Path, out: Path, ico: Path, info: VersionInfo, *, utf8_mode: bool = True) -> None:
    """Copy `template` to `out` with the icon of `ico`, `info` as VERSIONINFO and Kiln's manifest.

    Without `utf8_mode` the launcher also carries RCDATA 1 = "utf8=0" and starts Python with `-X utf8=0`."""
    images = read_ico(ico)
    binary = lief.PE.parse(str(template))
    if binary is None:
        raise KilnError(f"{template} is not a Windows executable", hint="reinstall Kiln")
    root = lief.PE.ResourceDirectory(0)
    group = struct.pack("<HHH", 0, 1, len(images))
    icons = lief.PE.ResourceDirectory(RT_ICON)
    for number, (entry, data) in enumerate(images, start=1):
        group += entry + struct.pack("<H", number)  # GRPICONDIRENTRY: ICONDIRENTRY's first 12 bytes + nID
        icons.add_child(_leaf(number, data))
    root.add_child(icons)
    resources = [(RT_GROUP_ICON, group), (RT_VERSION, version_resource(info)), (RT_MANIFEST, MANIFEST.encode("utf-8"))]
    if not utf8_mode:
        resources.insert(0, (RT_RCDATA, UTF8_OFF))
    for type_id, payload in resources:
        kind = lief.PE.ResourceDirectory(type_id)
        kind.add_child(_leaf(1, payload))
        root.add_child(kind)
    binary.set_resources(root)
    image = bytearray(binary.write_to_bytes())
    set_pe_checksum(image)
    _write_atomic(out, bytes(image))


def _leaf(identifier: int, payload: bytes) -> lief.PE.ResourceDirectory:
    """An id directory holding one en-US data entry."""
    node = lief.PE.ResourceDirectory(identifier)
    leaf = lief.PE.ResourceData(list(payload), 0)
    leaf.id = LANG_EN_US
    node.add_child(leaf)
    return node


def read_ico(ico: Path) -> list[tuple[bytes, bytes]]:
    """The images of a .ico as (first 12 bytes of its ICONDIRENTRY, image data)."""
    try:
        data = ico.read_bytes()
    except OSError as e:
        raise KilnError(f"cannot read icon {ico}: {e.strerror}") from None
    problem = KilnError(f"{ico} is not a valid .ico file", hint="regenerate it with kiln.support.icons.write_ico")
    if len(data) < 6:
        raise problem
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    if reserved != 0 or kind != 1 or count == 0 or len(data) < 6 + 16 * count:
        raise problem
    images = []
    for index in range(count):
        entry = data[6 + 16 * index : 6 + 16 * index + 16]
        size, offset = struct.unpack_from("<II", entry, 8)
        if offset + size > len(data) or size == 0:
            raise problem
        images.append((entry[:12], data[offset : offset + size]))
    return images


def version_resource(info: VersionInfo) -> bytes:
    """Serialise VS_VERSIONINFO: VS_FIXEDFILEINFO, StringFileInfo (040904B0) and VarFileInfo."""
    a, b, c, d = info.numeric
    ms, ls = (a << 16) | b, (c << 16) | d
    fixed = struct.pack(
        "<13I", _VS_FF_SIGNATURE, 0x00010000, ms, ls, ms, ls, 0x3F, 0, _VOS_NT_WINDOWS32, _VFT_APP, 0, 0, 0
    )
    strings = [_block(key, _utf16z(value), text=True) for key, value in info.strings().items() if value]
    table = _block(f"{LANG_EN_US:04X}{_CODEPAGE_UNICODE:04X}", b"", strings, text=True)
    string_info = _block("StringFileInfo", b"", [table], text=True)
    translation = _block("Translation", struct.pack("<HH", LANG_EN_US, _CODEPAGE_UNICODE), text=False)
    var_info = _block("VarFileInfo", b"", [translation], text=True)
    return _block("VS_VERSION_INFO", fixed, [string_info, var_info], text=False)


def _block(key: str, value: bytes, children: list[bytes] | None = None, *, text: bool) -> bytes:
    """One version-resource node: wLength, wValueLength, wType, szKey, padding, Value, padding, children.

    wValueLength counts UTF-16 units for text values and bytes for binary ones; every part starts 32-bit aligned.
    """
    body = bytearray(6) + _utf16z(key)
    body += bytes(-len(body) % 4) + value
    for child in children or []:
        body += bytes(-len(body) % 4) + child
    value_length = len(value) // 2 if text else len(value)
    struct.pack_into("<HHH", body, 0, len(body), value_length, 1 if text else 0)
    return bytes(body)


def _utf16z(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def pe_checksum(data: bytes | bytearray) -> int:
    """The PE image checksum: 16-bit one's-complement-style sum of the file (its CheckSum field as zero),
    folded to 16 bits, plus the file length."""
    field = _checksum_offset(data)
    padded = bytes(data[:field]) + b"\0\0\0\0" + bytes(data[field + 4 :])
    padded += bytes(len(padded) % 2)
    # Summing first and folding the carries afterwards equals folding after every word (end-around carry).
    total = int(sum(struct.unpack(f"<{len(padded) // 2}H", padded)))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return (total + len(data)) & 0xFFFFFFFF


def set_pe_checksum(data: bytearray) -> None:
    struct.pack_into("<I", data, _checksum_offset(data), pe_checksum(data))


def _checksum_offset(data: bytes | bytearray) -> int:
    if len(data) < 0x40 or data[:2] != b"MZ":
        raise KilnError("not a Windows executable (no MZ header)")
    pe_offset = int(struct.unpack_from("<I", data, 0x3C)[0])
    if data[pe_offset : pe_offset + 4] != b"PE\0\0" or len(data) < pe_offset + 24 + _CHECKSUM_FIELD + 4:
        raise KilnError("not a Windows executable (no PE header)")
    return pe_offset + 4 + 20 + _CHECKSUM_FIELD


def _write_atomic(out: Path, data: bytes) -> None:
    atomic_write_bytes(out, data, mode=0o755)
