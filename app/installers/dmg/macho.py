"""Reading Mach-O files: universal and thin headers, load commands, the embedded code signature, and whether it holds.

Kiln reads what it ships in a DMG to decide what to thin and sign, to check its own signatures after signing, and
for `kiln inspect`. Everything is parsed from the bytes (big- or little-endian headers, 32- and 64-bit, universal
files with 32- and 64-bit tables); nothing is run. A signature "holds" when every page hash of every CodeDirectory
matches the file, the hashes of the blobs it carries (requirements, entitlements) match their special slots, and a
CMS signature, when present, signs the first CodeDirectory's hash. Whether the CMS signature's certificate chains to
Apple, and the cryptography of the CMS signature itself, are macOS's to check.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiln.installers.dmg.cms import CmsError, cms_summary
from kiln.support.errors import KilnError

FAT_MAGIC, FAT_MAGIC_64 = 0xCAFEBABE, 0xCAFEBABF
THIN_MAGICS = {0xFEEDFACE: (">", 32), 0xCEFAEDFE: ("<", 32), 0xFEEDFACF: (">", 64), 0xCFFAEDFE: ("<", 64)}
_MAX_FAT_ARCHS = 20  # more is a Java class file (same 0xCAFEBABE magic; its version sits where nfat_arch would)

CPU_NAMES = {7: "i386", 0x01000007: "x86_64", 12: "arm", 0x0100000C: "arm64", 0x0200000C: "arm64_32",
             18: "ppc", 0x01000012: "ppc64"}
CPU_SUBTYPE_ARM64E = 2
MH_EXECUTE, MH_DYLIB, MH_BUNDLE = 2, 6, 8
FILE_TYPES = {1: "object", MH_EXECUTE: "executable", 6: "dylib", 8: "bundle", 7: "dylinker", 11: "dSYM"}
LC_SEGMENT, LC_SEGMENT_64, LC_CODE_SIGNATURE = 0x1, 0x19, 0x1D
LC_NAMES = {0x1: "LC_SEGMENT", 0x19: "LC_SEGMENT_64", 0x2: "LC_SYMTAB", 0xB: "LC_DYSYMTAB", 0xC: "LC_LOAD_DYLIB",
            0xD: "LC_ID_DYLIB", 0xE: "LC_LOAD_DYLINKER", 0x1B: "LC_UUID", LC_CODE_SIGNATURE: "LC_CODE_SIGNATURE",
            0x80000022: "LC_DYLD_INFO_ONLY", 0x80000028: "LC_MAIN", 0x32: "LC_BUILD_VERSION",
            0x24: "LC_VERSION_MIN_MACOSX", 0x8000001C: "LC_RPATH", 0x26: "LC_FUNCTION_STARTS",
            0x29: "LC_DATA_IN_CODE", 0x80000018: "LC_LOAD_WEAK_DYLIB", 0x8000001F: "LC_REEXPORT_DYLIB",
            0x2A: "LC_SOURCE_VERSION", 0x80000033: "LC_DYLD_EXPORTS_TRIE", 0x80000034: "LC_DYLD_CHAINED_FIXUPS"}

# Code signing blobs (all big-endian).
SUPERBLOB_MAGIC, CODEDIRECTORY_MAGIC, CMS_WRAPPER_MAGIC = 0xFADE0CC0, 0xFADE0C02, 0xFADE0B01
SLOT_CODEDIRECTORY, SLOT_REQUIREMENTS, SLOT_ENTITLEMENTS, SLOT_DER_ENTITLEMENTS = 0, 2, 5, 7
SLOT_ALTERNATE_CODEDIRECTORIES, SLOT_CMS = 0x1000, 0x10000
SPECIAL_INFO, SPECIAL_RESOURCES = 1, 3  # special slots whose data lives outside the file (Info.plist, CodeResources)
CS_ADHOC, CS_RUNTIME, CS_LINKER_SIGNED = 0x2, 0x10000, 0x20000
HASHES = {1: ("sha1", 20), 2: ("sha256", 32), 3: ("sha256", 20), 4: ("sha384", 48)}  # hashType: (algorithm, size)

Read = Callable[[int, int], bytes]
"""Reads `length` bytes at `offset` of what a signature covers (a slice of a file, a disk image)."""
_CHUNK = 1 << 20
SignatureState = str
"""'none', 'ad hoc', 'Developer ID', 'certificate' (a CMS signature by another certificate) or 'broken'."""


class MachOError(KilnError):
    """A file that starts like a Mach-O file but cannot be read as one."""


@dataclass(frozen=True)
class LoadCommand:
    cmd: int
    offset: int  # within the slice
    size: int

    @property
    def name(self) -> str:
        return LC_NAMES.get(self.cmd) or f"0x{self.cmd:x}"


@dataclass(frozen=True)
class CodeDirectory:
    """One CodeDirectory blob: what it hashes and how."""

    version: int
    flags: int
    hash_type: int
    hash_size: int
    page_size: int  # bytes; 0 = the whole code limit is one page
    code_limit: int
    identifier: str
    team_id: str
    exec_seg_flags: int
    code_hashes: tuple[bytes, ...]
    special_hashes: dict[int, bytes]  # slot number → hash (only slots 1..nSpecialSlots)
    raw: bytes

    @property
    def algorithm(self) -> str:
        return HASHES.get(self.hash_type, (f"hash type {self.hash_type}", 0))[0]

    def cdhash(self) -> bytes:
        """The CodeDirectory's own hash, with its own algorithm (what a CMS signature and a bundle seal name)."""
        return hashlib.new(HASHES[self.hash_type][0], self.raw).digest()


