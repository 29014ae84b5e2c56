"""A cached runtime is taken only when it proves to be what its marker says (kiln.runtimes.cache.proof_problem): one
whose files were replaced, or another runtime's folder copied over it, is discarded and made again, with a notice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from kiln.runtimes import cache
from kiln.runtimes.archive import ArchiveRuntimeProvider
from kiln.runtimes.base import Runtime
from kiln.runtimes.downloaded import DownloadedRuntimeProvider
from kiln.support.targets import TARGETS

TARGET = TARGETS["macos-arm64"]


def _noop(fraction: float, message: str) -> None:
    pass


def _provide(archive: Path, cache_dir: Path) -> Runtime:
    return ArchiveRuntimeProvider(archive).provide(TARGET, "3.12", cache_dir, _noop)


def _archive(tmp_path: Path, fake_pbs: Any, version: str) -> Path:
    """A runtime archive of `version` whose stdlib says which one it is (version.txt: pruning keeps it)."""
    path = tmp_path / f"cpython-{version}+20241016-aarch64-apple-darwin-install_only.tar.gz"
    layout = {**fake_pbs.layout(TARGET, version), "python/lib/python3.12/version.txt": (version.encode(), 0o644)}
    path.write_bytes(fake_pbs.archive(layout))
    return path


def _version_in(runtime: Runtime) -> str:
    return (runtime.root / "lib/python3.12/version.txt").read_text(encoding="utf-8")


def test_a_runtime_whose_files_were_replaced_is_made_again(tmp_path: Path, fake_pbs: Any) -> None:
    mine, other = _archive(tmp_path, fake_pbs, "3.12.7"), _archive(tmp_path, fake_pbs, "3.12.5")
    runtime, theirs = _provide(mine, tmp_path / "cache"), _provide(other, tmp_path / "cache")
    shutil.rmtree(runtime.root)
    shutil.copytree(theirs.root, runtime.root, symlinks=True)  # the other runtime's files, this one's marker
    again = _provide(mine, tmp_path / "cache")
    assert not again.reused and again.root == runtime.root and _version_in(again) == "3.12.7"
    assert again.warnings == (
        "the cached Python 3.12.7 for macos-arm64 (3.12.7-20241016) was not this build's (its files are not the ones "
        "its record describes (changed or replaced)): discarded, making it again",)
    third = _provide(mine, tmp_path / "cache")
    assert third.reused and third.warnings == ()


def test_another_runtime_folder_copied_over_this_one_is_replaced(tmp_path: Path, fake_pbs: Any) -> None:
    mine, other = _archive(tmp_path, fake_pbs, "3.12.7"), _archive(tmp_path, fake_pbs, "3.12.5")
    runtime, theirs = _provide(mine, tmp_path / "cache"), _provide(other, tmp_path / "cache")
    shutil.rmtree(runtime.root.parent)
    shutil.copytree(theirs.root.parent, runtime.root.parent, symlinks=True)  # marker and files: whole, but not here
    # Not listed where it lies (its marker names another folder), so never taken for the runtime it claims to be.
    assert [c.path.name for c in cache.list_cached(tmp_path / "cache")] == ["3.12.5-20241016"]
    assert _provide(other, tmp_path / "cache").root == theirs.root
    again = _provide(mine, tmp_path / "cache")
    assert not again.reused and again.root == runtime.root and _version_in(again) == "3.12.7"
    assert again.warnings == (
        "the cached Python runtime in macos-arm64/3.12.7-20241016 was not this build's (its record is of Python "
        "3.12.5 (20241016) for macos-arm64, filed under macos-arm64/3.12.7-20241016): discarded, replacing it",)


def test_a_downloaded_runtime_whose_files_changed_is_downloaded_again(serve_runtime: Any, mirror: Any,
                                                                       tmp_path: Path) -> None:
    serve_runtime("windows-x86_64")
    provider = DownloadedRuntimeProvider()
    runtime = provider.provide(TARGETS["windows-x86_64"], "3.12", tmp_path / "cache", _noop)
    (runtime.root / "Lib" / "os.py").write_text("# not the os module any more\n", encoding="utf-8")
    again = provider.provide(TARGETS["windows-x86_64"], "3.12", tmp_path / "cache", _noop)
    assert not again.reused and (again.root / "Lib" / "os.py").read_text(encoding="utf-8") == "# os\n"
    (warning,) = again.warnings
    assert warning.endswith("(its files are not the ones its record describes (changed or replaced)): discarded, "
                            "making it again")
    assert len(mirror.hits) == 2


def test_a_marker_from_before_digests_gets_one(tmp_path: Path, fake_pbs: Any) -> None:
    """Runtimes an earlier Kiln cached (perhaps added by hand, offline) stay usable: their marker gets the digest
    the first time a build takes them, and from then on they are checked like any other."""
    mine = _archive(tmp_path, fake_pbs, "3.12.7")
    runtime = _provide(mine, tmp_path / "cache")
    marker = runtime.root.parent / cache.MARKER
    data = json.loads(marker.read_text(encoding="utf-8"))
    tree = data.pop("tree")
    marker.write_text(json.dumps({**data, "marker_version": 1}), encoding="utf-8")
    again = _provide(mine, tmp_path / "cache")
    assert again.reused and again.warnings == ()
    assert json.loads(marker.read_text(encoding="utf-8"))["tree"] == tree
    (runtime.root / "lib" / "python3.12" / "os.py").write_text("# changed\n", encoding="utf-8")
    assert not _provide(mine, tmp_path / "cache").reused
