"""The dmg kind: a macOS disk image holding `<Title>.app` and an Applications link, built on Linux.

Steps: the .app bundle (app_bundle.py), its universal Mach-O files thinned to the target's architecture (thin.py)
and signed (codesign.py), and the link go into a volume folder; xorriso turns it into an HFS+ volume and Kiln's UDIF
writer compresses it (hfs_volume.py, udif.py), each reporting its progress into the stage's. With a Developer ID
certificate the DMG is signed too, and notarized when asked (notarize.py).
Same input, same bytes: every date on the volume is $SOURCE_DATE_EPOCH or a fixed date, owners are 0:0 and modes
are normalised.
"""

from __future__ import annotations

import plistlib
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar
from xml.parsers.expat import ExpatError

from kiln.installers.dmg import reader as dmg_reader
from kiln.installers.dmg.app_bundle import (
    BUNDLE_DIR,
    app_folder_name,
    bundle_identifier,
    launcher_binary,
    make_app_bundle,
)
from kiln.installers.dmg.apple_network import TIMESTAMP_SERVICE, unreachable
from kiln.installers.dmg.code_listing import list_code
from kiln.installers.dmg.codesign import (
    Identity,
    check_app,
    entitlements_file,
    find_macho_files,
    reseal_app,
    sign_app,
    sign_dmg,
    signing_identity,
)
from kiln.installers.dmg.documents import add_document_types
from kiln.installers.dmg.finder import layout_for, write_finder_files
from kiln.installers.dmg.hfs_names import use_hfs_plus_names
from kiln.installers.dmg.hfs_volume import make_dmg, sanitize_volume_name
from kiln.installers.dmg.notarize import notarize_dmg
from kiln.installers.dmg.options import DmgOptions
from kiln.installers.dmg.seven_zip import find_seven_zip, listing_entries
from kiln.installers.dmg.thin import thin_files
from kiln.kinds.contract import BuildContext, Installer, StagedApp
from kiln.kinds.sbom import FILE_NAME as SBOM_NAME
from kiln.kinds.sbom import BundleSbom, kiln_part, layout_under
from kiln.support.epoch import build_epoch
from kiln.support.errors import KilnError
from kiln.support.icons import load_icon, write_icns
from kiln.support.limits import TOOL_OUTPUT_MAX_BYTES
from kiln.support.sizes import human_size
from kiln.support.tools import run

_BUNDLE_SHARE = 0.1  # of the stage: icon and .app bundle (a copy of the staged files)
_SIGNED_SHARE = 0.25  # ... and thinning and signing; make_dmg reports up to _DMG_SHARE, the rest signs the DMG
_DMG_SHARE = 0.95
_PROBLEMS_SHOWN = 5
_LISTED_LINKS = 20  # symlink targets `describe` reads one 7-Zip call each; enough for the volume's top levels