@dataclass(frozen=True)
class Signature:
    """The embedded signature (a SuperBlob) of one slice."""

    offset: int  # within the slice (LC_CODE_SIGNATURE's dataoff)
    size: int
    blobs: dict[int, bytes]  # SuperBlob slot type → the whole blob
    code_directories: tuple[CodeDirectory, ...]

    @property
    def cms(self) -> bytes:
        """The CMS (PKCS#7) payload, empty for ad-hoc signatures (which carry no blob or an empty wrapper)."""
        blob = self.blobs.get(SLOT_CMS, b"")
        return blob[8:] if len(blob) >= 8 else b""

    @property
    def flags(self) -> int:
        return self.code_directories[0].flags if self.code_directories else 0


@dataclass(frozen=True)
class Slice:
    """One architecture's Mach-O image, inside a universal file or alone."""

    arch: str
    offset: int  # in the file
    size: int
    bits: int
    filetype: int
    load_commands: tuple[LoadCommand, ...]
    signature: Signature | None
    signature_problem: str = ""  # why the signature could not be parsed, when it could not
    segments: tuple[str, ...] = ()  # segment names (__TEXT, __LINKEDIT, ...)

    @property
    def kind(self) -> str:
        return FILE_TYPES.get(self.filetype, f"type {self.filetype}")

    @property
    def signable(self) -> bool:
        """An embedded signature lives at the end of __LINKEDIT: an image without it (an object file) has none."""
        return "__LINKEDIT" in self.segments


@dataclass(frozen=True)
class MachO:
    path: Path
    universal: bool
    slices: tuple[Slice, ...]
    size: int

    @property
    def archs(self) -> tuple[str, ...]:
        return tuple(s.arch for s in self.slices)


@dataclass(frozen=True)
class SliceCheck:
    """What `check_slice` found: the state and the reasons a signature is broken."""

    state: SignatureState
    problems: tuple[str, ...] = ()
    signer: str = ""  # the signing certificate's common name, for CMS signatures
    team_id: str = ""
    hardened_runtime: bool = False
    entitlements: bytes = field(default=b"", repr=False)


def has_macho_magic(head: bytes) -> bool:
    """Whether a file starts with a Mach-O magic number (what the signing library goes by; a Java class file too)."""
    return len(head) >= 4 and struct.unpack(">I", head[:4])[0] in (*THIN_MAGICS, FAT_MAGIC, FAT_MAGIC_64)


def is_macho(head: bytes) -> bool:
    """Whether the first 8 bytes of a file look like a Mach-O file (thin, or universal with a few slices)."""
    if len(head) < 8:
        return False
    magic = struct.unpack(">I", head[:4])[0]
    if magic in THIN_MAGICS:
        return True
    return magic in (FAT_MAGIC, FAT_MAGIC_64) and 0 < struct.unpack(">I", head[4:8])[0] <= _MAX_FAT_ARCHS


def read_macho(path: Path) -> MachO:
    """Parse `path` (raises MachOError for a file that is not a readable Mach-O file)."""
    return parse_macho(path.read_bytes(), path)


