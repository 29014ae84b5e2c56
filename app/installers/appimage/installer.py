"""The appimage kind: one self-running file (Kiln's type-2 runtime + a squashfs of the AppDir) for Linux x86_64.

AppDir layout (the payload):
  AppRun                      POSIX sh launcher: runs usr/runtime's Python on usr/kiln_boot.py
  <identifier or name>.desktop
  <name>.png, .DirIcon        256 px icon
  usr/                        the staged bundle: runtime/, packages/, kiln_boot.py, and app -> ../app
  usr/share/icons/hicolor/<N>x<N>/apps/<name>.png
  usr/share/applications/     the desktop entry again, where AppStream tools look for it
  usr/share/metainfo/<id>.metainfo.xml   AppStream metainfo (metainfo.py)
  app/                        the app's own files (the bundle's app/)
  sbom.cdx.json               the bill of materials (CycloneDX), in the app's layer

The payload is made in two layers (kiln.support.layers): the base, everything but app/, is compressed once and
kept in Kiln's cache; each build copies it and appends app/ (mksquashfs adds new entries only at the root, so
the app's files live in a top-level folder the bundle reaches through the usr/app symlink).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
from pathlib import Path
from typing import ClassVar

from kiln.installers.appimage import glibc_need, sections, start_cache, update
from kiln.installers.appimage.desktop_entry import DesktopEntry, write_desktop_file
from kiln.installers.appimage.format import (
    APPIMAGE_MAGIC,
    APPIMAGE_MAGIC_OFFSET,
    SQUASHFS_MAGIC,
    AppImageFormatError,
    append_squashfs,
    assemble,
    elf_end_offset,
    make_squashfs,
    runtime_path,
    squashfs_settings,
)
from kiln.installers.appimage.metainfo import display_text, metainfo, summary_of
from kiln.installers.appimage.mime import write_file_types
from kiln.installers.appimage.options import AppImageOptions
from kiln.kinds.contract import BuildContext, Installer, StagedApp
from kiln.kinds.sbom import FILE_NAME as SBOM_NAME
from kiln.kinds.sbom import BundleSbom, kiln_part
from kiln.support import epoch
from kiln.support.atomic import atomic_write_bytes
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.icons import hicolor_set, load_icon, write_png
from kiln.support.layers import base_key, normalized_mode, take_base, tree_digest
from kiln.support.limits import APPIMAGE_RUNTIME_MAX_BYTES, TOOL_OUTPUT_MAX_BYTES
from kiln.support.links import link_or_copy, link_tree
from kiln.support.posix_launcher import posix_launcher
from kiln.support.sizes import human_size
from kiln.support.tools import run

ICON_SIZE = 256
APP_LAYER = "app"
"""The AppDir's top-level folder of the app's own files: the layer appended to the cached base."""
# squashfs superblock compression ids (squashfs_fs.h).
_COMPRESSORS = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}
_SUPERBLOCK = struct.Struct("<4sIIIIHHHHHHQQQQQQQQ")  # 96 bytes, little-endian
_LS_LINE = re.compile(r"^([-dlcbps][-rwxsStT]{9})\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)$")


class AppImageInstaller(Installer[AppImageOptions]):
    kind: ClassVar[str] = "appimage"

    def required_tools(self) -> list[str]:
        updates = self.options.update_url or self.options.update_information
        return ["mksquashfs", "zsyncmake"] if updates else ["mksquashfs"]

    def desktop_entry(self, staged: StagedApp, mime_types: tuple[str, ...] = ()) -> DesktopEntry:
        """The menu entry: AppImage tools replace Exec with the image's path when they integrate it.

        With file types (`mime_types`), Exec ends in %F: the desktop passes the files opened with the app.
        """
        name = staged.app.name
        terminal = self.options.terminal if self.options.terminal is not None else staged.entry.kind == "console"
        return DesktopEntry(
            name=display_text(staged.app.title) or name,
            exec_argv=(staged.command,),
            icon=name,
            categories=tuple(self.options.categories),
            terminal=terminal,
            comment=summary_of(staged.app),  # the AppStream summary: the menu and the software centre agree
            field_codes=("%F",) if mime_types else (),
            mime_types=mime_types,
            extra=(("X-AppImage-Version", staged.app.version),),
        )

    def desktop_file_name(self, staged: StagedApp) -> str:
        return f"{staged.app.identifier or staged.app.name}.desktop"

    def build(self, ctx: BuildContext, staged: StagedApp, out: Path) -> None:
        name = staged.app.name
        associations = ctx.project.association
        try:
            entry = self.desktop_entry(staged, tuple(a.mime for a in associations))
            entry.render()  # fail on bad categories before the slow steps
        except ValueError as e:
            raise KilnError(f"appimage installer: {e}", hint="fix categories in the [[installer]] table") from None
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        appdir, layer = ctx.work_dir / "AppDir", ctx.work_dir / "AppLayer"
        for folder in (appdir, layer):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        ctx.reporter.progress(0.0, "laying out the AppDir")
        usr = appdir / "usr"
        usr.mkdir()
        link_or_copy(staged.boot_script, usr / "kiln_boot.py")
        os.symlink(f"../{APP_LAYER}", usr / "app")
        icon = load_icon(staged.icon_source)
        for warning in icon.warnings:
            ctx.reporter.warn(warning)
        hicolor_set(icon, usr, name)
        write_file_types(associations, usr, staged.app.identifier or name, ctx.base_dir, staged.icon_source)
        write_png(icon, appdir / f"{name}.png", ICON_SIZE)
        write_png(icon, appdir / ".DirIcon", ICON_SIZE)
        app_run = appdir / "AppRun"
        launcher = posix_launcher(staged.app.title, staged.python_relpath, "usr", comment="(AppImage entry point)",
                                  appimage=True)
        app_run.write_text(launcher, encoding="utf-8")
        app_run.chmod(0o755)
        desktop = self.desktop_file_name(staged)
        write_desktop_file(entry, appdir / desktop)
        # AppStream tools (appstreamcli validate-tree, software centres) find the entry below usr/share/applications.
        write_desktop_file(entry, usr / "share" / "applications" / desktop)
        self._write_metainfo(ctx, staged, usr, desktop)
        _normalize_modes(appdir)
        link_tree(staged.app_dir, layer / APP_LAYER)
        _normalize_modes(layer)
        ctx.check_cancelled()
        content = tree_digest([("", appdir), ("usr/runtime", staged.runtime_dir),
                               ("usr/packages", staged.packages_dir)],
                              remember=(staged.runtime_dir, staged.packages_dir))
        key = base_key(self.kind, content, squashfs_settings())

        def make_base(dest: Path) -> None:
            ctx.reporter.progress(0.15, "compressing the runtime and the dependencies (squashfs, zstd)")
            for part in ("runtime", "packages"):
                link_tree(staged.bundle / part, usr / part)
                _normalize_modes(usr / part)
            make_squashfs(appdir, dest, lambda f: ctx.reporter.progress(
                0.15 + 0.7 * f, f"compressing the runtime and the dependencies (squashfs, zstd): {f:.0%} of the "
                "blocks"))

        squashfs = ctx.work_dir / "payload.squashfs"
        if take_base(ctx.cache_dir, key, make_base, squashfs, ctx.reporter.warn)[0]:
            ctx.reporter.log("runtime and dependencies unchanged: reusing their compressed squashfs from the cache")
        else:
            ctx.reporter.log("compressed the runtime and the dependencies once; the cache keeps them for rebuilds")
        ctx.check_cancelled()
        updates = update.update_information(self.options.update_url, self.options.update_information, out.name)
        needs = glibc_need.payload_glibc(staged.bundle)
        runtime_bytes = glibc_need.embed(runtime_path().read_bytes(), needs)
        if updates:
            runtime_bytes = update.embed(runtime_bytes, updates)
        runtime = ctx.work_dir / "runtime-for-this-appimage"
        runtime.write_bytes(runtime_bytes)
        if ctx.sbom is not None:  # in the app's layer: the cached base stays the same when only the app changes
            _place_sbom(ctx.sbom, staged, appdir, runtime, layer / SBOM_NAME)
        ctx.reporter.progress(0.85, "adding the app to the payload (squashfs append)")
        append_squashfs(layer, squashfs)
        ctx.check_cancelled()
        # The start cache is named by the digest of the whole payload, SBOM included: written into the runtime last
        # (the SBOM names the runtime with that section blank).
        runtime_bytes = start_cache.embed(runtime_bytes, start_cache.payload_digest(squashfs), self.options.start_cache)
        runtime.write_bytes(runtime_bytes)
        ctx.reporter.progress(0.9, f"joining the runtime and the {human_size(squashfs.stat().st_size)} payload")
        if needs:
            ctx.reporter.log(f"the app needs glibc {needs} or newer (recorded for the runtime's start-up check)")
        assemble(runtime, squashfs, out)
        squashfs.unlink()
        if updates:
            ctx.reporter.progress(0.95, f"writing {out.name}.zsync for delta updates")
            update.write_zsync(out, out.with_name(out.name + ".zsync"))
            ctx.reporter.log(f"update information: {updates}; publish {out.name}.zsync beside {out.name}")
        ctx.reporter.progress(1.0, f"{out.name} ready")


    def _write_metainfo(self, ctx: BuildContext, staged: StagedApp, usr: Path, desktop: str) -> None:
        info = metainfo(staged.app, desktop, summary_of(staged.app))
        for note in info.notes:
            ctx.reporter.warn(note)
        if not epoch.from_environment():
            ctx.reporter.log(f"AppStream release {info.version} dated {info.date} (a fixed date): set "
                             "SOURCE_DATE_EPOCH, e.g. to the time of the release's commit, for the real one")
        atomic_write_bytes(usr / "share" / "metainfo" / info.file_name, info.render(), mode=0o644)


def _place_sbom(sbom: BundleSbom, staged: StagedApp, appdir: Path, runtime: Path, inside: Path) -> None:
    """The AppImage's SBOM, at the top of its payload: the bundle below usr/ and app/, and Kiln's two parts: the
    runtime at the start of the file (not in the payload) and the AppRun launcher."""
    shipped = runtime_path()
    parts = [
        kiln_part("kiln-appimage-runtime", "Kiln AppImage runtime",
                  "The ELF program at the start of the AppImage: checks glibc, mounts or extracts the payload, starts "
                  "AppRun", sha256=sbom.sha256(runtime), made_from=(shipped.name, sbom.sha256(shipped)),
                  notes="the app's glibc need and update information written into its sections; hashed with its "
                        f"{start_cache.SECTION} section blank (the digest of the payload, which holds this SBOM)"),
        kiln_part("kiln-launcher", "Kiln launcher", "AppRun: starts the bundled Python on usr/kiln_boot.py",
                  [sbom.file("AppRun", appdir / "AppRun")]),
    ]
    layout = {"runtime": "usr/runtime", "packages": "usr/packages", "kiln_boot.py": "usr/kiln_boot.py",
              "app": APP_LAYER}
    sbom.place(staged.bundle, layout, inside, extra=parts,
               paths="the AppImage's payload (squashfs) root: --appimage-extract makes squashfs-root/<path>")


def _normalize_modes(root: Path) -> None:
    """Folders 0755, files 0644 or 0755 (if executable), whatever the umask the inputs were made with.

    The payload is root-owned, so a file without read permission for others would be unreadable to the user.
    A file that needs a change and is a hard link (into the runtime cache) is replaced by a copy first.
    """
    root.chmod(0o755)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(0o755)
        for name in files:
            path = Path(folder, name)
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                continue
            wanted = normalized_mode(info.st_mode)  # the rule the cached base's key is computed with
            if stat.S_IMODE(info.st_mode) == wanted:
                continue
            if info.st_nlink > 1:
                copy = path.with_name(f".{name}.kiln-copy")
                shutil.copyfile(path, copy)
                os.replace(copy, path)
            path.chmod(wanted)


# -- kiln inspect ---------------------------------------------------------------------------------------------


def describe(path: Path) -> str:
    """What `kiln inspect X.AppImage` prints. Never runs the file: everything is read from its bytes."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(16)
    if head[:4] != b"\x7fELF" or head[APPIMAGE_MAGIC_OFFSET : APPIMAGE_MAGIC_OFFSET + 3] != APPIMAGE_MAGIC:
        raise KilnError(f"{path.name}: not a type-2 AppImage (no ELF header with the AI\\x02 magic)")
    try:
        offset = elf_end_offset(path)
    except AppImageFormatError as e:
        raise KilnError(f"{path.name}: {e.message}") from None
    if offset > APPIMAGE_RUNTIME_MAX_BYTES:  # the runtime is read whole: never a gigabyte of it
        raise KilnError(f"{path.name}: its ELF runtime part is {human_size(offset)}; an AppImage runtime is a few MB "
                        f"(Kiln reads runtimes of up to {human_size(APPIMAGE_RUNTIME_MAX_BYTES)})")
    with path.open("rb") as f:
        runtime = f.read(offset)
        raw = f.read(_SUPERBLOCK.size)
    if len(raw) < _SUPERBLOCK.size or raw[:4] != SQUASHFS_MAGIC:
        raise KilnError(f"{path.name}: no squashfs payload at offset {offset} (truncated or not an AppImage)")
    sb = _SUPERBLOCK.unpack(raw)
    inodes, block_size, compression_id, major, minor, bytes_used = sb[1], sb[3], sb[5], sb[9], sb[10], sb[12]
    if offset + bytes_used > size:
        raise KilnError(f"{path.name}: the file is cut short: its squashfs payload says it is {bytes_used} bytes, but "
                        f"only {size - offset} bytes follow the runtime", hint="download or copy the file again")
    compression = _COMPRESSORS.get(compression_id, f"unknown (id {compression_id})")
    lines = [
        f"{path.name}: AppImage (type 2), {human_size(size)}",
        f"  runtime:  {runtime_version(runtime)}, {offset} bytes",
        f"  updates:  {_printable(update.read(runtime)) or 'none (no update information)'}",
        f"  glibc:    {_glibc_line(runtime)}",
        f"  start:    {_start_line(runtime)}",
        f"  payload:  squashfs {major}.{minor} at offset {offset}, {human_size(size - offset)} "
        f"({bytes_used} bytes used), {compression}, {human_size(block_size)} blocks, {inodes} inodes",
    ]
    try:
        entries = _listing(path, offset)
    except ToolFailed as e:
        raise KilnError(f"{path.name}: its squashfs payload cannot be listed (damaged?): unsquashfs said:"
                        f"{e.message.split(':', 1)[1]}") from None
    files = [e for e in entries if e[0].startswith("-")]
    symlinks = sum(1 for e in entries if e[0].startswith("l"))
    folders = sum(1 for e in entries if e[0].startswith("d"))
    total = sum(e[1] for e in files)
    lines.append(f"  contents: {len(files)} files, {folders} folders, {symlinks} symlinks, "
                 f"{human_size(total)} uncompressed")
    sizes: dict[str, int] = {}
    for _mode, file_size, relative in files:
        parts = relative.split("/")
        key = "/".join(parts[:2]) if parts[0] == "usr" else parts[0]
        sizes[key] = sizes.get(key, 0) + file_size
    lines += [f"  {human_size(n):>10}  {_printable(key)}" for key, n in sorted(sizes.items(), key=lambda kv: -kv[1])]
    desktop = sorted(rel for mode, _s, rel in entries if "/" not in rel and rel.endswith(".desktop")
                     and mode[0] in "-l")
    if not desktop:
        lines.append("  desktop entry: none (an AppImage needs one at the top level)")
    else:
        text = run(["unsquashfs", "-o", str(offset), "-cat", path, desktop[0]], timeout=120,
                   what="reading the desktop entry", max_output=TOOL_OUTPUT_MAX_BYTES
                   ).stdout.decode("utf-8", errors="replace")
        lines.append(f"  desktop entry {_printable(desktop[0])}:")
        lines += [f"    {_printable(line)}" for line in text.splitlines()[:40]]
    return "\n".join(lines)


