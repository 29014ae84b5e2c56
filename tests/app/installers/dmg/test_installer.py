"""The dmg kind end to end: kiln build with a crafted macOS runtime archive, read back by 7-Zip, dmg2img and dpp."""

from __future__ import annotations

import hashlib
import io
import json
import os
import plistlib
import subprocess
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pytest
from ds_store import DSStore
from kit import sbom as sbom_kit
from kit.dmg import ARCHIVES, FAKE_PYTHON, PY, fake_macos_runtime, seven_zip
from kit.projects import write_project
from kit.runner import KilnRun
from kit.runner import kiln as run_kiln
from kit.testing import REPO
from kit.testing import find_tool as need
from mac_alias import Alias
from PIL import Image

from kiln.installers.dmg.app_bundle import BUNDLE_DIR, app_folder_name, launcher_binary
from kiln.installers.dmg.finder import APP_POSITION, APPLICATIONS_POSITION, WINDOW_SIZE
from kiln.installers.dmg.hfs_volume import HFS_START, make_hfs_volume, sanitize_volume_name
from kiln.installers.dmg.installer import DmgInstaller, describe
from kiln.installers.dmg.reader import read_dmg, read_image, verify_dmg
from kiln.kinds.contract import BuildContext, StagedApp
from kiln.model.project import AppSection, EntrySection, Project
from kiln.support.epoch import FIXED_EPOCH
from kiln.support.targets import TARGETS

HOSTILE = 'Tom\'s "Best" <App> & co\n/: Ünïcødé 名前'



