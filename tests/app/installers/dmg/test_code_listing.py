"""`kiln inspect X.dmg`'s code section (code_listing.py): each Mach-O file's architectures and signature state, the
app's seal and the disk image's own signature, on images made from an app with every kind of Mach-O file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from kit.macos import COMMON_NAME, IDENTIFIER, P12_PASSWORD, Certificate
from kit.testing import find_tool

from kiln.installers.dmg.code_listing import declared_apps, list_code
from kiln.installers.dmg.codesign import Identity, sign_app, sign_dmg
from kiln.installers.dmg.hfs_volume import make_dmg
from kiln.support.sizes import human_size

BUNDLE = "Contents/Resources/app-bundle"


def image(app: Path, out: Path) -> Path:
    make_dmg(app.parent, "Hello", out, epoch=946684800)
    return out


def line_for(lines: list[str], relpath: str) -> str:
    (found,) = [line for line in lines if line.endswith(f"  {relpath}")]
    return " ".join(found.split())


def test_an_unsigned_app_lists_each_file_and_its_state(app: Path, tmp_path: Path) -> None:
    lines = list_code(image(app, tmp_path / "unsigned.dmg"))
    assert lines[:2] == ["code signing:", "  disk image: not signed"]
    assert "Hello.app: seal problems: no readable CodeResources" in lines[2]
    assert "  Hello.app: 10 Mach-O files (architectures, kind, signature):" in lines
    assert line_for(lines, "Contents/MacOS/hello") == "arm64 executable ad hoc Contents/MacOS/hello"
    assert line_for(lines, f"{BUNDLE}/packages/uni/uni.so") == (
        f"x86_64 arm64 bundle x86_64: none, arm64: ad hoc {BUNDLE}/packages/uni/uni.so")
    assert line_for(lines, f"{BUNDLE}/runtime/lib/libpython3.11.dylib") == (
        f"arm64 dylib none {BUNDLE}/runtime/lib/libpython3.11.dylib")
    assert line_for(lines, f"{BUNDLE}/packages/vendor/signed.so") == (
        f"arm64 bundle certificate (Apple Development: Someone) {BUNDLE}/packages/vendor/signed.so")
    assert re.fullmatch(rf"\? \? unreadable \(.*\) {BUNDLE}/runtime/lib/fake.dylib",
                        line_for(lines, f"{BUNDLE}/runtime/lib/fake.dylib"))
    assert line_for(lines, f"{BUNDLE}/runtime/lib/header.dylib") == (
        f"arm64 type 0 none (not signable: no __LINKEDIT segment to sign) {BUNDLE}/runtime/lib/header.dylib")


def test_a_signed_app_and_image(app: Path, tmp_path: Path, certificates: dict[str, Certificate]) -> None:
    identity = Identity(certificates["developer-id"].p12, None, "X", P12_PASSWORD)
    sign_app(app, IDENTIFIER, identity, None, timestamp=False)
    dmg = image(app, tmp_path / "signed.dmg")
    sign_dmg(dmg, IDENTIFIER, identity, timestamp=False)
    lines = list_code(dmg)
    assert lines[1] == f"  disk image: Developer ID ({COMMON_NAME})"
    assert lines[2] == "  Hello.app: every file sealed in Contents/_CodeSignature/CodeResources"
    states = [line for line in lines[4:] if "unreadable" not in line and "not signable" not in line]
    assert len(states) == 7
    assert all(f"Developer ID ({COMMON_NAME}), hardened runtime" in line for line in states), states


def test_a_broken_signature_and_a_changed_file_are_named(app: Path, tmp_path: Path) -> None:
    sign_app(app, IDENTIFIER, None, None, timestamp=False)
    library = app / BUNDLE / "runtime" / "lib" / "libpython3.11.dylib"
    data = bytearray(library.read_bytes())
    data[100] ^= 0xFF
    library.write_bytes(data)
    lines = list_code(image(app, tmp_path / "broken.dmg"))
    assert lines[2] == ("  Hello.app: seal problems: Resources/app-bundle/runtime/lib/libpython3.11.dylib: the sealed "
                        "hash differs")
    line = line_for(lines, f"{BUNDLE}/runtime/lib/libpython3.11.dylib")
    assert line.startswith("arm64 dylib broken: ")
    assert re.search(r"1 of \d+ sha256 page hashes differ \(first: page 0\)", line), line


def test_without_7zip_the_rest_is_still_listed(app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dmg = image(app, tmp_path / "x.dmg")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("7z") is None and os.environ["PATH"] == str(empty)
    assert list_code(dmg) == ["code signing:", "  disk image: not signed",
                              "  install 7-Zip (sudo apt-get install 7zip) to list the app's Mach-O files"]


def written(folder: Path) -> tuple[int, int]:
    """(files, bytes) below `folder` as the file system has them: files and symlinks (a link's size: its target)."""
    entries = [p.lstat() for p in folder.rglob("*") if p.is_symlink() or not p.is_dir()]
    return len(entries), sum(e.st_size for e in entries)


def test_what_is_measured_before_extracting_is_what_7zip_writes(app: Path, tmp_path: Path) -> None:
    dmg = image(app, tmp_path / "x.dmg")
    out = tmp_path / "out"
    subprocess.run([find_tool("7z", "7zz"), "x", "-y", f"-o{out}", "-snl", str(dmg), "*.app", "-r"], check=True,
                   capture_output=True, timeout=300)
    files, size = declared_apps(find_tool("7z", "7zz"), dmg)
    assert (files, size) == written(out) == written(app)
    assert files > 10  # the Mach-O files and more


@pytest.mark.parametrize("over", ["bytes", "files"])
def test_an_app_past_the_limits_is_not_extracted(app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 over: str) -> None:
    dmg = image(app, tmp_path / "x.dmg")
    files, size = written(app)
    at_the_limits = list_code(dmg, max_bytes=size, max_files=files)
    assert "  Hello.app: 10 Mach-O files (architectures, kind, signature):" in at_the_limits
    # Past them no temporary folder is even made: one would fail here.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    limits = {"max_bytes": size - 1, "max_files": files} if over == "bytes" else {"max_bytes": size,
                                                                                   "max_files": files - 1}
    lines = list_code(dmg, **limits)
    assert lines[:2] == ["code signing:", "  disk image: not signed"]
    assert lines[2:] == [f"  the app is not extracted to check its code: it holds {files:,} files, "
                         f"{human_size(size)}; kiln inspect unpacks at most {limits['max_files']:,} files, "
                         f"{human_size(limits['max_bytes'])}"]

