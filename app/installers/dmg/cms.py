"""What a code signature's CMS (PKCS#7 SignedData) blob says: the signing certificate and the digest it signs.

A small BER/DER reader, enough for `kiln inspect` and for checking Kiln's own signatures: the signer's common name and
team (organisational unit), whether its certificate is a Developer ID Application certificate (Apple's extension
1.2.840.113635.100.6.1.13), and the messageDigest signed attribute (the hash of the CodeDirectory). It does not check
the RSA/ECDSA signature or the chain to Apple's root: Gatekeeper does that on the Mac.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_COMMON_NAME = "2.5.4.3"
OID_ORGANIZATIONAL_UNIT = "2.5.4.11"
OID_DEVELOPER_ID_APPLICATION = "1.2.840.113635.100.6.1.13"
_MAX_DEPTH = 32


class CmsError(ValueError):
    """The blob is not a CMS SignedData structure Kiln can read."""


@dataclass
class Node:
    """One BER element: its tag byte, its content (primitive) or children (constructed), and its whole encoding."""

    tag: int
    content: bytes
    raw: bytes
    children: list[Node] = field(default_factory=list)

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)


@dataclass(frozen=True)
class CmsSummary:
    common_name: str
    team_id: str
    developer_id: bool
    message_digest: bytes


def parse(data: bytes, at: int = 0, depth: int = 0) -> tuple[Node, int]:
    """The element starting at `at` and the offset after it (BER: definite and indefinite lengths)."""
    if depth > _MAX_DEPTH or at + 2 > len(data):
        raise CmsError("truncated or too deeply nested")
    tag = data[at]
    if tag & 0x1F == 0x1F:
        raise CmsError("multi-byte tags are not used by CMS")
    first, at = data[at + 1], at + 2
    start = at - 2
    if first == 0x80:  # indefinite length: children up to an end-of-contents marker
        if not tag & 0x20:
            raise CmsError("an indefinite length on a primitive element")
        children = []
        while data[at:at + 2] != b"\0\0":
            child, at = parse(data, at, depth + 1)
            children.append(child)
        return Node(tag, b"".join(c.raw for c in children), data[start:at + 2], children), at + 2
    if first & 0x80:
        count = first & 0x7F
        if count > 4 or at + count > len(data):
            raise CmsError("a bad length")
        length, at = int.from_bytes(data[at:at + count], "big"), at + count
    else:
        length = first
    end = at + length
    if end > len(data):
        raise CmsError("an element runs past the end")
    node = Node(tag, data[at:end], data[start:end])
    if node.constructed:
        inner = at
        while inner < end:
            child, inner = parse(data, inner, depth + 1)
            node.children.append(child)
    return node, end


def oid(node: Node) -> str:
    if node.tag != 0x06 or not node.content:
        raise CmsError("an object identifier was expected")
    values, current = [], 0
    for byte in node.content:
        current = current << 7 | byte & 0x7F
        if not byte & 0x80:
            values.append(current)
            current = 0
    head = values[0]
    first = [min(head // 40, 2), head - 40 * min(head // 40, 2)]
    return ".".join(str(v) for v in [*first, *values[1:]])


def _name_field(name: Node, wanted: str) -> str:
    for rdn in name.children:
        for pair in rdn.children:
            if len(pair.children) == 2 and oid(pair.children[0]) == wanted:
                return pair.children[1].content.decode("utf-8", errors="replace")
    return ""


def _tbs_fields(certificate: Node) -> tuple[Node, Node, Node, list[str]]:
    """(serial, issuer, subject, extension OIDs) of a certificate."""
    tbs = certificate.children[0].children
    if tbs and tbs[0].tag == 0xA0:  # [0] version
        tbs = tbs[1:]
    serial, issuer, subject = tbs[0], tbs[2], tbs[4]
    extensions: list[str] = []
    for item in tbs[6:]:
        if item.tag == 0xA3 and item.children:
            extensions += [oid(ext.children[0]) for ext in item.children[0].children if ext.children]
    return serial, issuer, subject, extensions


def cms_summary(blob: bytes) -> CmsSummary:
    """The signer's certificate and the signed messageDigest of a code signature's CMS blob."""
    try:
        info, _ = parse(blob)
        if len(info.children) < 2 or oid(info.children[0]) != OID_SIGNED_DATA:
            raise CmsError("not a SignedData")
        signed = info.children[1].children[0].children
        certificates = next((n.children for n in signed if n.tag == 0xA0), [])
        signer = signed[-1].children[0].children  # signerInfos is the last field; the first signer
        sid = signer[1]
        digest = b""
        for item in signer:
            if item.tag == 0xA0:  # signedAttrs
                for attribute in item.children:
                    if oid(attribute.children[0]) == OID_MESSAGE_DIGEST:
                        digest = attribute.children[1].children[0].content
        common_name, team, developer_id = "", "", False
        for certificate in certificates:
            serial, issuer, subject, extensions = _tbs_fields(certificate)
            if sid.tag == 0x30 and [c.raw for c in sid.children] != [issuer.raw, serial.raw]:
                continue
            common_name = _name_field(subject, OID_COMMON_NAME)
            team = _name_field(subject, OID_ORGANIZATIONAL_UNIT)
            developer_id = OID_DEVELOPER_ID_APPLICATION in extensions
            break
    except (IndexError, CmsError) as e:
        raise CmsError(f"unreadable CMS signature ({e})") from None
    return CmsSummary(common_name, team, developer_id, digest)
