"""AppStream metainfo of the AppImage (`usr/share/metainfo/<id>.metainfo.xml`): what software centres and AppImage
catalogues show about the app, from the project, agreeing with the desktop entry it launches.

Written so `appstreamcli validate --no-net` passes whatever the project says: every text goes through an XML
serializer (`&`, `<` and quotes escaped) after characters XML cannot hold are removed, and what AppStream requires
but the project leaves open is filled in, with a note for the build log (`Metainfo.notes`):
- the component id must be reverse-DNS with three parts and a lowercase domain: app.identifier when it is one, else
  one made from it or from app.name (`local.kiln.<name>`, the same rule as the DMG's bundle id);
- a summary and a description are required: the summary is the first paragraph of app.description, the description
  all of it (a paragraph per blank-line-separated block); without one, the title stands in;
- a release needs a date: $SOURCE_DATE_EPOCH's, else a fixed date (never the build's: same input, same bytes);
- the licence is written only when app.license is an SPDX expression, the homepage only when it is an http(s) URL.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from kiln.installers.appimage.desktop_entry import one_line
from kiln.model.project import AppSection
from kiln.support import epoch
from kiln.support.cyclonedx import spdx_expression

METAINFO_DIR = "usr/share/metainfo"
# XML 1.0's Char production without the C0 controls other than tab and newline (and never U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ID_PART = re.compile(r"[A-Za-z0-9_-]+")
_URL = re.compile(r"https?://[^\s<>\"]+")


@dataclass(frozen=True)
class Metainfo:
    component_id: str
    name: str
    summary: str
    paragraphs: tuple[str, ...]
    desktop_id: str
    """The desktop entry's file name: the launchable."""
    version: str
    date: str
    """The release's date, YYYY-MM-DD."""
    license: str = ""
    homepage: str = ""
    developer: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """What was filled in or left out, and why (warnings for the user)."""

    @property
    def file_name(self) -> str:
        return f"{self.component_id}.metainfo.xml"

    def render(self) -> bytes:
        root = ET.Element("component", type="desktop-application")
        _text(root, "id", self.component_id)
        _text(root, "metadata_license", "CC0-1.0")  # this file's own licence: Kiln wrote it from the project
        if self.license:
            _text(root, "project_license", self.license)
        _text(root, "name", self.name)
        _text(root, "summary", self.summary)
        description = ET.SubElement(root, "description")
        for paragraph in self.paragraphs:
            _text(description, "p", paragraph)
        ET.SubElement(root, "launchable", type="desktop-id").text = self.desktop_id
        if self.homepage:
            ET.SubElement(root, "url", type="homepage").text = self.homepage
        if self.developer:
            _text(root, "developer_name", self.developer)
        releases = ET.SubElement(root, "releases")
        ET.SubElement(releases, "release", version=self.version, date=self.date)
        ET.indent(root, space="  ")
        body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def xml_text(text: str) -> str:
    """`text` without the characters an XML 1.0 document cannot hold (control characters, U+FFFE, U+FFFF)."""
    return _NOT_XML.sub("", text)


def display_text(text: str) -> str:
    """One line for people (a name, a summary), as the metainfo and the desktop entry both write it."""
    return one_line(xml_text(text))


def metainfo(app: AppSection, desktop_id: str, summary: str) -> Metainfo:
    """The metainfo of `app`, launched by the desktop entry `desktop_id` whose Comment is `summary`."""
    notes: list[str] = []
    component_id = appstream_id(app.identifier, app.name)
    if component_id != app.identifier:
        notes.append(f"AppStream component id {component_id}: " + (
            f"app.identifier '{app.identifier}' is not one AppStream accepts (reverse-DNS with three parts and a "
            "lowercase domain)" if app.identifier else "app.identifier is empty")
            + "; set app.identifier, e.g. org.example.myapp")
    name = display_text(app.title)
    paragraphs = tuple(p for p in (display_text(block) for block in re.split(r"\n\s*\n", app.description)) if p)
    if not paragraphs:
        paragraphs = (summary,)
        notes.append("app.description is empty: the AppStream description repeats the app's name; set "
                     "app.description")
    license_ = spdx_expression(app.license)
    if app.license and not license_:
        notes.append(f"app.license '{one_line(app.license)[:60]}' is not an SPDX expression: the AppStream metainfo "
                     "leaves out project_license (use an SPDX identifier such as MIT or GPL-3.0-or-later)")
    homepage = app.homepage.strip()
    if homepage and not _URL.fullmatch(homepage):
        notes.append(f"app.homepage '{one_line(homepage)[:60]}' is not an http(s) URL: the AppStream metainfo "
                     "leaves it out")
        homepage = ""
    date = time.strftime("%Y-%m-%d", time.gmtime(epoch.build_epoch()))
    return Metainfo(component_id, name, summary, paragraphs, desktop_id, app.version, date, license_, homepage,
                    display_text(app.publisher), tuple(notes))


def summary_of(app: AppSection) -> str:
    """The one-line summary: app.description's first paragraph without a closing full stop, or the title."""
    first = re.split(r"\n\s*\n", app.description.strip(), maxsplit=1)[0]
    return display_text(first).removesuffix(".").strip() or display_text(app.title)


def appstream_id(identifier: str, name: str) -> str:
    """`identifier` when AppStream accepts it as a desktop app's id, else the nearest id it does accept: the domain
    lowercased, `.<name>` added to a two-part one; `local.kiln.<name>` without one."""
    parts = [p for p in identifier.split(".") if _ID_PART.fullmatch(p)] if identifier else []
    if len(parts) < 2 or len(parts) != len(identifier.split(".")):
        return f"local.kiln.{_id_part(name)}"
    parts[:2] = [p.lower() for p in parts[:2]]
    if len(parts) == 2:
        parts.append(_id_part(name))
    return ".".join(parts)


def _id_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "app"