def parse_macho(data: bytes, path: Path = Path("<bytes>")) -> MachO:
    view = memoryview(data)
    size = len(view)
    magic = struct.unpack_from(">I", view, 0)[0] if size >= 4 else 0
    if magic in THIN_MAGICS:
        return MachO(path, False, (_parse_slice(view, 0, size, path),), size)
    if magic not in (FAT_MAGIC, FAT_MAGIC_64):
        raise MachOError(f"{path.name} is not a Mach-O file")
    count = struct.unpack_from(">I", view, 4)[0]
    if not 0 < count <= _MAX_FAT_ARCHS:
        raise MachOError(f"{path.name}: a universal header with {count} architectures")
    entry, fmt = (32, ">iiQQI") if magic == FAT_MAGIC_64 else (20, ">iiIII")
    slices = []
    for i in range(count):
        if 8 + (i + 1) * entry > size:
            raise MachOError(f"{path.name}: the universal header is cut short")
        _, _, offset, length, _ = struct.unpack_from(fmt, view, 8 + i * entry)
        if offset + length > size or length < 28:
            raise MachOError(f"{path.name}: architecture {i} lies outside the file")
        slices.append(_parse_slice(view, offset, length, path))
    return MachO(path, True, tuple(slices), size)


def _parse_slice(view: memoryview, offset: int, size: int, path: Path) -> Slice:
    part = view[offset:offset + size]
    magic = struct.unpack_from(">I", part, 0)[0] if size >= 4 else 0
    if magic not in THIN_MAGICS:
        raise MachOError(f"{path.name}: no Mach-O header at offset {offset}")
    order, bits = THIN_MAGICS[magic]
    header = 32 if bits == 64 else 28
    if size < header:
        raise MachOError(f"{path.name}: the Mach-O header is cut short")
    cputype, subtype, filetype, ncmds, sizeofcmds = struct.unpack_from(order + "iIIII", part, 4)
    arch = CPU_NAMES.get(cputype & 0xFFFFFFFF, f"cpu 0x{cputype & 0xFFFFFFFF:x}")
    if arch == "arm64" and subtype & 0xFFFFFF == CPU_SUBTYPE_ARM64E:
        arch = "arm64e"
    if header + sizeofcmds > size:
        raise MachOError(f"{path.name}: the load commands run past the end of the {arch} image")
    commands, segments, at = [], [], header
    signature: Signature | None = None
    problem = ""
    for _ in range(ncmds):
        if at + 8 > header + sizeofcmds:
            raise MachOError(f"{path.name}: load commands are cut short ({arch})")
        cmd, cmdsize = struct.unpack_from(order + "II", part, at)
        if cmdsize < 8 or at + cmdsize > header + sizeofcmds:
            raise MachOError(f"{path.name}: a load command of {cmdsize} bytes ({arch})")
        commands.append(LoadCommand(cmd, at, cmdsize))
        if cmd in (LC_SEGMENT, LC_SEGMENT_64) and cmdsize >= 24:
            segments.append(_c_string(bytes(part[at + 8:at + 24]), 0))
        if cmd == LC_CODE_SIGNATURE and cmdsize >= 16:
            dataoff, datasize = struct.unpack_from(order + "II", part, at + 8)
            try:
                signature = _parse_signature(part, dataoff, datasize)
            except (MachOError, struct.error, UnicodeDecodeError, KeyError) as e:
                problem = e.message if isinstance(e, MachOError) else f"unreadable signature ({e})"
        at += cmdsize
    return Slice(arch, offset, size, bits, filetype, tuple(commands), signature, problem, tuple(segments))


def _parse_signature(part: memoryview, offset: int, size: int) -> Signature:
    if offset + size > len(part) or size < 12:
        raise MachOError("the signature lies outside the file")
    return parse_superblob(bytes(part[offset:offset + size]), offset)


def parse_superblob(blob: bytes, offset: int) -> Signature:
    """An embedded signature (a SuperBlob of CodeDirectories, requirements, entitlements, CMS) found at `offset`."""
    if len(blob) < 12:
        raise MachOError("the signature is cut short")
    magic, length, count = struct.unpack_from(">III", blob, 0)
    if magic != SUPERBLOB_MAGIC or length > len(blob) or 12 + count * 8 > length:
        raise MachOError("the signature is not a code signing SuperBlob")
    blobs: dict[int, bytes] = {}
    for i in range(count):
        slot, at = struct.unpack_from(">II", blob, 12 + i * 8)
        if at + 8 > length:
            raise MachOError(f"signature blob {slot} lies outside the signature")
        blob_length = struct.unpack_from(">I", blob, at + 4)[0]
        if blob_length < 8 or at + blob_length > length:
            raise MachOError(f"signature blob {slot} has a bad length")
        blobs[slot] = blob[at:at + blob_length]
    slots = [SLOT_CODEDIRECTORY, *range(SLOT_ALTERNATE_CODEDIRECTORIES, SLOT_ALTERNATE_CODEDIRECTORIES + 5)]
    directories = tuple(parse_code_directory(blobs[s]) for s in slots if s in blobs)
    return Signature(offset, len(blob), blobs, directories)