def pure_wheel(wheelhouse: Path) -> None:
    wheelhouse.mkdir(parents=True, exist_ok=True)
    files = {
        "kiln_dmg_dep/__init__.py": "VALUE = 'from the wheel'\n",
        "kiln_dmg_dep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: kiln-dmg-dep\nVersion: 1.0\n",
        "kiln_dmg_dep-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                            "Tag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "kiln_dmg_dep-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheelhouse / "kiln_dmg_dep-1.0-py3-none-any.whl", "w") as whl:
        for name, text in {**files, "kiln_dmg_dep-1.0.dist-info/RECORD": record}.items():
            whl.writestr(name, text)


def write_mac_app(root: Path, app: dict[str, str], installer: dict[str, Any]) -> Path:
    """The app, its stand-in runtime, its one dependency (a local wheel) and its kiln.toml, in `root`."""
    (root / "src" / "hello_mac").mkdir(parents=True)
    (root / "src" / "hello_mac" / "__init__.py").write_text("import kiln_dmg_dep\n\ndef main():\n    print(1)\n")
    archive = ARCHIVES[installer.get("platform", "macos-arm64")]
    fake_macos_runtime(root / archive)
    pure_wheel(root / "wheels")
    data = {
        "app": app, "entry": {"module": "hello_mac:main", "kind": "gui"}, "source": {"root": "src"},
        "dependencies": {"requirements": ["kiln-dmg-dep==1.0"], "no_index": True, "find_links": ["wheels"]},
        "python": {"version": PY, "source": archive}, "installer": [{"kind": "dmg", **installer}],
    }
    return write_project(root, data)


def kiln(*args: str | Path, env: dict[str, str]) -> KilnRun:
    return run_kiln(*args, env={"SOURCE_DATE_EPOCH": None, **env}, cwd=REPO, timeout=300)  # default dates tested


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"KILN_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}


APP = {"name": "hello-mac", "display_name": "Hello Mac", "version": "1.2.3rc1", "identifier": "org.example.hello",
       "publisher": "Example & Co"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, cache: dict[str, str]) -> tuple[Path, Path]:
    need("xorriso")
    root = tmp_path_factory.mktemp("proj")
    project = write_mac_app(root, APP, {"platform": "macos-arm64", "minimum_macos": "12.0"})
    built = kiln("build", project, "--events", "jsonl", env=cache)
    assert built.returncode == 0, built.output
    artifact = next(e for e in built.events if e.kind == "artifact")
    return project, Path(artifact.data["path"])


def seven_zip_read(dmg: Path, member: str) -> bytes:
    return subprocess.run([need("7z", "7zz"), "x", "-so", str(dmg), member], capture_output=True, check=True).stdout


# --- kiln build ---------------------------------------------------------------------------------------------------


def test_build_writes_the_named_dmg_and_7zip_tests_it(built: tuple[Path, Path]) -> None:
    project, dmg = built
    assert dmg == project.parent / "dist" / "hello-mac-1.2.3rc1-macos-arm64.dmg"
    tested = subprocess.run([need("7z", "7zz"), "t", str(dmg)], capture_output=True, text=True)
    assert tested.returncode == 0 and "Everything is Ok" in tested.stdout, tested.stdout
    assert verify_dmg(dmg) == []


def test_volume_shows_the_app_beside_an_applications_link(built: tuple[Path, Path]) -> None:
    _, dmg = built
    entries = seven_zip(dmg)
    top = sorted(p for p in entries if p.count("/") == 1)
    assert top == ["Hello Mac/.DS_Store", "Hello Mac/.VolumeIcon.icns", "Hello Mac/.background",
                   "Hello Mac/Applications", "Hello Mac/Hello Mac.app"]  # Finder hides the dot files
    assert entries["Hello Mac/Applications"]["Mode"] == "lrwxrwxrwx"
    assert seven_zip_read(dmg, "Hello Mac/Applications") == b"/Applications"
    app = "Hello Mac/Hello Mac.app/Contents"
    assert entries[f"{app}/MacOS/hello-mac"]["Mode"] == "-rwxr-xr-x"
    assert entries[f"{app}/Info.plist"]["Mode"] == "-rw-r--r--"
    assert entries[f"{app}/Resources/hello-mac.icns"]["Mode"] == "-rw-r--r--"
    bundle = f"{app}/Resources/{BUNDLE_DIR}"
    assert entries[f"{bundle}/runtime/bin/python{PY}"]["Mode"] == "-rwxr-xr-x"
    assert entries[f"{bundle}/runtime/bin/python3"]["Mode"] == "lrwxrwxrwx"
    assert seven_zip_read(dmg, f"{bundle}/runtime/bin/python{PY}") == FAKE_PYTHON
    assert f"{bundle}/packages/kiln_dmg_dep/__init__.pyc" in entries  # the wheel, compiled
    assert f"{bundle}/packages/kiln_dmg_dep-1.0.dist-info/METADATA" in entries
    assert f"{bundle}/app/hello_mac/__init__.py" in entries and f"{bundle}/kiln_boot.py" in entries  # the app's own
    assert f"{bundle}/app/hello_mac/__pycache__/__init__.cpython-{PY.replace('.', '')}.pyc" in entries
    with Image.open(io.BytesIO(seven_zip_read(dmg, f"{app}/Resources/hello-mac.icns"))) as icon:
        assert icon.format == "ICNS" and {(512, 512, 2), (16, 16, 2), (256, 256, 1)} <= set(icon.info["sizes"])
    assert entries["Hello Mac/Hello Mac.app"]["Modified"] == "2000-01-01 00:00:00"  # FIXED_EPOCH, not today


def test_info_plist_holds_the_project_values(built: tuple[Path, Path]) -> None:
    _, dmg = built
    plist = plistlib.loads(seven_zip_read(dmg, "Hello Mac/Hello Mac.app/Contents/Info.plist"))
    assert {k: plist[k] for k in ("CFBundleName", "CFBundleDisplayName", "CFBundleIdentifier", "CFBundleExecutable",
                                  "CFBundleIconFile", "CFBundlePackageType", "CFBundleShortVersionString",
                                  "CFBundleVersion", "LSMinimumSystemVersion", "NSHighResolutionCapable",
                                  "LSUIElement")} == {
        "CFBundleName": "Hello Mac", "CFBundleDisplayName": "Hello Mac", "CFBundleIdentifier": "org.example.hello",
        "CFBundleExecutable": "hello-mac", "CFBundleIconFile": "hello-mac.icns", "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": "1.2.3", "CFBundleVersion": "1.2.3", "LSMinimumSystemVersion": "12.0",
        "NSHighResolutionCapable": True, "LSUIElement": False,
    }


def test_dmg2img_reads_the_same_disk_as_kilns_reader(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, dmg = built
    img = tmp_path / "disk.img"
    result = subprocess.run([need("dmg2img"), "-i", str(dmg), "-o", str(img)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert subprocess.run(["cmp", str(img), "/dev/stdin"], input=read_image(dmg)).returncode == 0
    assert [p.name for p in read_dmg(dmg).partitions] == [
        "Driver Descriptor Map (DDM : 0)", "Apple (Apple_partition_map : 1)", "disk image (Apple_HFS : 2)",
        " (Apple_Free : 3)"]


def test_the_app_holds_the_sbom_of_its_files(built: tuple[Path, Path], tmp_path: Path) -> None:
    project, dmg = built
    subprocess.run([need("7z", "7zz"), "x", f"-o{tmp_path / 'volume'}", str(dmg)], capture_output=True, check=True)
    (volume,) = [p for p in (tmp_path / "volume").iterdir() if p.is_dir()]  # 7-Zip names the HFS+ partition
    files = sbom_kit.read_tree(volume)  # names as the volume holds them (HFS+ names: the SBOM's too)
    resources = "Hello Mac.app/Contents/Resources"
    report = json.loads((project.parent / "dist" / "hello-mac-report.json").read_text(encoding="utf-8"))
    document = sbom_kit.check(dmg.with_name(dmg.name + ".cdx.json"), files[f"{resources}/sbom.cdx.json"], files,
                              [f"{resources}/{BUNDLE_DIR}"], report["dependencies"]["macos-arm64"]["installed"])
    refs = sbom_kit.by_ref(document)
    assert refs["dist:kiln-dmg-dep"]["version"] == "1.0"
    launcher = refs["kiln-launcher"]  # signed after the SBOM was written (its signature seals it): no file hash
    assert "components" not in launcher and launcher["pedigree"]["ancestors"][0]["hashes"][0]["content"] == \
        hashlib.sha256(launcher_binary("arm64").read_bytes()).hexdigest()
    assert refs["runtime"]["properties"][-1] == {"name": "kiln:runtime-archive", "value": ARCHIVES["macos-arm64"]}


def test_kiln_inspect_lists_partitions_chunks_and_files(built: tuple[Path, Path], cache: dict[str, str]) -> None:
    _, dmg = built
    inspected = kiln("inspect", dmg, env=cache)
    text = inspected.output
    assert inspected.returncode == 0, text
    assert "disk image (Apple_HFS : 2)" in text and "zlib" in text and "checksums: all CRC32s match" in text
    assert "CFBundleIdentifier 'org.example.hello'" in text
    assert "lrwxrwxrwx         13  Hello Mac/Applications -> /Applications" in text
    assert "-rwxr-xr-x" in text and "Hello Mac/Hello Mac.app/Contents/MacOS/hello-mac" in text
    assert f"Contents/Resources/{BUNDLE_DIR}/runtime/… 7 files"  # 5 + the bundle site (.pth + module) in text


def test_two_builds_are_byte_identical(built: tuple[Path, Path], cache: dict[str, str]) -> None:
    project, dmg = built
    first = dmg.read_bytes()
    os.utime(project.parent / "src" / "hello_mac" / "__init__.py", (1, 1))  # times must not matter
    rebuilt = kiln("build", project, env=cache)
    assert rebuilt.returncode == 0, rebuilt.output
    assert dmg.read_bytes() == first


def test_missing_xorriso_is_a_one_line_error_naming_the_package(tmp_path: Path, cache: dict[str, str]) -> None:
    project = write_mac_app(tmp_path, APP, {})
    empty = tmp_path / "empty-path"
    empty.mkdir()
    failed = kiln("build", project, "--events", "jsonl", env={**cache, "PATH": str(empty)})
    assert failed.returncode == 1, failed.output
    error = next(e for e in failed.events if e.kind == "error")
    assert "\n" not in error.message and "xorriso" in error.message
    assert error.data["hint"] == "install it with: sudo apt-get install xorriso"
    assert not list((tmp_path / "dist").glob("*.dmg"))


def test_hostile_names_give_a_valid_plist_and_volume(tmp_path: Path, cache: dict[str, str]) -> None:
    need("xorriso")
    app = {"name": "odd", "display_name": HOSTILE, "version": "2!0.5.post1", "publisher": HOSTILE}
    project = write_mac_app(tmp_path, app, {"platform": "macos-x86_64", "volume_name": HOSTILE + " Vol",
                                            "applications_link": False})
    built = kiln("build", project, "--events", "jsonl", env=cache)
    assert built.returncode == 0, built.output
    assert any(e.kind == "warning" and "local.kiln.odd" in e.message for e in built.events)
    dmg = tmp_path / "dist" / "odd-2!0.5.post1-macos-x86_64.dmg"
    volume, folder = sanitize_volume_name(HOSTILE + " Vol"), app_folder_name(HOSTILE)
    assert folder == 'Tom\'s "Best" <App> & co -- Ünïcødé 名前.app'
    entries = seven_zip(dmg)
    top = sorted(p for p in entries if p.count("/") == 1 and not p.startswith(f"{volume}/."))
    assert top == [f"{volume}/{folder}"]  # no Applications link
    plist = plistlib.loads(seven_zip_read(dmg, unicodedata.normalize("NFD", f"{volume}/{folder}/Contents/Info.plist")))
    one_line = 'Tom\'s "Best" <App> & co /: Ünïcødé 名前'
    assert (plist["CFBundleName"], plist["NSHumanReadableCopyright"]) == (one_line, f"© {one_line}")
    assert (plist["CFBundleIdentifier"], plist["CFBundleShortVersionString"]) == ("local.kiln.odd", "0.5.0")


# --- the installer on its own: the volume folder kept, compared file by file -------------------------------------


class Reporter:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def progress(self, fraction: float, message: str = "") -> None:
        assert 0.0 <= fraction <= 1.0

    def log(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.messages.append("warning: " + message)


def direct_build(tmp_path: Path, platform: str = "macos-arm64", associations: list[dict[str, str]] | None = None
                 ) -> tuple[Path, Path, StagedApp, DmgInstaller]:
    """Build with DmgInstaller itself from a small staged bundle; returns (dmg, volume folder, staged, installer)."""
    bundle = tmp_path / "bundle"
    for rel, text, mode in [("runtime/bin/python3.11", "#!/bin/sh\n", 0o775), ("runtime/lib/python3.11/os.py", "",
                            0o600), ("app/hello/__init__.pyc", "pyc", 0o644), ("kiln_boot.py", "# boot\n", 0o664)]:
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_text(text)
        (bundle / rel).chmod(mode)
    (bundle / "packages").mkdir()
    (bundle / "runtime" / "bin" / "python3").symlink_to("python3.11")
    app = AppSection(name="hello", display_name="Hello", version="1.0", identifier="org.example.hello")
    staged = StagedApp(bundle, TARGETS[platform], "3.11", app, EntrySection(module="hello:main"), None)
    project = Project.model_validate({"app": app.model_dump(), "entry": {"module": "hello:main"},
                                      "installer": [{"kind": "dmg", "platform": platform}],
                                      "association": associations or []})
    installer = DmgInstaller(project.installer[0])  # type: ignore[arg-type]
    ctx = BuildContext(project, tmp_path, tmp_path / "work", tmp_path / "cache", Reporter())
    dmg = tmp_path / "out" / installer.artifact_name(staged)
    dmg.parent.mkdir()
    installer.build(ctx, staged, dmg)
    return dmg, tmp_path / "work" / "volume", staged, installer


def test_dpp_reads_back_every_file_mode_and_link_of_the_volume(tmp_path: Path) -> None:
    dpp = pytest.importorskip("dpp")
    need("xorriso")
    dmg, volume, _, _ = direct_build(tmp_path)
    expected = {"/" + p.relative_to(volume).as_posix(): p for p in volume.rglob("*")}
    with dpp.open(str(dmg)) as image, image.filesystem() as fs:
        assert fs.fs_type == "hfsplus"
        walked = {unicodedata.normalize("NFC", e.path) for e in fs.walk()}
        assert walked == set(expected)
        for path, local in expected.items():
            info = fs.stat(path)
            assert info.mode == local.lstat().st_mode, path
            assert (info.uid, info.gid) == (0, 0)
            if local.is_symlink():
                assert info.kind == "symlink" and fs.read_file(path) == os.readlink(local).encode()
            elif local.is_file():
                assert fs.read_file(path) == local.read_bytes(), path
    assert (volume / "Hello.app/Contents/Resources/app-bundle/runtime/bin/python3.11").stat().st_mode & 0o777 == 0o755
    assert (volume / "Hello.app/Contents/Resources/app-bundle/runtime/lib/python3.11/os.py").stat().st_mode & 0o777 \
        == 0o644


def test_hfs_partition_is_what_xorriso_wrote_plus_the_custom_icon_flag(tmp_path: Path) -> None:
    need("xorriso")
    dmg, volume, _, _ = direct_build(tmp_path)
    img = tmp_path / "disk.img"
    subprocess.run([need("dmg2img"), "-i", str(dmg), "-o", str(img)], capture_output=True, check=True)
    hfs = make_hfs_volume(volume, "Hello", tmp_path / "again.hfs", epoch=FIXED_EPOCH).read_bytes()
    with img.open("rb") as f:
        f.seek(HFS_START * 512)
        written = f.read(len(hfs))
    # One byte differs: the high byte of the root folder's Finder flags gains kHasCustomIcon (0x0400).
    changed = [i for i in range(len(hfs)) if written[i] != hfs[i]]
    assert len(changed) == 1 and written[changed[0]] == hfs[changed[0]] | 0x04


def test_source_date_epoch_sets_the_dates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need("xorriso")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    dmg, _, _, _ = direct_build(tmp_path, "macos-x86_64")
    assert dmg.name == "hello-1.0-macos-x86_64.dmg"
    assert seven_zip(dmg)["Hello/Hello.app/Contents/Info.plist"]["Modified"] == "2023-11-14 22:13:20"
    assert "Hello.app/Contents/MacOS/hello" in describe(dmg)


def test_output_name_replaces_the_stem(tmp_path: Path) -> None:
    project = Project.model_validate({"app": {"name": "x", "version": "3"}, "entry": {"module": "x"},
                                      "installer": [{"kind": "dmg", "output_name": "X-Setup"}]})
    installer = DmgInstaller(project.installer[0])  # type: ignore[arg-type]
    staged = StagedApp(tmp_path, installer.target, "3.11", project.app, project.entry, None)
    assert installer.artifact_name(staged) == "X-Setup.dmg" and installer.required_tools() == ["xorriso"]
    assert installer.volume_name(staged) == "x"


def test_finder_layout_background_and_volume_icon_read_back_from_the_dmg(tmp_path: Path) -> None:
    need("xorriso")
    dmg, volume, _, _ = direct_build(tmp_path)
    entries = seven_zip(dmg)
    assert entries["Hello/.background/background.png"]["Mode"] == "-rw-r--r--"
    assert {"Hello/.DS_Store", "Hello/.VolumeIcon.icns", "Hello/Hello.app", "Hello/Applications"} <= set(entries)
    store = tmp_path / "read.DS_Store"
    store.write_bytes(seven_zip_read(dmg, "Hello/.DS_Store"))
    with DSStore.open(str(store), "r") as ds:
        records = {(entry.filename, entry.code.decode()): entry.value for entry in ds}
    assert records[("Hello.app", "Iloc")] == APP_POSITION
    assert records[("Applications", "Iloc")] == APPLICATIONS_POSITION
    view = records[(".", "icvp")]
    assert isinstance(view, dict)
    assert Alias.from_bytes(view["backgroundImageAlias"]).volume.name == "Hello"  # the volume's real name
    with Image.open(io.BytesIO(seven_zip_read(dmg, "Hello/.background/background.png"))) as picture:
        assert picture.size == WINDOW_SIZE
    with Image.open(io.BytesIO(seven_zip_read(dmg, "Hello/.VolumeIcon.icns"))) as icon:
        assert icon.format == "ICNS"
    assert seven_zip_read(dmg, "Hello/.VolumeIcon.icns") == (
        volume / "Hello.app" / "Contents" / "Resources" / "hello.icns").read_bytes()
    tested = subprocess.run([need("7z", "7zz"), "t", str(dmg)], capture_output=True, text=True)
    assert tested.returncode == 0 and "Everything is Ok" in tested.stdout


def test_associations_become_document_types_in_info_plist(tmp_path: Path) -> None:
    need("xorriso")
    Image.new("RGBA", (64, 64), (10, 200, 10, 255)).save(tmp_path / "doc.png")
    dmg, _, _, _ = direct_build(tmp_path, associations=[
        {"extension": "tally", "description": "Tally <document>", "icon": "doc.png"},
        {"extension": "knote", "description": "Kiln note", "mime_type": "text/x-kiln-note"}])
    plist = plistlib.loads(seven_zip_read(dmg, "Hello/Hello.app/Contents/Info.plist"))
    assert plist["CFBundleDocumentTypes"] == [
        {"CFBundleTypeName": "Tally <document>", "CFBundleTypeRole": "Editor", "LSHandlerRank": "Owner",
         "LSItemContentTypes": ["org.example.hello.tally"], "CFBundleTypeExtensions": ["tally"],
         "CFBundleTypeMIMETypes": ["application/x-tally"], "CFBundleTypeIconFile": "document-tally.icns"},
        {"CFBundleTypeName": "Kiln note", "CFBundleTypeRole": "Editor", "LSHandlerRank": "Owner",
         "LSItemContentTypes": ["org.example.hello.knote"], "CFBundleTypeExtensions": ["knote"],
         "CFBundleTypeMIMETypes": ["text/x-kiln-note"], "CFBundleTypeIconFile": "document-knote.icns"}]
    (tally, _) = plist["UTExportedTypeDeclarations"]
    assert tally["UTTypeIdentifier"] == "org.example.hello.tally" and tally["UTTypeConformsTo"] == ["public.data"]
    assert tally["UTTypeTagSpecification"] == {"public.filename-extension": ["tally"],
                                               "public.mime-type": ["application/x-tally"]}
    with Image.open(io.BytesIO(seven_zip_read(dmg, "Hello/Hello.app/Contents/Resources/document-tally.icns"))) as icon:
        assert icon.format == "ICNS" and icon.convert("RGBA").getpixel((32, 32))[:3] == (10, 200, 10)
    assert seven_zip(dmg)["Hello/Hello.app/Contents/Resources/document-knote.icns"]["Mode"] == "-rw-r--r--"
