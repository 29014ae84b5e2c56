"""Cached compressed bases (kiln.support.layers): the key follows what an archive records, and a damaged, partial or
swapped cache entry is made again, with a notice, never used. The builds that use them are in test_rebuilds.py and
test_swapped_cache.py."""

from __future__ import annotations

import json
import os
import shutil
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
    assert base_key("portable", "c", {"level": 10}).digest != base_key("portable", "c", {"level": 3}).digest
    assert base_key("portable", "c", {"level": 10}).digest != base_key("appimage", "c", {"level": 10}).digest
    assert base_key("portable", "c", {"level": 10}).digest != base_key("portable", "d", {"level": 10}).digest
    assert base_key("portable", "c", {"level": 10}) == base_key("portable", "c", {"level": 10})
    # what a record holds after JSON (a tuple is a list there) names the same key
    assert base_key("portable", "c", {"python": (3, 11)}) == base_key("portable", "c", {"python": [3, 11]})


KEY = base_key("portable", "content-1", {"level": 10})


def test_take_base_makes_once_then_reuses_and_remakes_damaged_entries(tmp_path: Path) -> None:
    cache, made, warnings = tmp_path / "cache", [], []

    def make(dest: Path) -> dict[str, int]:
        made.append(dest)
        dest.write_bytes(b"compressed base " * 100)
        return {"tar_length": 1600}

    def take(name: str) -> tuple[bool, dict[str, int]]:
        return take_base(cache, KEY, make, tmp_path / name, warnings.append)

    assert take("a") == (False, {"tar_length": 1600}) and len(made) == 1
    assert take("b") == (True, {"tar_length": 1600}) and len(made) == 1
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() == b"compressed base " * 100
    assert warnings == []
    entry = cache / "bases" / "portable" / KEY.digest
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
        assert len(warnings) == number - 1 and "discarded, compressing it again" in warnings[-1], warnings
    assert [p.name for p in (cache / "bases" / "portable").iterdir() if not p.name.endswith(".lock")] == [KEY.digest]


def test_a_swapped_entry_is_discarded_with_a_notice(tmp_path: Path) -> None:
    """Another project's base *and* its record copied under this key: the record names other inputs, so the key
    computed from it is not the one the entry is filed under."""
    cache, warnings = tmp_path / "cache", []
    other = base_key("portable", "content-of-another-app", {"level": 10})
    take_base(cache, other, lambda dest: dest.write_bytes(b"other app's base") and None, tmp_path / "o",
              warnings.append)
    take_base(cache, KEY, lambda dest: dest.write_bytes(b"this app's base") and None, tmp_path / "t",
              warnings.append)
    bases = cache / "bases" / "portable"
    shutil.rmtree(bases / KEY.digest)
    shutil.copytree(bases / other.digest, bases / KEY.digest)
    reused, _info = take_base(cache, KEY, lambda dest: dest.write_bytes(b"this app's base") and None,
                              tmp_path / "again", warnings.append)
    assert not reused and (tmp_path / "again").read_bytes() == b"this app's base"
    assert warnings == ["the cached compressed base of the portable (runtime and dependencies) was not this build's "
                        "(its record is of another entry, made from other inputs): discarded, compressing it again"]
    record = json.loads((bases / KEY.digest / META).read_text(encoding="utf-8"))
    assert record["key"] == KEY.material
    assert take_base(cache, KEY, lambda dest: None, tmp_path / "third", warnings.append)[0], "the new entry is used"
    assert (tmp_path / "third").read_bytes() == b"this app's base" and len(warnings) == 1
    # A record forged to name this key's inputs, beside the other base, still fails on the file's own digest.
    forged = json.loads((bases / other.digest / META).read_text(encoding="utf-8"))
    forged["key"] = KEY.material
    (bases / KEY.digest / META).write_text(json.dumps(forged), encoding="utf-8")
    assert not take_base(cache, KEY, lambda dest: dest.write_bytes(b"this app's base") and None, tmp_path / "4th",
                         warnings.append)[0]
    assert "its file is not the one its record describes" in warnings[-1]


def test_take_base_without_a_writable_cache_still_makes_the_base(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x", encoding="utf-8")
    reused, info = take_base(blocked, base_key("appimage", "c", {}), lambda dest: dest.write_bytes(b"base") and None,
                             tmp_path / "out", _no_warning)
    assert not reused and info == {} and (tmp_path / "out").read_bytes() == b"base"


def test_only_the_most_recently_used_bases_are_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    keys = [base_key("appimage", f"c{number}", {}) for number in range(MAX_ENTRIES + 2)]
    for key in keys:
        take_base(cache, key, lambda dest: dest.write_bytes(b"base") and None, tmp_path / "o", _no_warning)
    kept = sorted(p.name for p in (cache / "bases" / "appimage").iterdir() if not p.name.startswith("."))
    assert len(kept) == MAX_ENTRIES and keys[-1].digest in kept


def _no_warning(message: str) -> None:
    raise AssertionError(f"unexpected warning: {message}")
