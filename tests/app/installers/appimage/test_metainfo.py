"""The AppImage's AppStream metainfo: valid for `appstreamcli validate --no-net` whatever the project says (XML
specials, control characters, odd identifiers, licences and homepages), read back by an XML parser as the project
said it, and agreeing with the desktop entry; what AppStream needs and the project leaves open is filled and said."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from kit.appimage import Recorder, tiny_staged
from kit.appimage import cat as appimage_cat
from kit.appimage import listing as appimage_listing
from kit.testing import find_tool

from kiln.installers.appimage.desktop_entry import read_group, unescape_text
from kiln.installers.appimage.format import elf_end_offset
from kiln.installers.appimage.installer import AppImageInstaller
from kiln.installers.appimage.metainfo import appstream_id, metainfo, summary_of
from kiln.installers.appimage.options import AppImageOptions
from kiln.kinds.contract import BuildContext
from kiln.model.project import AppSection, Project

HOSTILE = {
    "name": "hostile-app", "identifier": "Org.Example.Hostile-App", "version": "2.0rc1+local.7",
    "display_name": 'Tom\'s "Best" <App> & co\x07 \ufffe\U0001f389 ]]> <!-- -->',
    "description": "First <b>paragraph</b> & more\x1b[31m.\n\nSecond: ]]> &amp; <![CDATA[ x ]]>\n\n\n  third  ",
    "license": "MIT OR Apache-2.0", "homepage": "https://example.org/?a=1&b=2#&amp;", "publisher": "ACME™ & <Søns>",
}


def validate(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_tool("appstreamcli"), "validate", "--no-net", *extra, str(path)], capture_output=True,
                          text=True, timeout=120, check=False)


def written(tmp_path: Path, app: AppSection, desktop: str = "x.desktop") -> tuple[Path, ET.Element]:
    info = metainfo(app, desktop, summary_of(app))
    path = tmp_path / info.file_name
    path.write_bytes(info.render())
    return path, ET.parse(path).getroot()


def test_hostile_project_texts_validate_and_read_back(tmp_path: Path) -> None:
    path, root = written(tmp_path, AppSection(**HOSTILE), "org.example.hostile.desktop")
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert path.name == "org.example.Hostile-App.metainfo.xml"  # the domain lowercased: AppStream insists
    assert root.findtext("id") == "org.example.Hostile-App"
    assert root.findtext("name") == 'Tom\'s "Best" <App> & co \U0001f389 ]]> <!-- -->'
    assert root.findtext("summary") == "First <b>paragraph</b> & more[31m"
    assert [p.text for p in root.iter("p")] == ["First <b>paragraph</b> & more[31m.",
                                                "Second: ]]> &amp; <![CDATA[ x ]]>", "third"]
    assert root.findtext("project_license") == "MIT OR Apache-2.0"
    assert root.findtext("url[@type='homepage']") == HOSTILE["homepage"]
    assert root.findtext("developer_name") == "ACME™ & <Søns>"
    assert root.findtext("launchable[@type='desktop-id']") == "org.example.hostile.desktop"
    assert root.find("releases/release").attrib == {"version": "2.0rc1+local.7", "date": "2000-01-01"}


def test_what_appstream_needs_is_filled_and_said(tmp_path: Path) -> None:
    app = AppSection(name="bare", license="Proprietary, all rights reserved", homepage="example.org")
    path, root = written(tmp_path, app, "bare.desktop")
    assert validate(path).returncode == 0, validate(path).stdout
    assert (root.findtext("id"), root.findtext("name"), root.findtext("summary")) == ("local.kiln.bare", "bare", "bare")
    assert [p.text for p in root.iter("p")] == ["bare"]
    assert root.find("project_license") is None and root.find("url") is None
    notes = " | ".join(metainfo(app, "bare.desktop", "bare").notes)
    for said in ("local.kiln.bare", "app.identifier is empty", "app.description is empty",
                 "not an SPDX expression", "not an http(s) URL"):
        assert said in notes, notes


def test_source_date_epoch_dates_the_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    _, root = written(tmp_path, AppSection(name="dated", identifier="org.example.dated"))
    assert root.find("releases/release").attrib["date"] == "2026-01-01"


@pytest.mark.parametrize(("identifier", "name", "expected"), [
    pytest.param("org.example.hello", "x", "org.example.hello", id="as-it-is"),
    pytest.param("Org.Example.MyApp", "x", "org.example.MyApp", id="domain-lowercased"),
    pytest.param("example.app", "my app", "example.app.my-app", id="two-parts-get-the-name"),
    pytest.param("", "2048", "local.kiln.2048", id="none"),
    pytest.param("", "-.-", "local.kiln.app", id="nothing-usable"),
])
def test_appstream_ids(identifier: str, name: str, expected: str, tmp_path: Path) -> None:
    assert appstream_id(identifier, name) == expected
    path, _ = written(tmp_path, AppSection(name="a", identifier=identifier) if identifier else AppSection(name="a"))
    assert validate(path).returncode == 0, validate(path).stdout


def test_the_appimage_holds_metainfo_that_agrees_with_its_desktop_entry(tmp_path: Path) -> None:
    find_tool("mksquashfs")
    staged = tiny_staged(tmp_path)
    staged.app = AppSection(**HOSTILE)
    installer = AppImageInstaller(AppImageOptions())
    recorder = Recorder()
    ctx = BuildContext(project=Project(app=staged.app, entry=staged.entry), base_dir=tmp_path,
                       work_dir=tmp_path / "work", cache_dir=tmp_path / "cache", reporter=recorder)
    image = tmp_path / "out" / installer.artifact_name(staged)
    installer.build(ctx, staged, image)
    members = set(appimage_listing(image))
    desktop = "Org.Example.Hostile-App.desktop"
    assert {desktop, f"usr/share/applications/{desktop}",
            "usr/share/metainfo/org.example.Hostile-App.metainfo.xml"} <= members
    assert appimage_cat(image, f"usr/share/applications/{desktop}") == appimage_cat(image, desktop)
    assert any("AppStream component id org.example.Hostile-App" in m for m in recorder.messages), recorder.messages
    # appstreamcli validate-tree: the metainfo validates and the desktop entry it launches is where it says.
    tree = tmp_path / "AppDir"
    subprocess.run([find_tool("unsquashfs"), "-q", "-d", str(tree), "-o", str(elf_end_offset(image)), str(image),
                    "usr/share"], check=True, capture_output=True)
    result = subprocess.run([find_tool("appstreamcli"), "validate-tree", "--no-net", str(tree)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    root = ET.parse(tree / "usr/share/metainfo/org.example.Hostile-App.metainfo.xml").getroot()
    entry = read_group((tree / "usr/share/applications" / desktop).read_text(encoding="utf-8"))
    assert root.findtext("launchable") == desktop
    assert unescape_text(entry["Name"]) == root.findtext("name")
    assert unescape_text(entry["Comment"]) == root.findtext("summary")