def _listing(path: Path, offset: int) -> list[tuple[str, int, str]]:
    """(mode, size, path relative to the AppDir) for every entry, from `unsquashfs -lls`."""
    result = run(["unsquashfs", "-o", str(offset), "-lls", path], timeout=300, what="listing the AppImage payload",
                 max_output=TOOL_OUTPUT_MAX_BYTES)
    entries = []
    for line in result.stdout.decode("utf-8", errors="replace").splitlines():
        match = _LS_LINE.match(line)
        if not match:
            continue  # header lines such as "Parallel unsquashfs: ..."
        mode, _owner, size_text, _date, _time, name = match.groups()
        if mode.startswith("l"):
            name = name.split(" -> ", 1)[0]
        relative = name.split("/", 1)[1] if "/" in name else ""
        if relative:
            entries.append((mode, int(size_text) if size_text.isdigit() else 0, relative))
    return entries


def runtime_version(runtime: bytes) -> str:
    """Which runtime an AppImage starts with, read from its bytes (the runtime is never executed)."""
    version = _version_in(runtime)
    shipped = _shipped_runtime()
    unfilled = sections.blank(runtime, update.SECTION, glibc_need.SECTION, start_cache.SECTION)  # as shipped
    if shipped is not None and shipped.read_bytes() == unfilled:
        return f"Kiln AppImage runtime {version or '?'} (the one this Kiln ships)"
    if version is not None:
        return f"Kiln AppImage runtime {version}" if version else "Kiln AppImage runtime (version not found)"
    return "not Kiln's runtime (version unknown; Kiln does not run the file to ask)"


