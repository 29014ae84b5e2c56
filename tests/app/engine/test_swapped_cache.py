"""Cache entries copied in from another project are never used (kiln.support.cache_proof): the compressed bases of
the AppImage and the portable and the installed dependencies of another app, each with its own record, put where
this app's entries are filed. The rebuild says so, makes them again, and its artifacts are this app's and run.

The entries of each cache on their own (and the runtime cache) are tested beside their modules: tests/app/support/
test_layers.py, test_installed_cache.py here, tests/runtimes/test_cache_proof.py and test_host.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from kit.appimage import clean_env, listing
from kit.projects import copy_example
from kit.runner import kiln
from kit.testing import require_tools, unpack_portable

from kiln.model.events import Event

pytestmark = pytest.mark.slow
INSTALLERS = [{"kind": "appimage"}, {"kind": "portable"}]
CACHES = ("bases/appimage", "bases/portable", "installed")


def _build(project: Path, cache: Path) -> list[Event]:
    run = kiln("build", project, "--events", "jsonl", env={"KILN_CACHE_DIR": str(cache)}, timeout=1800)
    assert run.returncode == 0, run.output[-3000:]
    return run.events


def _entries(cache: Path) -> dict[str, set[Path]]:
    return {name: {p for p in (cache / name).iterdir() if not p.name.startswith(".")} for name in CACHES}


@pytest.mark.long  # bash .ci/long
def test_another_apps_entries_in_this_apps_place_are_made_again(tmp_path: Path) -> None:
    require_tools("mksquashfs", "unsquashfs", "tar", "zstd")
    cache = tmp_path / "cache"
    mine = copy_example("hello", tmp_path / "mine", installer=INSTALLERS)
    other = copy_example("hello", tmp_path / "other", installer=INSTALLERS,  # hello's code imports rich
                         dependencies={"requirements": ["rich", "mdurl"]},
                         app={"name": "other", "version": "1.0.0", "identifier": "org.example.other"})
    _build(mine, cache)
    own = _entries(cache)
    _build(other, cache)
    for name, entries in _entries(cache).items():
        (theirs,) = entries - own[name]
        (entry,) = own[name]
        shutil.rmtree(entry)
        shutil.copytree(theirs, entry, symlinks=True)  # the other app's entry, its record with it
    cli = mine.parent / "hello" / "cli.py"
    cli.write_text(cli.read_text(encoding="utf-8").replace("def main() -> int:\n",
                                                           "def main() -> int:\n    print('rebuilt')\n", 1),
                   encoding="utf-8")

    events = _build(mine, cache)
    warnings = [e.message for e in events if e.kind == "warning"]
    for what in ("compressed base of the appimage", "compressed base of the portable",
                 "tree of installed dependencies for linux-x86_64"):
        assert any(w.startswith(f"the cached {what}") and "its record is of another entry" in w for w in warnings), (
            what, warnings)
    logs = [e.message for e in events if e.kind == "log"]
    assert not [m for m in logs if "reusing" in m], logs

    dist = mine.parent / "dist"
    names = listing(dist / "hello-1.0.0-linux-x86_64.AppImage")
    assert "org.example.hello.desktop" in names and "hello.png" in names and "usr/packages/rich" in names
    assert not [n for n in names if "other" in n.split("/")[0]], names
    unpacked = tmp_path / "unpacked"
    unpack_portable(dist / "hello-1.0.0-linux-x86_64.tar.zst", unpacked)
    assert sorted(p.name for p in unpacked.iterdir()) == ["hello"] and (unpacked / "hello" / "hello").is_file()
    assert (unpacked / "hello" / "packages" / "rich").is_dir()
    for program in (dist / "hello-1.0.0-linux-x86_64.AppImage", unpacked / "hello" / "hello"):
        ran = subprocess.run([str(program)], capture_output=True, text=True, timeout=300, check=False,
                             env=clean_env(tmp_path, APPIMAGE_EXTRACT_AND_RUN="1"))
        assert ran.returncode == 0 and ran.stdout.splitlines()[0] == "rebuilt", ran.stdout + ran.stderr
