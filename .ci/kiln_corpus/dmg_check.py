"""A DMG read back (nothing here can start it, and its runtime is a stand-in): `kiln inspect` reads it, then 7-Zip,
a reader independent of Kiln's, lists it; the .app's executable named by its Info.plist is there, executable and a
Mach-O for the target's architecture; the app's distribution (its version) and every distribution the build report
says it installed for macOS are inside."""

from __future__ import annotations

import plistlib
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

from kiln_corpus import proc
from kiln_corpus.apps import App
from kiln_corpus.kiln_steps import kiln_argv, kiln_env
from kiln_corpus.results import Step
from kiln_corpus.runs import normalize

_ARM64, _X86_64 = 0x0100000C, 0x01000007
_CPU = {"macos-arm64": _ARM64, "macos-x86_64": _X86_64}


def _seven_zip() -> str:
    return shutil.which("7zz") or shutil.which("7z") or "7zz"


def listing(dmg: Path, logs: Path) -> dict[str, dict[str, str]]:
    ran = proc.run([_seven_zip(), "l", "-slt", dmg], timeout=300, logs=logs)
    if ran.returncode != 0:
        raise ValueError(f"7-Zip cannot list it: {proc.first_error_line(ran.output)}")
    entries: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in ran.stdout.split("----------", 1)[-1].splitlines():
        key, sep, value = line.partition(" = ")
        if sep and key == "Path":
            current = entries.setdefault(value, {})
        elif sep:
            current[key] = value
    return entries


def member(dmg: Path, path: str, limit: int = 64 * 1024 * 1024) -> bytes:
    """One file of the DMG, as 7-Zip extracts it."""
    result = subprocess.run([_seven_zip(), "e", "-so", str(dmg), path], capture_output=True, timeout=300, check=False)
    if result.returncode != 0 or len(result.stdout) > limit:
        raise ValueError(f"7-Zip cannot extract {path}")
    return result.stdout


def _macho_cpus(head: bytes) -> set[int]:
    if head[:4] == b"\xcf\xfa\xed\xfe":  # thin 64-bit, little-endian
        return {struct.unpack_from("<I", head, 4)[0]}
    if head[:4] == b"\xca\xfe\xba\xbe":  # universal: big-endian fat header
        count = struct.unpack_from(">I", head, 4)[0]
        return {struct.unpack_from(">I", head, 8 + 20 * i)[0] for i in range(min(count, 8))}
    return set()


def _installed(report: dict[str, Any], platform: str) -> list[tuple[str, str]]:
    """(name, version) of every distribution the build report lists for `platform`, in the shapes reports had."""
    section = report.get("dependencies", {}).get(platform, {})
    rows = section.get("installed", section.get("packages", [])) if isinstance(section, dict) else section
    found = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("name") and row.get("version"):
            found.append((str(row["name"]), str(row["version"])))
    return found


def check(dmg: Path, app: App, report: dict[str, Any], platform: str, logs: Path) -> tuple[Step, list[str]]:
    """Read the DMG back; the step and notes (what could not be compared)."""
    notes: list[str] = []
    inspected = proc.run(kiln_argv("inspect", dmg), timeout=300, logs=logs / "inspect-dmg", env=kiln_env(None))
    seconds = inspected.seconds
    if inspected.returncode != 0:
        return Step("crash", f"kiln inspect: {proc.first_error_line(inspected.output)}", seconds), notes
    try:
        entries = listing(dmg, logs / "7z-dmg")
        plists = [p for p in entries if p.endswith(".app/Contents/Info.plist") and p.count(".app/") == 1]
        if len(plists) != 1:
            return Step("crash", f"{len(plists)} .app bundles with an Info.plist at the volume's top", seconds), notes
        bundle = plists[0].removesuffix("/Contents/Info.plist")
        info = plistlib.loads(member(dmg, plists[0]))
        executable = f"{bundle}/Contents/MacOS/{info.get('CFBundleExecutable', '')}"
        mode = entries.get(executable, {}).get("Mode", "")
        if not mode.startswith("-rwx"):
            return Step("crash", f"{executable} is {'not executable: ' + mode if mode else 'missing'}", seconds), notes
        cpus = _macho_cpus(member(dmg, executable)[:64])
        if _CPU[platform] not in cpus:
            return Step("crash", f"{executable} is no Mach-O for {platform}", seconds), notes
        dist_infos = {normalize(Path(p).name.removesuffix(".dist-info")): p for p in entries
                      if p.endswith(".dist-info") and p.startswith(bundle + "/")}
        own = dist_infos.get(normalize(f"{app.name}-{app.version}"))
        if own is None:
            return Step("crash", f"no {app.name}-{app.version}.dist-info in {bundle}", seconds), notes
        metadata = member(dmg, f"{own}/METADATA").decode("utf-8", errors="replace")
        if f"\nVersion: {app.version}\n" not in metadata:
            return Step("crash", f"{own}/METADATA does not say Version: {app.version}", seconds), notes
        installed = _installed(report, platform)
        if not installed:
            notes.append("DMG: the build report lists no installed distributions in a shape this script reads; "
                         "only the app's own was looked for")
        missing = [f"{n} {v}" for n, v in installed if normalize(f"{n}-{v}") not in dist_infos]
        if missing:
            return Step("crash", f"the report installed {', '.join(missing)}, not in the DMG", seconds), notes
    except (ValueError, subprocess.TimeoutExpired, plistlib.InvalidFileException) as e:
        return Step("crash", str(e), seconds), notes
    return Step("ok", "", seconds), notes