def _glibc_line(runtime: bytes) -> str:
    needs = glibc_need.read(runtime)
    if needs:
        return f"{needs} or newer (recorded at build time; the runtime checks it before starting the app)"
    return "not recorded (the runtime reads it from the payload's libraries at start)"


def _start_line(runtime: bytes) -> str:
    digest, cache = start_cache.read(runtime)
    if cache:
        return (f"from a cached copy after the first start (~/.cache/kiln-appimage/…-{digest}; "
                "APPIMAGE_KILN_CACHE=0 turns it off)")
    return "always mounted (start cache off)" if digest else "always mounted (no payload digest recorded)"


def _version_in(runtime: bytes) -> str | None:
    """The version literal the compiler placed just before the runtime's version format string; '' when the
    format string is there but not the version, None when this is not Kiln's runtime. (The installed Kiln has
    the runtime binary only, not its header, so the bytes are the one place to read it.)"""
    marker = runtime.find(b"\x00Kiln AppImage runtime %s")
    if marker < 0:
        return None
    candidate = runtime[runtime.rfind(b"\x00", 0, marker) + 1 : marker]
    return candidate.decode() if re.fullmatch(rb"\d+(\.\d+){1,3}", candidate) else ""


def _shipped_runtime() -> Path | None:
    try:
        return runtime_path()
    except KilnError:
        return None


def _printable(text: str) -> str:
    """Text from the file shown on a terminal: control characters (escape sequences!) made visible."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
