"""The payload's digest in the runtime's `.kiln_payload` section, and whether the app may start from a cached copy.

A mounted start decompresses what the app loads through FUSE at every start (hello: about 1.9× the bare interpreter
here, however the payload is laid out). With the start cache on, the runtime, after a mounted run, extracts the
payload in a detached low-priority process into `${XDG_CACHE_HOME:-~/.cache}/kiln-appimage/<name>-<digest>`; later
starts run from that read-only copy like an installed app. The digest (the first 128 bits of the squashfs's sha256,
computed here at build time) names the copy, so the runtime needs no hashing at start, and a changed payload gets a
new folder. Copies no start used for 30 days are removed when another one is made.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kiln.installers.appimage import sections

SECTION = ".kiln_payload"
_CACHE_FLAG = " cache"


def payload_digest(squashfs: Path) -> str:
    """32 hex digits: the first 128 bits of the sha256 of the squashfs payload."""
    digest = hashlib.sha256()
    with squashfs.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:32]


def embed(runtime: bytes, digest: str, cache: bool) -> bytes:
    """The runtime with the payload's digest (and the start cache switch) in its `.kiln_payload` section."""
    text = digest + (_CACHE_FLAG if cache else "")
    return sections.fill(runtime, SECTION, text.encode("ascii"), "payload digest",
                         "report this as a Kiln bug: the digest is 32 characters")


def read(data: bytes) -> tuple[str, bool]:
    """(digest, start cache on) of an AppImage (or runtime) given as its first bytes; ('', False) when unrecorded."""
    text = sections.text(data, SECTION)
    digest, cache = text.removesuffix(_CACHE_FLAG), text.endswith(_CACHE_FLAG)
    return (digest, cache) if len(digest) == 32 else ("", False)
