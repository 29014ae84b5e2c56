"""The .wxs Kiln writes: version mapping, Ids, GUIDs, per-user/per-machine layout, escaping, refused names."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kiln.installers.msi.version import calendar_note, msi_product_version
from kiln.installers.msi.wxs import (
    ICON_ID,
    KEYPATH_REGISTRY_KEY,
    WIX_NAMESPACE,
    ProductInfo,
    Scope,
    _Ids,
    _next_version,
    build_wxs,
    guid,
    scan_payload,
)
from kiln.support.errors import KilnError

UPGRADE = "6F1E0C7A-8F43-4E2B-9C1D-1A2B3C4D5E6F"
WIX_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,71}\Z")
NS = {"w": WIX_NAMESPACE}


@pytest.mark.parametrize(("version", "expected"), [
    ("1", "1.0.0"), ("1.2", "1.2.0"), ("1.2.3", "1.2.3"), ("1.2.3.0", "1.2.3"), ("0.1.0", "0.1.0"),
    ("255.255.65535", "255.255.65535"), ("01.002.3", "1.2.3"),
    ("2024.1.0", "24.1.0"), ("2026.11.23", "26.11.23"), ("2255.12.31", "255.12.31"),  # calendar: the year less 2000
])
def test_versions_that_map(version: str, expected: str) -> None:
    assert msi_product_version(version) == expected
    assert (calendar_note(version) is not None) == (int(version.split(".")[0]) >= 2000)


def test_a_calendar_version_is_said_in_words() -> None:
    assert calendar_note("2026.11.23") == ("app.version 2026.11.23 is a calendar version: the MSI's version is "
                                           "26.11.23 (the year less 2000), which Windows orders as the dates are")


@pytest.mark.parametrize(("version", "reason"), [
    ("1.2.3.4", "fourth number"), ("1.0rc1", "pre-release"), ("1.0a1", "pre-release"), ("1.0.dev3", "dev"),
    ("1.0.post1", "post-release"), ("1.0+local", "local version"), ("1!2.0", "epoch"),
    ("256.0", "major number 256"), ("2256.1.0", "calendar"), ("1999.1", "calendar"), ("1.256", "minor number 256"),
    ("1.0.65536", "build number 65536"), ("x.y", "not a version like 1.0"),
])
def test_versions_refused_name_app_version_and_what_is_allowed(version: str, reason: str) -> None:
    with pytest.raises(KilnError) as caught:
        msi_product_version(version)
    text = str(caught.value)
    assert f"app.version '{version}'" in text
    assert reason in text
    assert "major (0-255), minor (0-255), build (0-65535)" in text


def test_ids_are_valid_deterministic_and_unique() -> None:
    paths = ["kiln_boot.py", "runtime/Lib/os.py", "a-b/c d.py", "a_b/c_d.py", "données/café.txt",
             "x" * 200 + "/deep.py", "9starts-with-digit.py", "a/b", "a_b"]
    first, second = _Ids(), _Ids()
    made = [first.make("f_", p) for p in paths]
    assert made == [second.make("f_", p) for p in paths]
    assert len(set(made)) == len(made)
    assert all(WIX_ID.match(i) for i in made), made
    assert made[0] == "f_kiln_boot.py" and made[1] == "f_runtime_Lib_os.py"  # readable when possible
    assert made[-1] != "f_a_b"  # 'a/b' took the readable form first; 'a_b' gets the hashed one


def test_guids_come_from_the_upgrade_code_and_the_path() -> None:
    assert guid(UPGRADE, "file:x") == guid(UPGRADE, "file:x")
    assert guid(UPGRADE, "file:x") != guid(UPGRADE, "file:y")
    assert guid(UPGRADE, "file:x") != guid("11111111-2222-3333-4444-555555555555", "file:x")
    assert re.fullmatch(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", guid(UPGRADE, "file:x"))


@pytest.mark.parametrize("bad", ["a:b.txt", "con.py", "trailing.", "tab\there", 'q"uote'])
def test_payload_names_windows_cannot_create_are_refused(tmp_path: Path, bad: str) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / bad).write_text("x")
    with pytest.raises(KilnError, match="cannot put 'app/"):
        scan_payload(tmp_path)


def test_names_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    (tmp_path / "Data.txt").write_text("x")
    (tmp_path / "data.txt").write_text("y")
    with pytest.raises(KilnError, match="ignore case"):
        scan_payload(tmp_path)


def make_payload(root: Path) -> Path:
    payload = root / "payload"
    for relative in ("hello.exe", "kiln_boot.py", "runtime/python311.dll", "runtime/Lib/os.py", "app/données/é.txt",
                     "app/$(env.X)$.txt"):
        (payload / relative).parent.mkdir(parents=True, exist_ok=True)
        (payload / relative).write_bytes(relative.encode())
    (payload / "runtime" / "DLLs").mkdir()  # empty folder
    (payload / "packages").mkdir()
    (root / "app.ico").write_bytes(b"\0\0\1\0")
    return payload


def info(root: Path, scope: Scope, **changes: object) -> ProductInfo:
    values: dict[str, object] = dict(
        title='T & <x> "y" 日本 $(env.HOME)', manufacturer="M & Łtd $", version="1.2.0", upgrade_code=UPGRADE,
        description="D <&> ü", homepage="https://e.org/?a=1&b=2", scope=scope, exe_name="hello.exe",
        icon=root / "app.ico", start_menu_shortcut=True, desktop_shortcut=True, folder_name="T & _x_",
    )
    values.update(changes)
    return ProductInfo(**values)  # type: ignore[arg-type]


def parse(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)


def test_per_user_layout(tmp_path: Path) -> None:
    payload = make_payload(tmp_path)
    wxs = build_wxs(info(tmp_path, "per-user"), payload, tmp_path)
    root = parse(wxs.xml)
    product = root.find("w:Product", NS)
    assert product is not None
    assert product.get("UpgradeCode") == UPGRADE and product.get("Codepage") == "65001"
    package = product.find("w:Package", NS)
    assert package is not None and package.get("InstallScope") == "perUser"
    assert product.find("w:Property[@Id='ALLUSERS']", NS) is None  # no elevation, no per-machine
    install = root.find(".//w:Directory[@Id='LocalAppDataFolder']/w:Directory[@Name='Programs']"
                        "/w:Directory[@Id='INSTALLDIR']", NS)
    assert install is not None
    components = root.findall(".//w:Component", NS)
    directories = {d.get("Id") for d in root.findall(".//w:Directory", NS) if d.get("Name")} - {"TARGETDIR"}
    assert len(components) == len(directories)  # one component per folder (d_Programs included)
    for component in components:
        assert component.get("Win64") == "yes"
        assert WIX_ID.match(component.get("Id", ""))
        keys = [e for e in component if e.get("KeyPath") == "yes"]
        assert [(k.tag, k.get("Root"), k.get("Key")) for k in keys] == [
            (f"{{{WIX_NAMESPACE}}}RegistryValue", "HKCU", KEYPATH_REGISTRY_KEY)]
        assert component.find("w:RemoveFolder", NS) is not None
    # Component groups live in a Fragment (wixl requires it) and carry their folder.
    groups = root.findall("w:Fragment/w:ComponentGroup[@Directory]", NS)
    assert {g.get("Directory") for g in groups} == directories
    # Empty folders are created explicitly.
    empty = {g.get("Directory") for g in groups if g.find("w:Component/w:CreateFolder", NS) is not None}
    assert empty == {"d_runtime_DLLs", "d_packages"}
    # Shortcuts: in the launcher's component, pointing at it, with the icon.
    shortcuts = root.findall(".//w:Shortcut", NS)
    assert {s.get("Directory") for s in shortcuts} == {"ProgramMenuFolder", "DesktopFolder"}
    for shortcut in shortcuts:
        assert shortcut.get("Target") == "[#f_hello.exe]" and shortcut.get("Icon") == ICON_ID


def test_per_machine_layout(tmp_path: Path) -> None:
    payload = make_payload(tmp_path)
    root = parse(build_wxs(info(tmp_path, "per-machine", desktop_shortcut=False), payload, tmp_path).xml)
    package = root.find("w:Product/w:Package", NS)
    assert package is not None and package.get("InstallScope") == "perMachine"
    assert root.find(".//w:Directory[@Id='ProgramFiles64Folder']/w:Directory[@Id='INSTALLDIR']", NS) is not None
    assert root.find(".//w:RegistryValue", NS) is None
    file_components = [c for c in root.findall(".//w:Component", NS) if c.find("w:File", NS) is not None]
    assert len(file_components) == 6
    for component in file_components:
        (file,) = component.findall("w:File", NS)
        assert file.get("KeyPath") == "yes" and component.get("Win64") == "yes"
    (shortcut,) = root.findall(".//w:Shortcut", NS)
    assert shortcut.get("Directory") == "ProgramMenuFolder"
    # Each folder has a component of its own (no key path: the folder) that removes it at uninstall.
    groups = root.findall("w:Fragment/w:ComponentGroup[@Directory]", NS)
    directories = {d.get("Id") for d in root.findall(".//w:Directory", NS) if d.get("Name")} - {"TARGETDIR"}
    assert {g.get("Directory") for g in groups} == directories
    for group in groups:
        (folder,) = [c for c in group if c.find("w:RemoveFolder", NS) is not None]
        assert folder.find("w:File", NS) is None and folder.get("Win64") == "yes"


def test_guids_stable_across_builds_and_scopes_differ(tmp_path: Path) -> None:
    payload = make_payload(tmp_path)
    first = build_wxs(info(tmp_path, "per-user"), payload, tmp_path).xml
    assert build_wxs(info(tmp_path, "per-user"), payload, tmp_path).xml == first
    per_machine = build_wxs(info(tmp_path, "per-machine"), payload, tmp_path).xml
    guids = lambda xml: {c.get("Guid") for c in parse(xml).findall(".//w:Component", NS)}  # noqa: E731
    assert not guids(first) & guids(per_machine)
    user, machine, newer = info(tmp_path, "per-user"), info(tmp_path, "per-machine"), info(tmp_path, "per-user",
                                                                                           version="1.3.0")
    codes = {user.product_code("a"), newer.product_code("a"), user.product_code("b"), machine.product_code("a")}
    assert len(codes) == 4 and user.product_code("a") == info(tmp_path, "per-user").product_code("a")
    (payload / "app" / "new.txt").write_text("changed")  # a rebuild with other content is another product
    changed = build_wxs(info(tmp_path, "per-user"), payload, tmp_path)
    assert changed.product_code != build_wxs(info(tmp_path, "per-machine"), payload, tmp_path).product_code
    product = parse(first).find("w:Product", NS)
    assert product is not None and product.get("Id") != changed.product_code


def test_hostile_strings_are_escaped_and_non_ascii_becomes_tokens(tmp_path: Path) -> None:
    payload = make_payload(tmp_path)
    wxs = build_wxs(info(tmp_path, "per-user"), payload, tmp_path)
    root = parse(wxs.xml)  # well-formed despite & < > " in every user string
    product = root.find("w:Product", NS)
    assert product is not None
    assert wxs.texts[product.get("Name", "")] == 'T & <x> "y" 日本 $(env.HOME)'
    assert wxs.texts[product.get("Manufacturer", "")] == "M & Łtd $"
    assert b"$" not in wxs.xml  # wixl's preprocessor would expand or drop it
    url = root.find(".//w:Property[@Id='ARPURLINFOABOUT']", NS)
    assert url is not None and url.get("Value") == "https://e.org/?a=1&b=2"  # ASCII: kept as is
    assert b"https://e.org/?a=1&amp;b=2" in wxs.xml
    names = {f.get("Name") for f in root.findall(".//w:File", NS)}
    assert {wxs.texts[n].split("|")[1] for n in names if n in wxs.texts} == {"é.txt", "$(env.X)$.txt"}
    package = f"{{{WIX_NAMESPACE}}}Package"  # summary information may hold UTF-8; File/@Source is not stored
    assert all(value.isascii() for element in root.iter() if element.tag != package
               for key, value in element.attrib.items() if key != "Source")
    assert wxs.file_count == 6 and wxs.longest_path == "runtime/python311.dll"


SHORT_NAME = re.compile(r"[^\\?|><:/*\"+,;=\[\]. ]{1,8}(\.[^\\?|><:/*\"+,;=\[\]. ]{1,3})?\Z")


def test_file_and_folder_names_carry_unique_short_names(tmp_path: Path) -> None:
    payload = make_payload(tmp_path)
    for name in ("kiln_boot_copy.py", "KILN_BOOT.PY2", "a.b.c", ".hidden", "long name with spaces.txt"):
        (payload / name).write_text("x")
    wxs = build_wxs(info(tmp_path, "per-machine"), payload, tmp_path)
    root = parse(wxs.xml)
    for folder in [root.find(".//w:Directory[@Id='INSTALLDIR']", NS), *root.findall(".//w:Directory", NS)]:
        assert folder is not None
        shorts = []
        for element in folder:
            if element.tag.endswith("}Directory") and element.get("Name"):
                shorts.append(element.get("Name", ""))
        for group in root.findall(f"w:Fragment/w:ComponentGroup[@Directory='{folder.get('Id')}']", NS):
            shorts += [f.get("Name", "") for f in group.findall("w:Component/w:File", NS)]
        resolved = [wxs.texts.get(name, name) for name in shorts]
        short_parts = [name.split("|")[0].upper() for name in resolved]
        assert len(set(short_parts)) == len(short_parts), resolved
        for name in resolved:
            assert SHORT_NAME.match(name.split("|")[0]) and name.split("|")[0].isascii(), name
            assert ("|" in name) == (not SHORT_NAME.match(name.split("|")[-1]) or not name.isascii()), name
    names = {wxs.texts.get(f.get("Name", ""), f.get("Name")) for f in root.findall(".//w:File", NS)}
    assert "os.py" in names and any(n.endswith("|kiln_boot.py") for n in names)


def test_next_version_bounds_the_same_version_upgrade() -> None:
    assert _next_version("1.2.3") == "1.2.4"
    assert _next_version("1.2.65535") == "1.3.0"
    assert _next_version("1.255.65535") == "2.0.0"
    assert _next_version("255.255.65535") is None
