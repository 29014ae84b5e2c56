"""The msi kind: a Windows Installer package built on Linux with wixl (msitools), optionally signed.

Steps: copy the staged bundle (hard links), add the branded launcher `<name>.exe` and the runtime's `._pth`,
sign the launcher, write the .wxs (wxs.py), compile it with wixl, then fix what wixl cannot do:
set the database code page to UTF-8 and put the non-ASCII strings into their tables (msibuild), and sign
the MSI last. `describe` reads an MSI back with msiinfo for `kiln inspect`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import ClassVar

from kiln.installers.msi import dialogs, pe_resources, registration
from kiln.installers.msi.names import clean_text, windows_name
from kiln.installers.msi.options import MsiOptions
from kiln.installers.msi.signing import SigningIdentity, sign_file, signing_identity
from kiln.installers.msi.tables import export_table, table_rows
from kiln.installers.msi.version import calendar_note, msi_product_version
from kiln.installers.msi.wxs import ProductInfo, build_wxs, needs_placeholder
from kiln.kinds.contract import BuildContext, Installer, StagedApp
from kiln.kinds.sbom import FILE_NAME as SBOM_NAME
from kiln.kinds.sbom import BundleSbom, kiln_part, layout_under
from kiln.support import icons
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.limits import TOOL_OUTPUT_MAX_BYTES
from kiln.support.links import link_tree
from kiln.support.sizes import human_size
from kiln.support.tools import run

# Tables whose strings may hold tokens (wxs._Texts): names, folders, file names, shortcuts, ARP texts.
TOKEN_TABLES = ("Property", "Directory", "File", "Shortcut")
LONG_PATH_WARNING = 160
"""Relative paths longer than this risk Windows' 260-character limit below %LOCALAPPDATA%\\Programs\\<app>."""


class MsiInstaller(Installer[MsiOptions]):
    kind: ClassVar[str] = "msi"

    def required_tools(self) -> list[str]:
        tools = ["wixl", "msibuild", "msiinfo"]
        return [*tools, "osslsigncode", "setsid"] if self.options.signing_certificate else tools

    def build(self, ctx: BuildContext, staged: StagedApp, out: Path) -> None:
        app = staged.app
        version = msi_product_version(app.version)
        if (note := calendar_note(app.version)) is not None:
            ctx.reporter.warn(note)
        identity = signing_identity(self.options, ctx.base_dir)
        work = ctx.work_dir
        work.mkdir(parents=True, exist_ok=True)
        payload = work / "payload"
        ctx.reporter.progress(0.0, "laying out the Windows payload")
        link_tree(staged.bundle, payload)
        exe_name = f"{staged.command}.exe"  # the app's own command name (kiln.source.command)
        ico = work / "app.ico"
        source = icons.load_icon(staged.icon_source)
        for warning in source.warnings:
            ctx.reporter.warn(warning)
        icons.write_ico(source, ico)
        title = clean_text(app.title)
        info = pe_resources.VersionInfo(
            product_name=title, version=app.version, company=clean_text(app.publisher),
            description=clean_text(app.description) or title, internal_name=staged.command, original_filename=exe_name,
        )
        pe_resources.brand_launcher(pe_resources.launcher_template(staged.entry.kind), payload / exe_name, ico, info,
                                    utf8_mode=self.options.utf8_mode)
        pe_resources.write_runtime_pth(payload / "runtime", staged.python_version)
        if identity is not None:
            ctx.reporter.progress(0.1, f"signing {exe_name}")
            _sign_in_place(identity, payload / exe_name, title, app.homepage, work)
        if ctx.sbom is not None:  # the install folder's files are final: the SBOM goes in with them
            _place_sbom(ctx.sbom, staged, payload, exe_name, signed=identity is not None)
        ctx.check_cancelled()

        product = ProductInfo(
            title=title, manufacturer=clean_text(app.publisher) or title, version=version,
            upgrade_code=self.options.upgrade_code, description=clean_text(app.description),
            homepage=clean_text(app.homepage), scope=self.options.scope, exe_name=exe_name, icon=ico,
            start_menu_shortcut=self.options.start_menu_shortcut, desktop_shortcut=self.options.desktop_shortcut,
            folder_name=windows_name(app.title, app.name),
        )
        wxs = build_wxs(product, payload, work)
        if len(wxs.longest_path) > LONG_PATH_WARNING:
            ctx.reporter.warn(f"{wxs.longest_path} is {len(wxs.longest_path)} characters long; with the install "
                              f"folder in front it may exceed Windows' 260-character path limit")
        wxs_path = work / "app.wxs"
        wxs_path.write_bytes(wxs.xml)
        ctx.reporter.progress(0.2, f"compiling {wxs.file_count} files with wixl")
        built = work / "built.msi"
        run(["wixl", "-a", "x64", "-o", built, wxs_path], cwd=work, what="building the MSI with wixl")
        ctx.check_cancelled()
        ctx.reporter.progress(0.8, "setting the UTF-8 code page and the product's texts")
        fix_strings(built, wxs.texts, work / "tables", title, product.manufacturer,
                    summary=needs_placeholder(product.manufacturer) or "$" in title)
        on_path = self.options.add_to_path if self.options.add_to_path is not None else staged.entry.kind == "console"
        registration.register(built, app_name=app.name, exe_name=exe_name, associations=ctx.project.association,
                              add_to_path=on_path, scope=self.options.scope, work=work / "registration")
        dialogs.add_dialogs(built, licence_file=ctx.base_dir / app.license_file if app.license_file else None,
                            per_machine=self.options.scope == "per-machine", gui=staged.entry.kind == "gui",
                            exe_name=exe_name, work=work / "dialogs")
        if identity is not None:
            ctx.reporter.progress(0.9, "signing the MSI")
            sign_file(identity, built, out, title, app.homepage)
        else:
            shutil.move(built, out)
        os.chmod(out, 0o644)
        ctx.reporter.progress(1.0, f"{out.name}: {human_size(out.stat().st_size)}")