class DmgInstaller(Installer[DmgOptions]):
    kind: ClassVar[str] = "dmg"

    def required_tools(self) -> list[str]:
        return ["xorriso"]

    def volume_name(self, staged: StagedApp) -> str:
        """The name Finder shows for the mounted image, as xorriso will accept it."""
        return sanitize_volume_name(self.options.volume_name or staged.app.title)

    def build(self, ctx: BuildContext, staged: StagedApp, out: Path) -> None:
        if self.target.os != "macos":
            raise KilnError(f"the dmg kind builds macOS apps, not {self.target.name}",
                            hint='set platform = "macos-arm64" or "macos-x86_64" in the dmg [[installer]]')
        identifier, derived = bundle_identifier(staged.app)
        if derived:
            ctx.reporter.warn(f"app.identifier is empty; the app bundle uses {identifier} "
                              "(set app.identifier, e.g. org.example.myapp: macOS keys settings and permissions by it)")
        if staged.entry.kind == "console":
            ctx.reporter.log("console app: macOS opens no terminal for .app bundles; run "
                             f"'{app_folder_name(staged.app.title)}/Contents/MacOS/{staged.command}' from Terminal")
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        icon = load_icon(staged.icon_source)
        for warning in icon.warnings:
            ctx.reporter.warn(warning)
        icns = ctx.work_dir / f"{staged.app.name}.icns"
        write_icns(icon, icns)
        ctx.check_cancelled()
        ctx.reporter.progress(0.05, "writing the app bundle")
        volume = ctx.work_dir / "volume"
        if volume.exists():
            shutil.rmtree(volume)
        volume.mkdir(mode=0o755)
        volume.chmod(0o755)
        app_dir, warnings = make_app_bundle(staged, volume, self.options.minimum_macos, icns)
        add_document_types(app_dir, ctx.project.association, ctx.base_dir, staged.icon_source)
        for warning in warnings:
            ctx.reporter.warn(warning)
        if self.options.applications_link:
            (volume / "Applications").symlink_to("/Applications")  # drag-to-install target in Finder
        ctx.check_cancelled()
        ctx.reporter.progress(_BUNDLE_SHARE, "thinning and signing the app")
        identity = signing_identity(self.options.signing, ctx.base_dir)
        timestamp = self._timestamp(ctx, identity)
        use_hfs_plus_names(app_dir)  # the seal must name files as the Mac will read them
        self._thin(ctx, app_dir)
        ctx.check_cancelled()
        self._sign(ctx, app_dir, identifier, identity, timestamp)
        if ctx.sbom is not None:  # the nested code is signed: its final bytes go into the SBOM, the seal covers it
            _place_sbom(ctx.sbom, staged, app_dir, self.target.arch)
            self._sign(ctx, app_dir, identifier, identity, timestamp, reseal=True)
        layout = layout_for(app_folder_name(staged.app.title), self.options.applications_link)
        write_finder_files(volume, self.volume_name(staged), layout, icns, build_epoch())
        ctx.check_cancelled()
        ctx.reporter.progress(_SIGNED_SHARE, "making the HFS+ volume and compressing it")

        def report(fraction: float, message: str) -> None:  # make_dmg's own progress, into the stage's
            ctx.reporter.progress(_SIGNED_SHARE + (_DMG_SHARE - _SIGNED_SHARE) * fraction, message)

        stats = make_dmg(volume, self.volume_name(staged), out, epoch=build_epoch(), custom_icon=True, progress=report)
        ctx.reporter.log(f"{out.name}: {human_size(stats.uncompressed_bytes)} image, "
                         f"{human_size(stats.file_bytes)} compressed ({stats.chunk_counts})")
        if identity is not None:
            ctx.reporter.progress(_DMG_SHARE, "signing the disk image")
            sign_dmg(out, identifier, identity, timestamp)
            if self.options.signing.notarize:
                ctx.reporter.progress(_DMG_SHARE, "notarizing the disk image")
                notarize_dmg(out, self.options.signing, ctx.work_dir, ctx.reporter.log, ctx.reporter.warn)
        ctx.reporter.progress(1.0, "disk image written")

    def _timestamp(self, ctx: BuildContext, identity: Identity | None) -> bool:
        """Whether signatures get Apple's secure timestamp: asked for, and the server reachable (else say so)."""
        if identity is None or not self.options.signing.timestamp:
            return False
        problem = unreachable(TIMESTAMP_SERVICE)
        if problem:
            ctx.reporter.warn(f"signing without a secure timestamp: {problem}; notarization needs one, so build "
                              "again with network before publishing")
        return problem is None

    def _thin(self, ctx: BuildContext, app_dir: Path) -> None:
        """Cut universal Mach-O files down to the target's architecture; warn about files without it."""
        arch = self.target.arch
        files = [(f.relpath, f.path, f.macho) for f in find_macho_files(app_dir) if f.macho is not None]
        thinned = thin_files(files, arch)
        if thinned.files:
            ctx.reporter.log(f"thinned {thinned.files} universal Mach-O files to {arch}: "
                             f"{human_size(thinned.bytes_before)} -> {human_size(thinned.bytes_after)}")
        if thinned.foreign:
            listed = ", ".join(thinned.foreign[:_PROBLEMS_SHOWN])
            extra = len(thinned.foreign) - _PROBLEMS_SHOWN
            more = f" and {extra} more" if extra > 0 else ""
            ctx.reporter.warn(f"{len(thinned.foreign)} Mach-O files have no {arch} code and will not load on the "
                              f"Macs this DMG is for: {listed}{more}")

    def _sign(self, ctx: BuildContext, app_dir: Path, identifier: str, identity: Identity | None,
              timestamp: bool, *, reseal: bool = False) -> None:
        """Sign the app (ad hoc, or with the Developer ID certificate), then read every signature back; with
        `reseal`, only the bundle again (a file was added to the signed app)."""
        signing = self.options.signing
        entitlements = entitlements_file(signing, ctx.base_dir, ctx.work_dir) if identity else None
        if reseal:
            reseal_app(app_dir, identifier, identity, entitlements, timestamp)
        else:
            signed = sign_app(app_dir, identifier, identity, entitlements, timestamp)
            for entry in signed.not_signable:
                ctx.reporter.warn(f"{entry} looks like Mach-O code Kiln cannot sign; it is sealed as data, not signed")
        problems = check_app(app_dir, identity)
        if problems:
            raise KilnError(f"the signed app does not check out: {'; '.join(problems[:_PROBLEMS_SHOWN])}",
                            hint="this is a bug in Kiln or its signing library; please report it with the build log")
        if reseal:
            return
        kept = f", {signed.kept} kept their own valid signatures" if signed.kept else ""
        stamp = ", timestamped" if signed.timestamped else ""
        ctx.reporter.log(f"signed {app_dir.name} ({signed.mode}{stamp}): {signed.signed} Mach-O files{kept}, "
                         "every file sealed")