def parse_code_directory(blob: bytes) -> CodeDirectory:
    """One CodeDirectory blob (the layout of Apple's cs_blobs.h, versions 0x20001 to 0x20600)."""
    if len(blob) < 44 or struct.unpack_from(">I", blob, 0)[0] != CODEDIRECTORY_MAGIC:
        raise MachOError("a CodeDirectory is malformed")
    (_, length, version, flags, hash_offset, ident_offset, n_special, n_code, code_limit, hash_size, hash_type,
     _, page_log) = struct.unpack_from(">IIIIIIIIIBBBB", blob, 0)
    if length != len(blob) or hash_type not in HASHES or HASHES[hash_type][1] != hash_size:
        raise MachOError(f"a CodeDirectory has an unknown hash (type {hash_type}, {hash_size} bytes)")
    if hash_offset + n_code * hash_size > length or hash_offset < n_special * hash_size:
        raise MachOError("a CodeDirectory's hashes lie outside it")
    team_offset = struct.unpack_from(">I", blob, 48)[0] if version >= 0x20200 and length >= 52 else 0
    if version >= 0x20300 and length >= 64:
        code_limit = struct.unpack_from(">Q", blob, 56)[0] or code_limit
    exec_flags = struct.unpack_from(">Q", blob, 80)[0] if version >= 0x20400 and length >= 88 else 0
    code = tuple(blob[hash_offset + i * hash_size:hash_offset + (i + 1) * hash_size] for i in range(n_code))
    special = {k: blob[hash_offset - k * hash_size:hash_offset - (k - 1) * hash_size] for k in range(1, n_special + 1)}
    return CodeDirectory(
        version=version, flags=flags, hash_type=hash_type, hash_size=hash_size,
        page_size=1 << page_log if page_log else 0, code_limit=code_limit,
        identifier=_c_string(blob, ident_offset), team_id=_c_string(blob, team_offset) if team_offset else "",
        exec_seg_flags=exec_flags, code_hashes=code, special_hashes=special, raw=blob,
    )


def _c_string(blob: bytes, offset: int) -> str:
    end = blob.find(b"\0", offset)
    return blob[offset:end if end >= 0 else len(blob)].decode("utf-8", errors="replace")


