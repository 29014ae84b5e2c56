"""The runtime catalog read from pbs-installer: entries, the pick for a target, mirrors, missing versions."""

from __future__ import annotations

import pytest
from pbs_installer import get_download_link
from pbs_installer._utils import PythonVersion

from kiln.runtimes import catalog
from kiln.support.errors import KilnError
from kiln.support.targets import TARGETS


def test_entries_are_cpython_install_only_archives() -> None:
    entries = catalog.entries()
    assert len(entries) > 100
    for entry in entries:
        assert "install_only" in entry.filename and entry.filename.startswith("cpython-")
        assert "freethreaded" not in entry.filename
        assert entry.version.startswith(entry.minor + ".")
        assert entry.filename in entry.url.replace("%2B", "+")
        assert entry.size is None  # the catalog does not publish sizes


@pytest.mark.parametrize("platform", sorted(TARGETS))
@pytest.mark.parametrize("minor", ["3.11", "3.12", "3.13"])
def test_pick_is_the_newest_patch_and_agrees_with_pbs_installer(
    platform: str, minor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PBS_INSTALLER_BASE_URL", raising=False)
    target = TARGETS[platform]
    entry = catalog.pick(target, minor)
    assert entry.target == target and entry.minor == minor and entry.sha256
    assert entry.micro == max(e.micro for e in catalog.available(target, minor))
    assert entry.stripped  # every recent release ships install_only_stripped
    assert entry.build.isdigit() and len(entry.build) == 8
    # The public API gives the same archive (pbs-installer calls macOS "macos" and arm64 "aarch64").
    version, (url, sha256) = get_download_link(minor, arch=target.pbs_arch, platform=catalog.catalog_platform(target))
    assert (f"{version.major}.{version.minor}.{version.micro}", url, sha256) == (entry.version, entry.url, entry.sha256)


def test_mirror_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """pbs-installer reads PBS_INSTALLER_BASE_URL only at import; Kiln must see a later change."""
    monkeypatch.setenv("PBS_INSTALLER_BASE_URL", "http://mirror.invalid/pbs/")
    entry = catalog.pick(TARGETS["windows-x86_64"], "3.12")
    assert entry.url == f"http://mirror.invalid/pbs/{entry.filename}"
    monkeypatch.delenv("PBS_INSTALLER_BASE_URL")
    assert catalog.pick(TARGETS["windows-x86_64"], "3.12").url.startswith("https://github.com/")


def _fake_index(files: dict[tuple[int, str], str | None]) -> catalog.PbsIndex:
    """An index like pbs-installer's: {(micro, filename-suffix): sha256} for Linux x86_64 3.12."""
    index: catalog.PbsIndex = {}
    for (micro, kind), sha in files.items():
        name = f"cpython-3.12.{micro}+20240101-x86_64-unknown-linux-gnu-{kind}.tar.gz"
        index[PythonVersion("cpython", 3, 12, micro)] = {("linux", "x86_64", True): (f"https://x/{name}", sha)}
    return index


def test_pick_prefers_newest_patch_then_stripped_and_skips_unverifiable(monkeypatch: pytest.MonkeyPatch) -> None:
    index = _fake_index(
        {(8, "install_only"): "a" * 64, (7, "install_only_stripped"): "b" * 64, (9, "install_only"): None}
    )
    monkeypatch.setattr(catalog, "_pbs_index", lambda base: index)
    entry = catalog.pick(TARGETS["linux-x86_64"], "3.12")
    assert (entry.version, entry.stripped) == ("3.12.8", False)  # 3.12.9 has no checksum, so it is skipped
    assert [e.version for e in catalog.available(TARGETS["linux-x86_64"], "3.12")] == ["3.12.9", "3.12.8", "3.12.7"]


def test_unknown_versions_are_kiln_errors() -> None:
    with pytest.raises(KilnError, match=r"no downloadable Python 3\.2 for macos-arm64") as error:
        catalog.pick(TARGETS["macos-arm64"], "3.2")
    assert "3.12" in (error.value.hint or "") and "kiln runtimes add" in (error.value.hint or "")
    with pytest.raises(KilnError, match=r"form 3\.X"):
        catalog.pick(TARGETS["macos-arm64"], "3")


def test_newest_by_minor_lists_each_minor_once() -> None:
    newest = catalog.newest_by_minor(TARGETS["linux-x86_64"])
    assert {"3.10", "3.11", "3.12", "3.13"} <= set(newest)
    assert all(e.minor == m for m, e in newest.items())
    old_name = "cpython-3.10.0-x86_64-unknown-linux-gnu-install_only-20211017T1616.tar.gz"
    assert catalog.build_of(old_name) == "20211017T1616"