def _place_sbom(sbom: BundleSbom, staged: StagedApp, app_dir: Path, arch: str) -> None:
    """`<Title>.app/Contents/Resources/sbom.cdx.json`: the bundle below Resources/ (signed, with HFS+ names), and the
    launcher in MacOS/. The launcher is signed last, as the bundle's main executable, with a signature that seals
    this document: its final bytes cannot be in it, so the document names the prebuilt launcher it is made from."""
    contents = f"{app_dir.name}/Contents"
    executable = f"MacOS/{staged.app.name}"
    prebuilt = launcher_binary(arch)
    launcher = kiln_part("kiln-launcher", "Kiln launcher",
                         f"{contents}/{executable}: starts the bundled Python on kiln_boot.py",
                         made_from=(prebuilt.name, sbom.sha256(prebuilt)),
                         notes="signed as the app's main executable after this document was written: its signature "
                               "seals this document, so its bytes are the prebuilt launcher's and that signature")
    sbom.place(app_dir / "Contents" / "Resources" / BUNDLE_DIR, layout_under(f"{contents}/Resources/{BUNDLE_DIR}"),
               app_dir / "Contents" / "Resources" / SBOM_NAME, extra=[launcher],
               paths="the disk image's volume: drag the .app anywhere, the paths below it stay")


def describe(path: Path) -> str:
    """`kiln inspect X.dmg`: partitions and chunk statistics (Kiln's reader), then the volume's files (7-Zip)."""
    info = dmg_reader.read_dmg(path)
    lines = [dmg_reader.describe(info)]
    problems = dmg_reader.verify_dmg(path)
    lines.append("checksums: " + ("all CRC32s match" if not problems else "; ".join(problems)))
    lines += list_volume(path)
    lines += list_code(path)
    return "\n".join(lines)


def list_volume(path: Path) -> list[str]:
    """The volume's files as 7-Zip lists them; the bundled runtime, app and packages are summed up per folder."""
    seven = find_seven_zip()
    if seven is None:
        return ["files: install 7-Zip (sudo apt-get install 7zip) to list the volume's files"]
    entries = listing_entries(run([seven, "l", "-slt", "-sccUTF-8", path], what="listing the disk image",
                                     max_output=TOOL_OUTPUT_MAX_BYTES).stdout)
    lines = ["files:"]
    summaries: dict[str, list[int]] = {}
    links = 0
    plist_lines: list[str] = []
    for name, fields in sorted(entries):
        parts = name.split("/")
        if len(parts) > 6 and parts[1].endswith(".app") and parts[2:5] == ["Contents", "Resources", BUNDLE_DIR]:
            key = "/".join(parts[:6])
            total = summaries.setdefault(key, [0, 0])
            if fields.get("Folder") != "+":
                total[0] += 1
                total[1] += int(fields.get("Size") or 0)
            continue
        mode = fields.get("Mode", "")
        size = fields.get("Size", "") if fields.get("Folder") != "+" else ""
        line = f"  {mode:<10} {size:>10}  {name}"
        if mode.startswith("l") and links < _LISTED_LINKS:
            links += 1
            line += f" -> {_run_quiet([seven, 'x', '-so', str(path), name]).decode(errors='replace')}"
        lines.append(line)
        if len(parts) == 4 and parts[1].endswith(".app") and parts[2:] == ["Contents", "Info.plist"]:
            plist_lines.append(_plist_summary(parts[1], _run_quiet([seven, "x", "-so", str(path), name])))
    for key, (files, total_bytes) in sorted(summaries.items()):
        lines.append(f"  {'':<10} {'':>10}  {key}/… {files} files, {human_size(total_bytes)}")
    return plist_lines + lines


def _plist_summary(app: str, data: bytes) -> str:
    try:
        plist = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError, ExpatError) as e:
        return f"{app}: unreadable Info.plist ({e})"
    keys = ("CFBundleIdentifier", "CFBundleShortVersionString", "CFBundleExecutable", "LSMinimumSystemVersion")
    return f"{app}: " + ", ".join(f"{key} {plist.get(key)!r}" for key in keys)


def _run_quiet(argv: list[str]) -> bytes:
    """One symlink target for the listing; a failure only leaves it out (the listing is informative)."""
    try:
        return run(argv, what="reading a link", check=False).stdout
    except (KilnError, subprocess.SubprocessError):
        return b"?"
