"""CycloneDX 1.6 JSON, written by Kiln itself: components, their files and hashes, licences, purls, and a serial
number derived from the content, so identical builds give identical bytes (there is no timestamp).

Kiln does not depend on cyclonedx-python-lib at run time: the part of the format Kiln writes is small, and owning
the serialisation keeps the bytes reproducible. The tests validate every document with that library's validator
against the official 1.6 schema (docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

SPEC_VERSION = "1.6"
ComponentType = Literal["application", "framework", "library", "platform", "file"]
_SERIAL_NAMESPACE = uuid.UUID("8a3c64d3-6f5e-4b41-a0c4-6e0b5b1f9a7e")
"""uuid5 namespace of Kiln's serial numbers (any fixed UUID: it only has to stay the same)."""
_NAME_MAX = 200
_NOT_IRI = re.compile(r'[\x00-\x20"<>\\^`{|}\x7f]')


@dataclass(frozen=True)
class FileEntry:
    """One file of a component as it ships: its path inside the artifact and its sha256."""

    name: str
    sha256: str


@dataclass(frozen=True)
class ExternalReference:
    type: Literal["distribution", "website", "bom", "vcs"]
    url: str
    sha256: str = ""
    comment: str = ""


@dataclass
class Component:
    """A CycloneDX component; `files` become nested components of type "file"."""

    type: ComponentType
    name: str
    version: str = ""
    bom_ref: str = ""
    description: str = ""
    publisher: str = ""
    purl: str = ""
    cpe: str = ""
    sha256: str = ""
    """Of the file the component was installed from (a wheel, a runtime archive), or of the component itself when
    it is one file; what ships is in `files`."""
    licenses: list[dict[str, Any]] = field(default_factory=list)
    """CycloneDX license choices: see `license_choices`."""
    references: list[ExternalReference] = field(default_factory=list)
    properties: list[tuple[str, str]] = field(default_factory=list)
    ancestors: list[Component] = field(default_factory=list)
    """What this component was made from (pedigree), e.g. Kiln's prebuilt launcher before the app's icon went in."""
    pedigree_notes: str = ""
    components: list[Component] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    """bom-refs of the components this one needs (the document's dependency graph)."""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        if self.bom_ref:
            data["bom-ref"] = self.bom_ref
        if self.publisher:
            data["publisher"] = self.publisher
        data["name"] = self.name
        for key, value in (("version", self.version), ("description", self.description)):
            if value:
                data[key] = value
        if self.sha256:
            data["hashes"] = [_hash(self.sha256)]
        if self.licenses:
            data["licenses"] = self.licenses
        for key, value in (("cpe", self.cpe), ("purl", self.purl)):
            if value:
                data[key] = value
        if self.ancestors or self.pedigree_notes:
            pedigree: dict[str, Any] = {}
            if self.ancestors:
                pedigree["ancestors"] = [a.as_dict() for a in self.ancestors]
            if self.pedigree_notes:
                pedigree["notes"] = self.pedigree_notes
            data["pedigree"] = pedigree
        if self.references:
            data["externalReferences"] = [_reference(r) for r in self.references]
        nested = [c.as_dict() for c in self.components]
        nested += [{"type": "file", "name": f.name, "hashes": [_hash(f.sha256)]} for f in sorted(
            self.files, key=lambda f: f.name)]
        if nested:
            data["components"] = nested
        if self.properties:
            data["properties"] = [{"name": n, "value": v} for n, v in self.properties]
        return data

    def walk(self) -> list[Component]:
        """This component and every component nested in it."""
        return [self, *(c for child in self.components for c in child.walk())]


@dataclass
class Document:
    """One bill of materials: the thing it describes (`subject`), what is inside, and who wrote it."""

    subject: Component
    components: list[Component]
    tool_version: str
    properties: list[tuple[str, str]] = field(default_factory=list)

    def render(self) -> bytes:
        """The JSON bytes; the serial number is a uuid5 of everything else, so equal documents are equal bytes."""
        body: dict[str, Any] = {
            "metadata": {
                "tools": {"components": [{"type": "application", "name": "kiln", "version": self.tool_version}]},
                "component": self.subject.as_dict(),
            },
            "components": [c.as_dict() for c in self.components],
        }
        if self.properties:
            body["metadata"]["properties"] = [{"name": n, "value": v} for n, v in self.properties]
        graph = [c for top in [self.subject, *self.components] for c in top.walk() if c.bom_ref]
        body["dependencies"] = [{"ref": c.bom_ref, "dependsOn": sorted(set(c.depends_on))} for c in graph]
        content = json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")
        serial = uuid.uuid5(_SERIAL_NAMESPACE, hashlib.sha256(content).hexdigest())
        document = {"$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json", "bomFormat": "CycloneDX",
                    "specVersion": SPEC_VERSION, "serialNumber": f"urn:uuid:{serial}", "version": 1, **body}
        return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _hash(sha256: str) -> dict[str, str]:
    return {"alg": "SHA-256", "content": sha256}


def _reference(reference: ExternalReference) -> dict[str, Any]:
    data: dict[str, Any] = {"type": reference.type, "url": iri(reference.url)}
    if reference.sha256:
        data["hashes"] = [_hash(reference.sha256)]
    if reference.comment:
        data["comment"] = reference.comment
    return data


def iri(url: str) -> str:
    """`url` as an IRI reference the schema accepts: the ASCII characters an IRI may not hold (spaces, quotes, `<>`,
    braces, …) percent-encoded, everything else (non-ASCII letters too) kept."""
    return _NOT_IRI.sub(lambda m: f"%{ord(m.group()):02X}", url)


def license_choices(expression: str = "", text: str = "", classifiers: Sequence[str] = ()) -> list[dict[str, Any]]:
    """CycloneDX licences from what a distribution (or a project) declares, most precise first:

    an SPDX expression (Metadata 2.4's License-Expression, or a License field that is one) as `expression`; else
    the License field as a named licence (its first line as the name, all of it as the text when longer); else the
    `License ::` trove classifiers by name. Nothing declared: no licences (never a guess).
    """
    for candidate in (expression, text):
        spdx = spdx_expression(candidate)
        if spdx:
            return [{"expression": spdx}]
    text = "\n".join(line.strip() for line in text.strip().splitlines())  # METADATA indents continuation lines
    if text and text.upper() not in ("UNKNOWN", "NONE"):
        first = text.splitlines()[0].strip()[:_NAME_MAX]
        choice: dict[str, Any] = {"name": first}
        if first != text:
            choice["text"] = {"content": text}
        return [{"license": choice}]
    names = [c.split("::")[-1].strip() for c in classifiers if c.startswith("License ::")]
    return [{"license": {"name": name}} for name in dict.fromkeys(n for n in names if n)]


def spdx_expression(value: str) -> str:
    """`value` as a canonical SPDX licence expression, or "" when it is not one (a licence's name or text)."""
    value = value.strip()
    if not value or "\n" in value:
        return ""
    try:
        return str(canonicalize_license_expression(value))
    except InvalidLicenseExpression:
        return ""


def purl(type_: str, name: str, version: str = "", qualifiers: dict[str, str] | None = None) -> str:
    """A package URL, encoded as packageurl-python encodes it (qualifiers sorted, empty ones left out)."""
    text = f"pkg:{type_}/{quote(name, safe='')}"
    if version:
        text += f"@{quote(version, safe='')}"
    pairs = sorted((k, v) for k, v in (qualifiers or {}).items() if v)
    if pairs:
        text += "?" + "&".join(f"{k}={quote(v, safe=':/')}" for k, v in pairs)
    return text
