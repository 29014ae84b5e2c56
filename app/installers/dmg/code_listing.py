"""`kiln inspect X.dmg`, the code part: the disk image's own signature, each app's seal, and every Mach-O file's
architectures and signature state (ad hoc, Developer ID, certificate, none or broken), read by Kiln's Mach-O reader.

The files come out of the image with 7-Zip (into a temporary folder, symlinks kept as links and never followed),
after 7-Zip's listing of the same files showed they fit the limits below: an image can come from anywhere, and what
its volume declares is checked before anything is written.
"""

from __future__ import annotations

import plistlib
import struct
import tempfile
from pathlib import Path
from xml.parsers.expat import ExpatError

from kiln.installers.dmg.codesign import MachOFile, check_main, find_macho_files, seal_problems
from kiln.installers.dmg.macho import MachOError, SliceCheck, check_signature, parse_superblob
from kiln.installers.dmg.seven_zip import find_seven_zip, listing_entries
from kiln.support.errors import KilnError
from kiln.support.sizes import human_size
from kiln.support.tools import run

KOLY_SIZE = 512
KOLY_CODE_SIGNATURE = 0x128  # big-endian offset and length of the image's code signature in the koly trailer
_SHOWN_PROBLEMS = 3
_MAX_SIGNATURE = 16 << 20  # a signature is a few KB; refuse absurd lengths rather than reading them
_APPS = ("*.app", "-r")  # 7-Zip's selection: every folder named *.app, with all it holds (listed, then extracted)

EXTRACTED_MAX_BYTES = 8 << 30
"""The most `kiln inspect` unpacks of a disk image's apps into a temporary folder to check their code. A Kiln DMG's
app is tens to hundreds of MiB (qt-hello: 48 MiB); past this, unpacking it could fill the disk."""
EXTRACTED_MAX_FILES = 500_000
"""The most files it unpacks for that: a Qt app holds a few thousand."""


def dmg_signature(path: Path) -> SliceCheck | None:
    """The disk image's own signature, checked over the bytes it covers; None when the image is not signed."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        if size < KOLY_SIZE:
            return None
        f.seek(size - KOLY_SIZE)
        koly = f.read(KOLY_SIZE)
        offset, length = struct.unpack_from(">QQ", koly, KOLY_CODE_SIGNATURE)
        if koly[:4] != b"koly" or not length:
            return None
        if offset + length > size - KOLY_SIZE or length > _MAX_SIGNATURE:
            return SliceCheck("broken", ("the signature lies outside the image",))
        f.seek(offset)
        try:
            signature = parse_superblob(f.read(length), offset)
        except MachOError as e:
            return SliceCheck("broken", (e.message,))

        def read(at: int, count: int) -> bytes:
            f.seek(at)
            return f.read(count)

        return check_signature(read, size, signature)


def describe_check(check: SliceCheck) -> str:
    text = check.state
    if check.signer:
        text += f" ({check.signer})"
    if check.hardened_runtime:
        text += ", hardened runtime"
    if check.problems:
        text += ": " + "; ".join(check.problems[:_SHOWN_PROBLEMS])
    return text


def describe_file(item: MachOFile) -> str:
    """One listing line: architectures, state (per architecture when they differ), kind and path."""
    if item.macho is None:
        return f"    {'?':<14} {'?':<10} unreadable ({item.problem})  {item.relpath}"
    states = [describe_check(c) for c in item.checks]
    state = states[0] if len(set(states)) == 1 else ", ".join(
        f"{arch}: {text}" for arch, text in zip(item.macho.archs, states, strict=True))
    if item.problem:
        state += f" (not signable: {item.problem})"
    kinds = sorted({s.kind for s in item.macho.slices})
    return f"    {' '.join(item.macho.archs):<14} {'/'.join(kinds):<10} {state}  {item.relpath}"


def list_app(app_dir: Path, name: str) -> list[str]:
    """The seal and the Mach-O files of one extracted .app."""
    lines = []
    seal = seal_problems(app_dir)
    lines.append(f"  {name}: " + ("every file sealed in Contents/_CodeSignature/CodeResources" if not seal
                                  else f"seal problems: {'; '.join(seal[:_SHOWN_PROBLEMS])}"
                                  + (f" (+{len(seal) - _SHOWN_PROBLEMS} more)" if len(seal) > _SHOWN_PROBLEMS else "")))
    files = find_macho_files(app_dir)
    try:
        main = check_main(app_dir)  # checked with the Info.plist and CodeResources it binds
        files = [main if item.path == main.path else item for item in files]
        if main.problem:
            lines.append(f"  {name}: the main executable {main.relpath} is not a Mach-O file ({main.problem})")
    except (OSError, KeyError, ValueError, ExpatError, plistlib.InvalidFileException):
        lines.append(f"  {name}: no readable Contents/Info.plist naming the main executable")
    lines.append(f"  {name}: {len(files)} Mach-O files (architectures, kind, signature):")
    lines += [describe_file(item) for item in files]
    return lines


def declared_apps(seven: str, path: Path) -> tuple[int, int]:
    """(files, bytes) that extracting the image's apps would write, as 7-Zip lists them (its HFS+ catalog)."""
    listing = run([seven, "l", "-slt", "-sccUTF-8", path, *_APPS], what="listing the app in the disk image").stdout
    sizes = [fields.get("Size", "") for _, fields in listing_entries(listing) if fields.get("Folder") != "+"]
    return len(sizes), sum(int(size) for size in sizes if size.isdigit())


def list_code(path: Path, *, max_bytes: int = EXTRACTED_MAX_BYTES, max_files: int = EXTRACTED_MAX_FILES) -> list[str]:
    """`kiln inspect`'s code section for the DMG at `path` (its apps unpacked only within the two limits)."""
    signature = dmg_signature(path)
    lines = ["code signing:", "  disk image: " + (describe_check(signature) if signature else "not signed")]
    seven = find_seven_zip()
    if seven is None:
        return [*lines, "  install 7-Zip (sudo apt-get install 7zip) to list the app's Mach-O files"]
    try:
        files, size = declared_apps(seven, path)
    except KilnError as e:
        return [*lines, f"  the app could not be listed: {e.message}"]
    if size > max_bytes or files > max_files:
        return [*lines, f"  the app is not extracted to check its code: it holds {files:,} files, {human_size(size)}; "
                        f"kiln inspect unpacks at most {max_files:,} files, {human_size(max_bytes)}"]
    with tempfile.TemporaryDirectory(prefix="kiln-inspect-") as tmp:
        try:
            run([seven, "x", "-y", f"-o{tmp}", "-snl", "-sccUTF-8", path, *_APPS],
                what="extracting the app from the disk image")
        except KilnError as e:
            return [*lines, f"  the app could not be extracted: {e.message}"]
        apps = sorted(p for p in Path(tmp).glob("*/*.app") if p.is_dir() and not p.is_symlink())
        if not apps:
            lines.append("  no .app in the volume")
        for app in apps:
            lines += list_app(app, app.name)
    return lines