def page_hash_problems(read: Read, size: int, directory: CodeDirectory) -> list[str]:
    """Pages of the `size` bytes behind `read` whose hash is not the one `directory` records."""
    page = directory.page_size or directory.code_limit
    expected = -(-directory.code_limit // page) if page else 0
    if len(directory.code_hashes) != expected or directory.code_limit > size:
        return [f"{directory.algorithm} CodeDirectory covers {directory.code_limit} bytes in "
                f"{len(directory.code_hashes)} pages of {page}; there are {size} bytes"]
    bad = []
    for i, want in enumerate(directory.code_hashes):
        hasher = hashlib.new(HASHES[directory.hash_type][0])
        start, end = i * page, min((i + 1) * page, directory.code_limit)
        for at in range(start, end, _CHUNK):  # a disk image's one "page" can be the whole image
            hasher.update(read(at, min(_CHUNK, end - at)))
        if hasher.digest()[:directory.hash_size] != want:
            bad.append(i)
    if not bad:
        return []
    return [f"{len(bad)} of {expected} {directory.algorithm} page hashes differ (first: page {bad[0]})"]


def check_slice(data: bytes, piece: Slice, outside: dict[int, bytes] | None = None) -> SliceCheck:
    """Whether `piece`'s signature holds over `data` (the whole file's bytes).

    `outside`: the data of special slots kept outside the file, for a bundle's main executable:
    {SPECIAL_INFO: Info.plist bytes, SPECIAL_RESOURCES: CodeResources bytes}; their hashes are checked when the
    signature binds them (see `binds_bundle`).
    """
    if piece.signature_problem:
        return SliceCheck("broken", (piece.signature_problem,))
    if piece.signature is None:
        return SliceCheck("none")

    def read(offset: int, length: int) -> bytes:
        return data[piece.offset + offset:piece.offset + min(offset + length, piece.size)]

    return check_signature(read, piece.size, piece.signature, outside)


def check_signature(read: Read, size: int, signature: Signature,
                    outside: dict[int, bytes] | None = None) -> SliceCheck:
    """Whether `signature` holds over the `size` bytes behind `read` (a Mach-O slice, a disk image)."""
    if not signature.code_directories:
        return SliceCheck("broken", ("the signature has no CodeDirectory",))
    problems: list[str] = []
    for directory in signature.code_directories:
        if directory.code_limit != signature.offset:
            problems.append(f"the {directory.algorithm} CodeDirectory ends at {directory.code_limit}, the signature "
                            f"starts at {signature.offset}")
        problems += page_hash_problems(read, size, directory)
        carried = {k: signature.blobs[k] for k in (SLOT_REQUIREMENTS, SLOT_ENTITLEMENTS, SLOT_DER_ENTITLEMENTS)
                   if k in signature.blobs}
        problems += _special_problems(directory, {**carried, **(outside or {})})
    first = signature.code_directories[0]
    entitlements = signature.blobs.get(SLOT_ENTITLEMENTS, b"")[8:]
    runtime = bool(first.flags & CS_RUNTIME)
    if not signature.cms or first.flags & CS_ADHOC:
        state = "ad hoc" if not problems else "broken"
        return SliceCheck(state, tuple(problems), hardened_runtime=runtime, entitlements=entitlements)
    try:
        summary = cms_summary(signature.cms)
    except CmsError as e:
        return SliceCheck("broken", (*problems, str(e)), hardened_runtime=runtime)
    digests = {hashlib.new(name, d.raw).digest() for d in signature.code_directories for name in ("sha1", "sha256")}
    if summary.message_digest not in digests:
        problems.append("the CMS signature does not sign this CodeDirectory")
    state = "broken" if problems else ("Developer ID" if summary.developer_id else "certificate")
    return SliceCheck(state, tuple(problems), summary.common_name, summary.team_id or first.team_id, runtime,
                      entitlements)


def _special_problems(directory: CodeDirectory, present: dict[int, bytes]) -> list[str]:
    algorithm = HASHES[directory.hash_type][0]
    problems = []
    names = {SPECIAL_INFO: "Info.plist", SLOT_REQUIREMENTS: "requirements", SPECIAL_RESOURCES: "CodeResources",
             SLOT_ENTITLEMENTS: "entitlements", SLOT_DER_ENTITLEMENTS: "DER entitlements"}
    for slot, name in names.items():
        recorded = directory.special_hashes.get(slot)
        if slot not in present:
            if recorded is not None and any(recorded) and slot not in (SPECIAL_INFO, SPECIAL_RESOURCES):
                problems.append(f"the {name} the {directory.algorithm} CodeDirectory names are missing")
            continue
        if slot in (SPECIAL_INFO, SPECIAL_RESOURCES) and (recorded is None or not any(recorded)):
            continue  # a signature that does not bind the bundle's files (an unsigned bundle's executable)
        if recorded is None or hashlib.new(algorithm, present[slot]).digest()[:directory.hash_size] != recorded:
            problems.append(f"the {name} do not match the {directory.algorithm} CodeDirectory")
    return problems


def binds_bundle(signature: Signature) -> bool:
    """Whether every CodeDirectory binds an Info.plist and a seal (CodeResources): a bundle's signed main executable."""
    return bool(signature.code_directories) and all(
        any(d.special_hashes.get(SPECIAL_INFO, b"")) and any(d.special_hashes.get(SPECIAL_RESOURCES, b""))
        for d in signature.code_directories)


def check_file(path: Path, outside: dict[int, bytes] | None = None) -> tuple[MachO, list[SliceCheck]]:
    """Parse `path` and check every slice's signature."""
    data = path.read_bytes()
    macho = parse_macho(data, path)
    return macho, [check_slice(data, piece, outside) for piece in macho.slices]


def overall_state(checks: list[SliceCheck]) -> SignatureState:
    """One state for a file: the weakest of its slices (a universal file with one unsigned slice is 'none')."""
    order = ["broken", "none", "ad hoc", "certificate", "Developer ID"]
    return min((c.state for c in checks), key=order.index) if checks else "none"
