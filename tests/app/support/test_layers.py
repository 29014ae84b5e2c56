"""Cached compressed bases (kiln.support.layers): the key follows what an archive records, and a damaged or partial
cache entry is made again, never used. The builds that use them are in test_rebuilds.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kiln.support.layers import BASE, MAX_ENTRIES, META, base_key, take_base, tree_digest


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.pyc").write_bytes(b"compiled")
    (root / "tool").write_bytes(b"#!/bin/sh\n")
    (root / "tool").chmod(0o755)
    (root / "link").symlink_to("tool")
    return root


def test_digest_follows_content_names_modes_and_links_not_times(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    first = tree_digest([("usr/packages", root)])
    os.utime(root / "pkg" / "mod.pyc", (1, 1))
    (root / "pkg" / "mod.pyc").chmod(0o600)  # archives record 0644 for it either way
    assert tree_digest([("usr/packages", root)]) == first
    assert tree_digest([("usr/runtime", root)]) != first, "the prefix is part of every name"
    changes = [
        lambda: (root / "pkg" / "mod.pyc").write_bytes(b"compiled!"),  # a new lock installed other files
        lambda: (root / "tool").chmod(0o644),
        lambda: ((root / "link").unlink(), (root / "link").symlink_to("pkg")),
        lambda: (root / "pkg" / "new.pyc").write_bytes(b""),
        lambda: os.link(root / "tool", root / "second-name"),  # a hard link is recorded as one
    ]
    seen = {first}
    for change in changes:
        change()
        digest = tree_digest([("usr/packages", root)])
        assert digest not in seen
        seen.add(digest)


def test_remembered_parts_are_hashed_once_per_process(tmp_path: Path) -> None:
    root = _tree(tmp_path / "runtime")
    first = tree_digest([("r", root)], remember=[root])
    (root / "pkg" / "mod.pyc").write_bytes(b"changed in place")  # staged parts never change: not noticed
    assert tree_digest([("r", root)], remember=[root]) == first
    assert tree_digest([("r", root)]) != first


def test_key_covers_compressor_settings(tmp_path: Path) -> None:
    assert base_key("portable", "c", {"level": 10}) != base_key("portable", "c", {"level": 3})
    assert base_key("portable", "c", {"level": 10}) != base_key("appimage", "c", {"level": 10})
    assert base_key("portable", "c", {"level": 10}) == base_key("portable", "c", {"level": 10})


def test_take_base_makes_once_then_reuses_and_remakes_damaged_entries(tmp_path: Path) -> None:
    cache, made = tmp_path / "cache", []

    def make(dest: Path) -> dict[str, int]:
        made.append(dest)
        dest.write_bytes(b"compressed base " * 100)
        return {"tar_length": 1600}

    def take(name: str) -> tuple[bool, dict[str, int]]:
        return take_base(cache, "portable", "k1", make, tmp_path / name)

    assert take("a") == (False, {"tar_length": 1600}) and len(made) == 1
    assert take("b") == (True, {"tar_length": 1600}) and len(made) == 1
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() == b"compressed base " * 100
    entry = cache / "bases" / "portable" / "k1"
    damages = [
        lambda: (entry / BASE).write_bytes(b"compressed base " * 50),  # cut short
        lambda: (entry / BASE).write_bytes(b"Compressed base " * 100),  # same size, other bytes
        lambda: (entry / META).unlink(),  # the record never written (killed mid-store)
        lambda: (entry / META).write_text("{", encoding="utf-8"),
        lambda: (entry / BASE).unlink(),
    ]
    for number, damage in enumerate(damages, start=2):
        damage()
        reused, _info = take(f"after-{number}")
        assert not reused and len(made) == number
        assert (tmp_path / f"after-{number}").read_bytes() == b"compressed base " * 100
        assert json.loads((entry / META).read_text(encoding="utf-8"))["info"] == {"tar_length": 1600}
    assert [p.name for p in (cache / "bases" / "portable").iterdir() if not p.name.endswith(".lock")] == ["k1"]


def test_take_base_without_a_writable_cache_still_makes_the_base(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x", encoding="utf-8")
    reused, info = take_base(blocked, "appimage", "k", lambda dest: dest.write_bytes(b"base") and None,
                             tmp_path / "out")
    assert not reused and info == {} and (tmp_path / "out").read_bytes() == b"base"


def test_only_the_most_recently_used_bases_are_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for number in range(MAX_ENTRIES + 2):
        take_base(cache, "appimage", f"k{number}", lambda dest: dest.write_bytes(b"base") and None, tmp_path / "o")
    kept = sorted(p.name for p in (cache / "bases" / "appimage").iterdir() if not p.name.startswith("."))
    assert len(kept) == MAX_ENTRIES and f"k{MAX_ENTRIES + 1}" in kept
