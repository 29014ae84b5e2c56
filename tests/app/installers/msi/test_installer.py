"""The msi kind: built with wixl, read back with msiinfo, msiextract (+ diff -r) and pymsi; hostile strings."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pefile
import pytest
from kit import msi as msi_kit
from kit import sbom as sbom_kit
from kit.testing import StageRecorder

from kiln.engine.payload import boot_script
from kiln.installers.msi import pe_resources
from kiln.installers.msi.installer import MsiInstaller, describe
from kiln.installers.msi.options import MsiOptions
from kiln.kinds.contract import BuildContext, StagedApp
from kiln.model.project import AppSection, EntrySection, Project
from kiln.support import icons
from kiln.support.errors import KilnError
from kiln.support.targets import TARGETS

TITLE, PUBLISHER, DESCRIPTION = msi_kit.HOSTILE_TITLE, msi_kit.HOSTILE_PUBLISHER, msi_kit.HOSTILE_DESCRIPTION


@pytest.fixture(autouse=True)
def _tools() -> None:
    msi_kit.need("wixl", "msibuild", "msiinfo", "msiextract")


def make_bundle(root: Path) -> Path:
    """A staged Windows bundle as kiln.engine.staging lays it out (runtime, app, packages, kiln_boot.py)."""
    bundle = root / "bundle"
    pe = (msi_kit.REPO / "resources" / "launchers" / "windows" / "launcher-console.exe").read_bytes()
    files = {
        "runtime/python.exe": pe, "runtime/pythonw.exe": pe, "runtime/python311.dll": pe,
        "runtime/Lib/os.py": b"# os\n", "runtime/Lib/encodings/__init__.py": b"",
        "app/hello/__init__.pyc": b"\x00pyc", "app/hello/données/café ☕.txt": "données ☕\n".encode(),
        f"app/{msi_kit.DOLLAR_FILE}": b"$(env.HOME)\n",
        "packages/six.py": b"# six\n", "kiln_boot.py": boot_script(EntrySection(module="hello:main")).encode(),
    }
    for relative, data in files.items():
        (bundle / relative).parent.mkdir(parents=True, exist_ok=True)
        (bundle / relative).write_bytes(data)
    (bundle / "runtime" / "DLLs").mkdir()
    return bundle


def direct_build(root: Path, *, scope: str = "per-user", kind: str = "console", version: str = "1.2",
                 desktop: bool = True, title: str = TITLE, publisher: str = PUBLISHER,
                 command: str = "") -> tuple[Path, Path, StageRecorder]:
    """MsiInstaller.build on a hand-made staged bundle: returns (msi, bundle, reporter)."""
    root.mkdir(parents=True, exist_ok=True)
    bundle = root / "bundle" if (root / "bundle").exists() else make_bundle(root)
    app = AppSection(name="hello", display_name=title, version=version, publisher=publisher,
                     description=DESCRIPTION, homepage=msi_kit.HOMEPAGE)
    entry = EntrySection(module="hello:main", kind=kind)  # type: ignore[arg-type]
    options = MsiOptions(upgrade_code=msi_kit.UPGRADE_CODE, scope=scope, desktop_shortcut=desktop)  # type: ignore[arg-type]
    project = Project(app=app, entry=entry, installer=[options])
    reporter = StageRecorder()
    ctx = BuildContext(project=project, base_dir=root, work_dir=root / "work", cache_dir=root / "cache",
                       reporter=reporter)
    staged = StagedApp(bundle=bundle, target=TARGETS["windows-x86_64"], python_version="3.11", app=app,
                       entry=entry, icon_source=None, command=command)
    installer = MsiInstaller(options)
    out = root / installer.artifact_name(staged)
    installer.build(ctx, staged, out)
    return out, bundle, reporter


def long_name(value: str) -> str:
    """The long part of an MSI `short|long` file name."""
    return value.split("|")[-1]


def expected_launcher(tmp: Path, kind: str) -> bytes:
    ico = tmp / "expected.ico"
    icons.write_ico(icons.load_icon(None), ico)
    info = pe_resources.VersionInfo(product_name=TITLE, version="1.2", company=PUBLISHER, description=DESCRIPTION,
                                    internal_name="hello", original_filename="hello.exe")
    template = pe_resources.launcher_template("gui" if kind == "gui" else "console")
    pe_resources.brand_launcher(template, tmp / "expected.exe", ico, info)
    return (tmp / "expected.exe").read_bytes()


def test_per_user_msi_reads_back_with_three_readers(tmp_path: Path) -> None:
    msi, bundle, reporter = direct_build(tmp_path / "b")
    assert msi.name == "hello-1.2-windows-x86_64.msi" and not reporter.warnings
    # msiextract + diff -r: the install folder is the bundle plus the launcher and the runtime's ._pth.
    installed = msi_kit.extract(msi, tmp_path / "extracted")
    assert installed.name == msi_kit.FOLDER_NAME and installed.parent.name == "Programs"
    expected = tmp_path / "expected"
    shutil.copytree(bundle, expected)
    pe_resources.write_runtime_pth(expected / "runtime", "3.11")  # before the rmdir: the build saw DLLs/
    (expected / "runtime" / "DLLs").rmdir()  # msiextract creates no empty folders (CreateFolder checked below)
    (expected / "hello.exe").write_bytes(expected_launcher(tmp_path, "console"))
    diff = subprocess.run(["diff", "-r", str(expected), str(installed)], capture_output=True, text=True)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    # pymsi decompresses the same bytes.
    assert msi_kit.pymsi_files(msi) == msi_kit.files_below(installed)
    # Tables hold what the project says.
    properties = {r["Property"]: r["Value"] for r in msi_kit.table(msi, "Property", tmp_path)}
    assert properties["ProductName"] == TITLE and properties["Manufacturer"] == PUBLISHER
    assert properties["ProductVersion"] == "1.2.0" and properties["UpgradeCode"] == "{" + msi_kit.UPGRADE_CODE + "}"
    assert properties["ARPURLINFOABOUT"] == msi_kit.HOMEPAGE and properties["ARPCOMMENTS"] == DESCRIPTION
    assert properties["ARPHELPLINK"] == msi_kit.HOMEPAGE
    installed_bytes = sum(p.stat().st_size for p in installed.rglob("*") if p.is_file())
    assert int(properties["ARPSIZE"]) == (installed_bytes + 1023) // 1024  # what gets installed, in KiB
    assert properties["ARPPRODUCTICON"] == "AppIcon.ico" and "ALLUSERS" not in properties
    shortcuts = {r["Directory_"]: r for r in msi_kit.table(msi, "Shortcut", tmp_path)}
    assert set(shortcuts) == {"ProgramMenuFolder", "DesktopFolder"}
    for shortcut in shortcuts.values():
        assert long_name(shortcut["Name"]) == msi_kit.FOLDER_NAME and shortcut["Target"] == "[#f_hello.exe]"
        assert shortcut["Icon_"] == "AppIcon.ico" and shortcut["Description"] == DESCRIPTION
        assert shortcut["WkDir"] == "INSTALLDIR"
    (icon,) = msi_kit.table(msi, "Icon", tmp_path)  # msiinfo writes the icon's data next to the export
    ico = tmp_path / "check.ico"
    icons.write_ico(icons.load_icon(None), ico)
    assert icon["Name"] == "AppIcon.ico" and (tmp_path / "Icon" / icon["Data"]).read_bytes() == ico.read_bytes()
    upgrade = {r["ActionProperty"]: r for r in msi_kit.table(msi, "Upgrade", tmp_path)}
    assert upgrade["WIX_UPGRADE_DETECTED"]["VersionMax"] == "1.2.0"
    assert upgrade["WIX_DOWNGRADE_DETECTED"]["VersionMin"] == "1.2.0"
    same = upgrade["WIX_SAME_VERSION_UPGRADE_DETECTED"]  # a rebuild of 1.2 replaces an installed 1.2
    assert (same["VersionMin"], same["VersionMax"], same["Attributes"]) == ("1.2.0", "1.2.1", "256")  # [min, max)
    assert {r["UpgradeCode"] for r in upgrade.values()} == {"{" + msi_kit.UPGRADE_CODE + "}"}
    assert "WIX_SAME_VERSION_UPGRADE_DETECTED" in properties["SecureCustomProperties"].split(";")
    assert [r["Condition"] for r in msi_kit.table(msi, "LaunchCondition", tmp_path)] == ["NOT WIX_DOWNGRADE_DETECTED"]
    components = msi_kit.table(msi, "Component", tmp_path)
    registry = {r["Registry"]: r for r in msi_kit.table(msi, "Registry", tmp_path)}
    for component in components:
        assert int(component["Attributes"]) & 256, component  # msidbComponentAttributes64bit
        key = registry[component["KeyPath"]]  # every per-user component is keyed by an HKCU value
        assert key["Root"] == "1" and key["Key"] == r"Software\[Manufacturer]\[ProductName]"
    removed = {r["DirProperty"] for r in msi_kit.table(msi, "RemoveFile", tmp_path)}
    directories = {r["Directory"]: r for r in msi_kit.table(msi, "Directory", tmp_path)}
    assert removed == set(directories) - {"TARGETDIR", "LocalAppDataFolder", "ProgramMenuFolder", "DesktopFolder"}
    assert long_name(directories["INSTALLDIR"]["DefaultDir"]) == msi_kit.FOLDER_NAME
    assert directories["INSTALLDIR"]["Directory_Parent"] == "d_Programs"
    created = {directories[r["Directory_"]]["DefaultDir"] for r in msi_kit.table(msi, "CreateFolder", tmp_path)}
    assert created == {"DLLs"}
    files = {long_name(r["FileName"]) for r in msi_kit.table(msi, "File", tmp_path)}
    assert {"café ☕.txt", "pay$(env.HOME)$.txt"} <= files and len(files) == 12
    info = msi_kit.summary(msi)
    assert info["Subject"] == TITLE and info["Author"] == PUBLISHER
    assert info["Template"] == "x64;1033" and info["Source"].startswith("10 ")  # compressed, no elevation
    codepage = subprocess.run(["msiinfo", "export", str(msi), "_ForceCodepage"], capture_output=True).stdout
    assert b"65001\t_ForceCodepage" in codepage


def test_launcher_is_branded_per_entry_kind(tmp_path: Path) -> None:
    for kind, subsystem in (("console", 3), ("gui", 2)):
        msi, _, _ = direct_build(tmp_path / kind, kind=kind, desktop=False)
        exe = msi_kit.extract(msi, tmp_path / f"x-{kind}") / "hello.exe"
        pe = pefile.PE(str(exe))
        assert pe.OPTIONAL_HEADER.Subsystem == subsystem
        strings = {k.decode(): v.decode() for info in pe.FileInfo[0] if hasattr(info, "StringTable")
                   for table in info.StringTable for k, v in table.entries.items()}
        assert strings["ProductName"] == TITLE and strings["CompanyName"] == PUBLISHER
        assert strings["OriginalFilename"] == "hello.exe"
        kinds = {entry.id for entry in pe.DIRECTORY_ENTRY_RESOURCE.entries}
        assert {3, 14, 16, 24} <= kinds  # icon, icon group, version, manifest
        assert exe.read_bytes() == expected_launcher(tmp_path, kind)


def test_per_machine_msi(tmp_path: Path) -> None:
    msi, _, _ = direct_build(tmp_path / "b", scope="per-machine", desktop=False)
    properties = {r["Property"]: r["Value"] for r in msi_kit.table(msi, "Property", tmp_path)}
    assert properties["ALLUSERS"] == "1"
    directories = {r["Directory"]: r for r in msi_kit.table(msi, "Directory", tmp_path)}
    assert directories["INSTALLDIR"]["Directory_Parent"] == "ProgramFiles64Folder"
    components = msi_kit.table(msi, "Component", tmp_path)
    files = {r["File"]: r for r in msi_kit.table(msi, "File", tmp_path)}
    keyed = [c for c in components if c["KeyPath"]]
    assert keyed and all(c["KeyPath"] in files and files[c["KeyPath"]]["Component_"] == c["Component"]
                         for c in keyed)  # one file per component, the file is the key path
    assert all(int(c["Attributes"]) & 256 for c in components)
    # Only the chosen install folder, remembered in HKLM for maintenance and upgrades (msi/dialogs.py).
    assert [(r["Root"], r["Name"], r["Value"]) for r in msi_kit.table(msi, "Registry", tmp_path)] == [
        ("2", "InstallDir", "[INSTALLDIR]")]
    removed = {r["DirProperty"] for r in msi_kit.table(msi, "RemoveFile", tmp_path)}
    assert removed == set(directories) - {"TARGETDIR", "ProgramFiles64Folder", "ProgramMenuFolder"}
    (shortcut,) = msi_kit.table(msi, "Shortcut", tmp_path)
    assert shortcut["Component_"] == files["f_hello.exe"]["Component_"]
    assert msi_kit.summary(msi)["Source"].startswith("2 ")  # compressed; elevation allowed


def test_rebuilds_give_identical_tables(tmp_path: Path) -> None:
    first, _, _ = direct_build(tmp_path / "one")
    second, _, _ = direct_build(tmp_path / "two")
    names = subprocess.run(["msiinfo", "tables", str(first)], capture_output=True, text=True).stdout.split()
    assert "File" in names and "Shortcut" in names
    for name in names:
        if name == "_SummaryInformation":
            continue
        (tmp_path / "e1").mkdir(exist_ok=True)
        (tmp_path / "e2").mkdir(exist_ok=True)
        assert msi_kit.table(first, name, tmp_path / "e1") == msi_kit.table(second, name, tmp_path / "e2"), name
    assert msi_kit.files_below(tmp_path / "e1") == msi_kit.files_below(tmp_path / "e2")  # streams (the icon)
    product_codes = {msi_kit.summary(m)["Revision number (UUID)"] for m in (first, second)}
    assert len(product_codes) == 2  # wixl always draws a new package code (documented in docs/msi.md)


def test_cli_build_and_inspect(tmp_path: Path) -> None:
    msi_kit.write_app(tmp_path)
    archive = msi_kit.fake_runtime_archive(tmp_path)
    wheelhouse = tmp_path / "wheels"
    msi_kit.make_wheel(wheelhouse)
    project = msi_kit.write_project(tmp_path, archive, wheelhouse=wheelhouse, desktop_shortcut=True)
    msi = msi_kit.built_msi(project, tmp_path / "cache")
    assert msi == tmp_path / "dist" / "hello-1.0-windows-x86_64.msi"
    installed = msi_kit.extract(msi, tmp_path / "x")
    assert {p.name for p in (installed / "packages" / "kilnfixture").iterdir()} & {"__init__.py", "__init__.pyc"}
    assert (installed / "packages" / "kilnfixture-1.0.dist-info" / "METADATA").is_file()
    assert (installed / "kiln_boot.py").read_text() == boot_script(EntrySection(module="hello:main"))
    assert (installed / "app" / msi_kit.DATA_FILE).read_text(encoding="utf-8") == "données ☕\n"
    assert (installed / "runtime" / "python311._pth").read_bytes().startswith(b".\r\nDLLs\r\nLib\r\n")  # no zip here
    launcher_template = (msi_kit.REPO / "resources" / "launchers" / "windows" / "launcher-console.exe").read_bytes()
    assert (installed / "runtime" / "python.exe").read_bytes() == launcher_template  # the archive's bytes
    assert msi_kit.pymsi_files(msi) == msi_kit.files_below(installed)
    result = subprocess.run([sys.executable, "-m", "kiln", "inspect", str(msi)], cwd=msi_kit.REPO, capture_output=True,
                            text=True, check=True)
    text = result.stdout
    for expected in (TITLE, "1.0.0", PUBLISHER, "{" + msi_kit.UPGRADE_CODE + "}", "ProductCode:", msi_kit.HOMEPAGE,
                     f"{msi_kit.FOLDER_NAME} (Start menu)", f"{msi_kit.FOLDER_NAME} (desktop)", "per-user",
                     f"files:        {len(msi_kit.files_below(installed))},", "signed:       no"):
        assert expected in text, text


def test_the_install_folder_holds_the_sbom_of_its_files(tmp_path: Path) -> None:
    msi_kit.write_app(tmp_path)
    archive = msi_kit.fake_runtime_archive(tmp_path)
    msi_kit.make_wheel(tmp_path / "wheels")
    project = msi_kit.write_project(tmp_path, archive, wheelhouse=tmp_path / "wheels")
    msi = msi_kit.built_msi(project, tmp_path / "cache")
    installed = msi_kit.extract(msi, tmp_path / "x")  # msiextract; pymsi, another reader, agrees below
    files = sbom_kit.read_tree(installed)
    assert msi_kit.pymsi_files(msi)["sbom.cdx.json"] == files["sbom.cdx.json"]
    report = json.loads((tmp_path / "dist" / "hello-report.json").read_text(encoding="utf-8"))
    document = sbom_kit.check(msi.with_name(msi.name + ".cdx.json"), files["sbom.cdx.json"], files,
                              ["runtime", "packages", "app", "kiln_boot.py"],
                              report["dependencies"]["windows-x86_64"]["installed"])
    refs = sbom_kit.by_ref(document)
    assert refs["dist:kilnfixture"]["purl"] == "pkg:pypi/kilnfixture@1.0?file_name=kilnfixture-1.0-py3-none-any.whl"
    runtime = refs["runtime"]
    assert runtime["hashes"][0]["content"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert "runtime/python311._pth" in {c["name"] for c in runtime["components"]}  # the kind's file, the runtime's
    launcher = refs["kiln-launcher"]  # the branded launcher: its own hash, made from the prebuilt one
    assert [c["name"] for c in launcher["components"]] == ["hello.exe"]
    template = pe_resources.launcher_template("console")  # the shipped one, or CI's fresh build of it
    assert launcher["pedigree"]["ancestors"][0]["hashes"][0]["content"] == hashlib.sha256(
        template.read_bytes()).hexdigest()


def test_describe_refuses_other_files(tmp_path: Path) -> None:
    fake = tmp_path / "fake.msi"
    fake.write_bytes(b"not an msi" * 100)
    with pytest.raises(KilnError, match="not a readable Windows Installer package"):
        describe(fake)


def test_missing_wixl_is_a_one_line_error(tmp_path: Path) -> None:
    msi_kit.write_app(tmp_path)
    project = msi_kit.write_project(tmp_path, msi_kit.fake_runtime_archive(tmp_path))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("msibuild", "msiinfo"):
        os.symlink(shutil.which(tool) or tool, bin_dir / tool)
    code, events = msi_kit.build(project, tmp_path / "cache", env={"PATH": str(bin_dir)})
    (error,) = [e for e in events if e["kind"] == "error"]
    assert code != 0
    assert error["message"] == "'wixl' is not installed (needed for this build)"
    assert error["data"]["hint"] == "install it with: sudo apt-get install wixl"


def test_unmappable_version_fails_the_build(tmp_path: Path) -> None:
    msi_kit.write_app(tmp_path)
    project = msi_kit.write_project(tmp_path, msi_kit.fake_runtime_archive(tmp_path), version="1.0rc1")
    code, events = msi_kit.build(project, tmp_path / "cache")
    (error,) = [e for e in events if e["kind"] == "error"]
    assert code != 0 and "app.version '1.0rc1' cannot be an MSI version" in error["message"]
    assert not (tmp_path / "dist" / "hello-1.0rc1-windows-x86_64.msi").exists()


def test_ascii_strings_with_xml_specials_pass_through_wixl(tmp_path: Path) -> None:
    """Plain ASCII goes through the XML (escaped by ElementTree) and wixl, not through placeholders."""
    title, publisher = 'A & <B> "C" \'D\' [E] {F} %G%', "P & <Q>"
    msi, _, _ = direct_build(tmp_path / "b", title=title, publisher=publisher)
    properties = {r["Property"]: r["Value"] for r in msi_kit.table(msi, "Property", tmp_path)}
    assert properties["ProductName"] == title and properties["Manufacturer"] == publisher
    info = msi_kit.summary(msi)
    assert info["Subject"] == title and info["Author"] == publisher
    (shortcut, _) = msi_kit.table(msi, "Shortcut", tmp_path)
    assert long_name(shortcut["Name"]) == "A & _B_ _C_ 'D' [E] {F} %G%"


def test_the_exe_and_its_shortcuts_are_the_apps_command(tmp_path: Path) -> None:
    msi, _, _ = direct_build(tmp_path / "b", command="hello-cli")  # the project's own script name
    files = {long_name(r["FileName"]): r["File"] for r in msi_kit.table(msi, "File", tmp_path)}
    assert "hello-cli.exe" in files and "hello.exe" not in files
    shortcuts = msi_kit.table(msi, "Shortcut", tmp_path)
    assert {r["Target"] for r in shortcuts} == {f"[#{files['hello-cli.exe']}]"}
    assert {long_name(r["Name"]) for r in shortcuts} == {msi_kit.FOLDER_NAME}  # shortcuts keep the app's title
    installed = tmp_path / "x"
    subprocess.run(["msiextract", "-C", str(installed), str(msi)], check=True, capture_output=True)
    (exe,) = installed.rglob("hello-cli.exe")
    pe = pefile.PE(str(exe))
    strings = {k.decode(): v.decode() for info in pe.FileInfo[0] if hasattr(info, "StringTable")
               for table in info.StringTable for k, v in table.entries.items()}
    assert strings["OriginalFilename"] == "hello-cli.exe" and strings["InternalName"] == "hello-cli"