def _place_sbom(sbom: BundleSbom, staged: StagedApp, payload: Path, exe_name: str, *, signed: bool) -> None:
    """The MSI's SBOM, installed with the app (`<install folder>\\sbom.cdx.json`): the bundle and the launcher."""
    template = pe_resources.launcher_template(staged.entry.kind)
    notes = "the app's icon and version information written into its resources" + (", then signed" if signed else "")
    launcher = kiln_part("kiln-launcher", "Kiln launcher", f"{exe_name}: starts the bundled Python on kiln_boot.py",
                         [sbom.file(exe_name, payload / exe_name)], made_from=(template.name, sbom.sha256(template)),
                         notes=notes)
    sbom.place(payload, layout_under(""), payload / SBOM_NAME, extra=[launcher],
               paths="the install folder (per user: %LOCALAPPDATA%\\Programs\\<app>; per machine: Program Files)")


def _sign_in_place(identity: SigningIdentity, path: Path, title: str, url: str, work: Path) -> None:
    signed = work / f"{path.name}.signed"
    sign_file(identity, path, signed, title, url)
    os.replace(signed, path)


def fix_strings(msi: Path, texts: dict[str, str], table_dir: Path, subject: str, author: str, *,
                summary: bool) -> None:
    """Make the database UTF-8 (code page 65001) and replace wixl's ASCII tokens by the real strings.

    The code page must be set before the strings arrive; msibuild re-encodes the existing string pool. With
    `summary`, the summary's Subject and Author are set too (wixl got placeholders for them).
    """
    table_dir.mkdir(parents=True, exist_ok=True)
    (table_dir / "_ForceCodepage.idt").write_bytes(b"\r\n\r\n65001\t_ForceCodepage\r\n")
    imports = ["_ForceCodepage.idt"]
    if texts:
        for table in TOKEN_TABLES:
            rows = export_table(msi, table, raw=True)
            changed = [[texts.get(value, value) for value in row] for row in rows[3:]]
            if changed != rows[3:]:
                text = "".join("\t".join(row) + "\r\n" for row in rows[:3] + changed)
                (table_dir / f"{table}.idt").write_bytes(text.encode("utf-8", "surrogateescape"))
                imports.append(f"{table}.idt")
    run(["msibuild", msi.resolve(), "-i", *imports], cwd=table_dir, what="setting the MSI's strings")
    if summary:
        # msibuild takes a leading "-" for an option; a space keeps such a name an argument.
        run(["msibuild", msi.resolve(), "-s", subject, author if not author.startswith("-") else f" {author}"],
            what="setting the MSI's summary information")
    for table in TOKEN_TABLES:
        if any(value.startswith("KILN_TEXT_") for row in export_table(msi, table)[3:] for value in row):
            raise KilnError(f"internal error: a placeholder string is left in the MSI's {table} table")


def describe(path: Path) -> str:
    """What `kiln inspect` shows for an MSI: product, codes, shortcuts, files and their size."""
    try:
        properties = {row["Property"]: row["Value"] for row in table_rows(path, "Property")}
    except ToolFailed:
        properties = {}
    if "ProductCode" not in properties:
        raise KilnError(f"{path.name}: not a readable Windows Installer package",
                        hint="msiinfo (Debian package msitools) could not read its Property table")
    files = table_rows(path, "File")
    installed = sum(int(row["FileSize"] or 0) for row in files)
    places = {"ProgramMenuFolder": "Start menu", "DesktopFolder": "desktop"}
    shortcuts = [f"{row['Name'].split('|')[-1]} ({places.get(row['Directory_'], row['Directory_'])})"
                 for row in table_rows(path, "Shortcut")]
    scope = {"1": "per-machine (Program Files)", "2": "per-user or per-machine (ALLUSERS=2)"}.get(
        properties.get("ALLUSERS", ""), "per-user (%LOCALAPPDATA%\\Programs)")
    streams = run(["msiinfo", "streams", path], check=False, what="listing the MSI's streams",
                  max_output=TOOL_OUTPUT_MAX_BYTES).stdout
    signed = b"DigitalSignature" in streams
    lines = [
        f"{path.name}: Windows Installer package, {human_size(path.stat().st_size)}",
        f"  product:      {properties.get('ProductName', '?')} {properties.get('ProductVersion', '?')}",
        f"  manufacturer: {properties.get('Manufacturer', '')}",
        f"  ProductCode:  {properties['ProductCode']}",
        f"  UpgradeCode:  {properties.get('UpgradeCode', '(none: cannot be upgraded)')}",
        f"  scope:        {scope}",
        f"  shortcuts:    {', '.join(shortcuts) or 'none'}",
        f"  files:        {len(files)}, {human_size(installed)} installed",
        f"  signed:       {'yes (Authenticode)' if signed else 'no'}",
    ]
    if properties.get("ARPURLINFOABOUT"):
        lines.insert(4, f"  homepage:     {properties['ARPURLINFOABOUT']}")
    return "\n".join(lines)
