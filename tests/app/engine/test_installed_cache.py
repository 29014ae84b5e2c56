"""The installed-dependencies cache (kiln.engine.installed_cache) links in a tree only when it proves to be its key's:
an entry copied in from another project, a tree whose files changed, or a compiled copy of another entry is
discarded and made again, with a notice. pip runs for real (the package index this machine reaches)."""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path

import pytest

from kiln.engine.installed_cache import Bytecode, install_reusing
from kiln.model.project import DependenciesSection
from kiln.support.targets import TARGETS

pytestmark = pytest.mark.slow  # pip installs for real
TARGET = TARGETS["linux-x86_64"]
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
COMPILE = Bytecode(None, platform.python_version(), 0, False)


class Project:
    """A folder with requirements and its PEP 751 lock, installing into its own bundle with a shared cache."""

    def __init__(self, folder: Path, requirements: list[str], cache: Path) -> None:
        self.folder, self.section, self.cache = folder, DependenciesSection(requirements=requirements), cache
        self.warnings: list[str] = []
        folder.mkdir(parents=True)

    def install(self, compile_with: Bytecode | None = None) -> tuple[bool, set[str]]:
        """(reused, the top-level names the bundle's packages/ holds)."""
        dest = self.folder / "bundle" / "packages"
        shutil.rmtree(dest, ignore_errors=True)
        _result, reused, _compiled = install_reusing(self.section, self.folder, TARGET, PY, dest, self.cache,
                                                     self.folder, lambda: compile_with, warn=self.warnings.append)
        return reused, {p.name for p in dest.iterdir() if not p.name.endswith(".dist-info") and p.name != "bin"}


def _entries(folder: Path) -> set[Path]:
    """The entries of a cache folder (not the lock files beside them)."""
    return {p for p in folder.iterdir() if not p.name.startswith(".")}


def _swap(entry: Path, other: Path) -> None:
    shutil.rmtree(entry)
    shutil.copytree(other, entry, symlinks=True)


def test_an_entry_from_another_project_or_with_changed_files_is_installed_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    mine, other = Project(tmp_path / "mine", ["mdurl"], cache), Project(tmp_path / "other", ["pygments"], cache)
    assert mine.install() == (False, {"mdurl"})
    assert mine.install() == (True, {"mdurl"}) and mine.warnings == []
    (entry,) = _entries(cache / "installed")
    other.install()
    (other_entry,) = _entries(cache / "installed") - {entry}

    _swap(entry, other_entry)  # its tree *and* its record
    assert mine.install() == (False, {"mdurl"})
    assert mine.warnings == ["the cached tree of installed dependencies for linux-x86_64 was not this build's (its "
                             "record is of another entry, made from other inputs): discarded, installing it again"]
    assert mine.install() == (True, {"mdurl"}) and len(mine.warnings) == 1

    shutil.copytree(other_entry / "packages" / "pygments", entry / "packages" / "pygments")  # its record kept
    assert mine.install() == (False, {"mdurl"})
    assert mine.warnings[-1].endswith("(its installed files are not the ones its record describes (changed or "
                                      "replaced)): discarded, installing it again")
    assert other.install() == (True, {"pygments"}) and other.warnings == []


def test_a_compiled_copy_of_another_entry_is_compiled_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    mine, other = Project(tmp_path / "mine", ["mdurl"], cache), Project(tmp_path / "other", ["pygments"], cache)
    mine.install(COMPILE)
    (entry,) = _entries(cache / "installed")
    other.install(COMPILE)
    (other_entry,) = _entries(cache / "installed") - {entry}
    (copy,) = _entries(entry / "compiled")
    (other_copy,) = _entries(other_entry / "compiled")

    _swap(copy, other_copy)
    assert mine.install(COMPILE) == (True, {"mdurl"})
    assert mine.warnings == ["the cached compiled copy of the dependencies for linux-x86_64 was not this build's (its "
                             "record is of another entry, made from other inputs): discarded, compiling it again"]
    assert (copy / "packages" / "mdurl").is_dir() and not (copy / "packages" / "pygments").exists()

    (copy / "packages" / "mdurl" / "extra.py").write_text("print('slipped in')\n", encoding="utf-8")
    assert mine.install(COMPILE) == (True, {"mdurl"})
    assert "its files are not the ones its record describes" in mine.warnings[-1]
    assert not (copy / "packages" / "mdurl" / "extra.py").exists()
    # A compiled copy is made from the entry's tree only once that proves to be the entry's own.
    shutil.rmtree(copy)
    (entry / "packages" / "mdurl" / "extra.py").write_text("print('slipped in')\n", encoding="utf-8")
    assert mine.install(COMPILE) == (False, {"mdurl"})
    assert "its installed files are not the ones its record describes" in mine.warnings[-1]
    assert not (tmp_path / "mine" / "bundle" / "packages" / "mdurl" / "extra.py").exists()
