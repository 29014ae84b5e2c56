"""Real Mach-O files and a self-made Developer ID certificate for the macOS signing tests.

No macOS machine or SDK is here: the Mach-O files come from macOS wheels on the package index (markupsafe's compiled
module, thin arm64 and universal2), downloaded with pip (its cache, never the checkout, keeps them for later runs).
The certificate is made with openssl, independently of the signing library, with Apple's Developer ID Application
extension; its PKCS#12 uses the classic 3DES/SHA-1 encryption that the signing library reads.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from kit.testing import REPO, require_tools

MARKUPSAFE = "markupsafe==3.0.2"
SPEEDUPS = "markupsafe/_speedups.cpython-311-darwin.so"
TEAM = "KILNTEST01"
COMMON_NAME = f"Developer ID Application: Kiln Test ({TEAM})"
P12_PASSWORD = "s3cret pass"
IDENTIFIER = "org.example.hello"
"""The bundle identifier of the tests' apps."""
ODD = "odd [x]*? e\u0301"
"""A folder name with the characters a glob pattern would take for wildcards (and an é as HFS+ stores it)."""


def markupsafe_module(folder: Path, platform: str) -> Path:
    """markupsafe's compiled module from its wheel for `platform` (macosx_11_0_arm64, macosx_10_9_universal2)."""
    wheels = folder / platform
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
         "3.11", "--platform", platform, "-d", str(wheels), MARKUPSAFE],
        capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(f"markupsafe's macOS wheel could not be downloaded from the package index: {result.stderr}")
    (wheel,) = wheels.glob("*.whl")
    out = folder / f"{platform}.so"
    with zipfile.ZipFile(wheel) as zf:
        out.write_bytes(zf.read(SPEEDUPS))
    return out


@dataclass(frozen=True)
class Certificate:
    pem: Path
    key: Path
    p12: Path
    sha1: str  # of the DER certificate


def developer_id_certificate(folder: Path, common_name: str = COMMON_NAME, developer_id: bool = True) -> Certificate:
    """A self-signed code signing certificate made by openssl (with Apple's Developer ID Application extension)."""
    require_tools("openssl")
    folder.mkdir(parents=True, exist_ok=True)
    pem, key, p12 = folder / "cert.pem", folder / "key.pem", folder / "cert.p12"
    extensions = ["-addext", "extendedKeyUsage=codeSigning", "-addext", "keyUsage=critical,digitalSignature"]
    if developer_id:
        extensions += ["-addext", "1.2.840.113635.100.6.1.13=critical,DER:0500"]
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(pem),
                    "-days", "2", "-subj", f"/CN={common_name}/OU={TEAM}/O=Kiln Test/C=XX", *extensions],
                   check=True, capture_output=True, timeout=120)
    subprocess.run(["openssl", "pkcs12", "-export", "-inkey", str(key), "-in", str(pem), "-out", str(p12),
                    "-passout", f"pass:{P12_PASSWORD}", "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES",
                    "-macalg", "sha1"], check=True, capture_output=True, timeout=120)
    der = subprocess.run(["openssl", "x509", "-in", str(pem), "-outform", "DER"], check=True, capture_output=True,
                         timeout=60).stdout
    return Certificate(pem, key, p12, hashlib.sha1(der).hexdigest())


@dataclass(frozen=True)
class Recomputed:
    """What the tests' own reading of one slice's signature found (lief finds it; the hashes are redone here)."""

    arch: str
    flags: int
    identifier: str
    pages: int
    pages_matching: int
    cms: bytes


def recompute_signatures(path: Path) -> list[Recomputed]:
    """Every slice of `path`: lief locates the code signature, this function re-hashes every page the first
    CodeDirectory lists (independently of Kiln's Mach-O reader)."""
    import struct

    import lief

    parsed = lief.MachO.parse(str(path))
    assert parsed is not None, f"lief cannot read {path}"
    data = path.read_bytes()
    found = []
    for binary in parsed:
        start = binary.fat_offset
        assert binary.has_code_signature, f"{path.name} ({binary.header.cpu_type}) has no code signature"
        blob = bytes(binary.code_signature.content)
        count = struct.unpack_from(">I", blob, 8)[0]
        slots = dict(struct.unpack_from(">II", blob, 12 + 8 * i) for i in range(count))
        cd = blob[slots[0]:]
        magic, _, _, flags, hash_offset, ident_offset, _, n_code, code_limit, hash_size, hash_type, _, page_log = (
            struct.unpack_from(">IIIIIIIIIBBBB", cd))
        assert magic == 0xFADE0C02
        algorithm = {1: "sha1", 2: "sha256"}[hash_type]
        page = 1 << page_log
        matching = sum(
            hashlib.new(algorithm, data[start + i * page:start + min((i + 1) * page, code_limit)]).digest()[:hash_size]
            == cd[hash_offset + i * hash_size:hash_offset + (i + 1) * hash_size]
            for i in range(n_code))
        identifier = cd[ident_offset:cd.index(b"\0", ident_offset)].decode()
        cms = blob[slots[0x10000] + 8:slots[0x10000] + struct.unpack_from(">I", blob, slots[0x10000] + 4)[0]] \
            if 0x10000 in slots else b""
        arch = {lief.MachO.Header.CPU_TYPE.ARM64: "arm64", lief.MachO.Header.CPU_TYPE.X86_64: "x86_64"}.get(
            binary.header.cpu_type, str(binary.header.cpu_type))
        found.append(Recomputed(arch, flags, identifier, n_code, matching, cms))
    return found


def linux_launcher(out: Path) -> Path:
    """resources/launchers/macos/launcher.c compiled for this machine (its logic, runnable here)."""
    require_tools("gcc")
    out.mkdir(parents=True, exist_ok=True)
    launcher = out / "launcher"
    subprocess.run(["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(launcher),
                    str(REPO / "resources" / "launchers" / "macos" / "launcher.c"), "-ldl"],
                   check=True, capture_output=True, timeout=120)
    return launcher


def macos_runtime_archive(folder: Path, platform: str = "macos-arm64", version: str = "3.11.4",
                          extension: Path | None = None) -> Path:
    """A python-build-standalone install_only archive for macOS in layout, whose interpreter and libpython are real
    (if empty) Mach-O files, unsigned, made by the signing library; `extension` (a real module, e.g. markupsafe's)
    becomes lib-dynload/_json.cpython-3X-darwin.so. No macOS CPython can be downloaded here."""
    import io
    import tarfile

    import apple_platform as ap

    arch = {"macos-arm64": "aarch64", "macos-x86_64": "x86_64"}[platform]
    minor = ".".join(version.split(".")[:2])
    tag = minor.replace(".", "")
    files = {
        f"python/bin/python{minor}": (ap.macho.create_synthetic(arch, "executable"), 0o755),
        f"python/lib/libpython{minor}.dylib": (ap.macho.create_synthetic(arch, "dylib"), 0o755),
        f"python/lib/python{minor}/os.py": (b"# os\n", 0o644),
        f"python/lib/python{minor}/site-packages/README.txt": (b"", 0o644),
        f"python/include/python{minor}/patchlevel.h": (f'#define PY_VERSION "{version}"\n'.encode(), 0o644),
    }
    if extension is not None:
        files[f"python/lib/python{minor}/lib-dynload/_json.cpython-{tag}-darwin.so"] = (extension.read_bytes(), 0o755)
    path = folder / f"cpython-{version}+20240726-{arch}-apple-darwin-install_only.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("python/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, f"python{minor}"
        tar.addfile(link)
    return path
