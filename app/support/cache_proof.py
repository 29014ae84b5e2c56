"""Cache entries that prove they belong to the key they are filed under.

Kiln's cache folder is shared by every Kiln run of a user, and anything that writes there can copy, swap or damage
a folder of it. So an entry is never trusted for where it sits: its record holds the key material (everything the
key is computed from: a content digest, tool versions, the digest of a lock file…) and a digest of what the entry
stores (a file's sha256, a tree's digest). An entry is used only when the key computed again from its record is the
key it is filed under, and what it stores still has the recorded digest; otherwise it is discarded and made again,
and the build says so in one line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

KEY = "key"
"""The record's field holding the key material."""


def canonical(material: Mapping[str, Any]) -> dict[str, Any]:
    """`material` as a record holds it after a JSON round trip (tuples become lists), so that the material a build
    computes and the material read back from a record compare equal and give the same key."""
    return dict(json.loads(json.dumps(material, sort_keys=True)))


def key_of(material: Mapping[str, Any], length: int) -> str:
    """The key of an entry made from `material`: the start of the sha256 of its canonical JSON."""
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:length]


def record_problem(record: object, key: str) -> str | None:
    """Why `record` (an entry's record, as read from JSON) does not show that its entry is the one for `key`, or
    None when the key computed from the record's key material is `key`."""
    material = record.get(KEY) if isinstance(record, dict) else None
    if not isinstance(material, dict):
        return "it has no record of what it was made from"
    if key_of(material, len(key)) != key:
        return "its record is of another entry, made from other inputs"
    return None


def notice(what: str, problem: str, again: str) -> str:
    """The one line a build shows for a discarded entry: `the cached WHAT was not this build's (PROBLEM): discarded,
    AGAIN`."""
    return f"the cached {what} was not this build's ({problem}): discarded, {again}"
