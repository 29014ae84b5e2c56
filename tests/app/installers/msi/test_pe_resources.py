"""kiln.installers.msi.pe_resources: icon, VERSIONINFO and manifest put into the launcher, read back with pefile."""

from __future__ import annotations

import struct
from pathlib import Path

import pefile
import pytest
from PIL import Image

from kiln.installers.msi import pe_resources as pr
from kiln.support import icons
from kiln.support.errors import KilnError

HOSTILE = "Ünïcødé \"quoted\" & <tag> 'single' back\\slash 中文"
ASTRAL = "fire 🔥"  # outside the BMP: a UTF-16 surrogate pair (pefile decodes those wrongly, so checked raw)


@pytest.fixture(scope="module")
def ico(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ico")
    image = Image.new("RGBA", (512, 512), (0, 0, 0, 0))
    image.paste((200, 40, 10, 255), (64, 64, 448, 448))
    image.save(folder / "src.png")
    icons.write_ico(icons.load_icon(folder / "src.png"), folder / "app.ico")
    return folder / "app.ico"


def info(**changes: str) -> pr.VersionInfo:
    fields = {
        "product_name": "Hello App",
        "version": "1.2.3rc1",
        "company": "Example Ltd",
        "description": "Says hello",
        "internal_name": "hello",
        "original_filename": "Hello.exe",
        "copyright": "© 2025 Example Ltd",
    }
    fields.update(changes)
    return pr.VersionInfo(**fields)


def branded(tmp_path: Path, ico: Path, kind: str = "console", version: pr.VersionInfo | None = None) -> pefile.PE:
    out = tmp_path / f"{kind}.exe"
    pr.brand_launcher(pr.launcher_template(kind), out, ico, version or info())  # type: ignore[arg-type]
    return pefile.PE(str(out))


def resources(pe: pefile.PE) -> dict[int, dict[int, bytes]]:
    """{type: {id: data}} of the en-US entries."""
    result: dict[int, dict[int, bytes]] = {}
    for kind in pe.DIRECTORY_ENTRY_RESOURCE.entries:
        for entry in kind.directory.entries:
            (lang,) = entry.directory.entries
            assert lang.id == pr.LANG_EN_US
            result.setdefault(kind.id, {})[entry.id] = pe.get_data(lang.data.struct.OffsetToData, lang.data.struct.Size)
    return result


def version_strings(pe: pefile.PE) -> dict[str, str]:
    strings: dict[str, str] = {}
    for file_info in pe.FileInfo[0]:
        for table in getattr(file_info, "StringTable", []):
            assert table.LangID == b"040904B0"
            strings.update({k.decode(): v.decode() for k, v in table.entries.items()})
    return strings


def test_icons_are_byte_identical_to_the_ico(tmp_path: Path, ico: Path) -> None:
    pe = branded(tmp_path, ico)
    res = resources(pe)
    data = ico.read_bytes()
    (count,) = struct.unpack_from("<H", data, 4)
    (group,) = res[pr.RT_GROUP_ICON].values()
    assert struct.unpack_from("<HHH", group, 0) == (0, 1, count)
    assert len(group) == 6 + 14 * count
    for index in range(count):
        ico_entry = data[6 + 16 * index : 22 + 16 * index]
        size, offset = struct.unpack_from("<II", ico_entry, 8)
        grp_entry = group[6 + 14 * index : 20 + 14 * index]
        assert grp_entry[:12] == ico_entry[:12], "width, height, colours, planes, bit count, size"
        (icon_id,) = struct.unpack_from("<H", grp_entry, 12)
        assert res[pr.RT_ICON][icon_id] == data[offset : offset + size]
    assert sorted(res[pr.RT_ICON]) == list(range(1, count + 1))


def test_version_info(tmp_path: Path, ico: Path) -> None:
    pe = branded(tmp_path, ico)
    assert version_strings(pe) == {
        "CompanyName": "Example Ltd",
        "FileDescription": "Says hello",
        "FileVersion": "1.2.3rc1",
        "InternalName": "hello",
        "LegalCopyright": "© 2025 Example Ltd",
        "OriginalFilename": "Hello.exe",
        "ProductName": "Hello App",
        "ProductVersion": "1.2.3rc1",
    }
    fixed = pe.VS_FIXEDFILEINFO[0]
    assert fixed.Signature == 0xFEEF04BD
    assert (fixed.FileVersionMS, fixed.FileVersionLS) == (0x00010002, 0x00030000)
    assert (fixed.ProductVersionMS, fixed.ProductVersionLS) == (0x00010002, 0x00030000)
    assert (fixed.FileType, fixed.FileOS) == (1, 0x00040004)
    translations = [v.entry for fi in pe.FileInfo[0] for v in getattr(fi, "Var", [])]
    assert translations == [{b"Translation": "0x0409 0x04b0"}]


def test_hostile_strings_round_trip(tmp_path: Path, ico: Path) -> None:
    pe = branded(tmp_path, ico, version=info(product_name=HOSTILE, company=HOSTILE, description=HOSTILE))
    strings = version_strings(pe)
    assert strings["ProductName"] == strings["CompanyName"] == strings["FileDescription"] == HOSTILE


def test_astral_characters_stored_as_surrogate_pairs(tmp_path: Path, ico: Path) -> None:
    pe = branded(tmp_path, ico, version=info(product_name=ASTRAL))
    raw = resources(pe)[pr.RT_VERSION][1]
    assert "ProductName\0".encode("utf-16-le") in raw
    assert (ASTRAL + "\0").encode("utf-16-le") in raw


def test_empty_strings_are_left_out(tmp_path: Path, ico: Path) -> None:
    pe = branded(tmp_path, ico, version=pr.VersionInfo(product_name="Bare", version="2"))
    assert version_strings(pe) == {
        "FileDescription": "Bare",
        "FileVersion": "2",
        "InternalName": "Bare",
        "ProductName": "Bare",
        "ProductVersion": "2",
    }
    assert pe.VS_FIXEDFILEINFO[0].FileVersionMS == 0x00020000


@pytest.mark.parametrize("kind, subsystem", [("console", 3), ("gui", 2)])
def test_subsystem_kept_and_checksum_valid(tmp_path: Path, ico: Path, kind: str, subsystem: int) -> None:
    pe = branded(tmp_path, ico, kind)
    assert pe.OPTIONAL_HEADER.Subsystem == subsystem
    assert pe.OPTIONAL_HEADER.CheckSum != 0
    assert pe.verify_checksum()


def test_manifest(tmp_path: Path, ico: Path) -> None:
    manifest = resources(branded(tmp_path, ico))[pr.RT_MANIFEST][1].decode()
    assert 'level="asInvoker"' in manifest and "longPathAware" in manifest


def test_branding_is_deterministic_and_repeatable(tmp_path: Path, ico: Path) -> None:
    first, second, again = tmp_path / "1.exe", tmp_path / "2.exe", tmp_path / "3.exe"
    pr.brand_launcher(pr.launcher_template("gui"), first, ico, info())
    pr.brand_launcher(pr.launcher_template("gui"), second, ico, info())
    assert first.read_bytes() == second.read_bytes()
    pr.brand_launcher(first, again, ico, info(product_name="Renamed"))  # rebranding replaces, not appends
    pe = pefile.PE(str(again))
    assert version_strings(pe)["ProductName"] == "Renamed"
    assert len(resources(pe)[pr.RT_GROUP_ICON]) == 1
    assert pe.verify_checksum()
    assert not list(tmp_path.glob(".*.tmp"))


def test_checksum_matches_pefile() -> None:
    data = pr.launcher_template("console").read_bytes()
    pe = pefile.PE(data=data)
    assert pr.pe_checksum(data) == pe.generate_checksum() == pe.OPTIONAL_HEADER.CheckSum
    odd = bytearray(data + b"\x01")  # an odd length is padded with a zero byte
    assert pr.pe_checksum(odd) == pefile.PE(data=bytes(odd)).generate_checksum()


@pytest.mark.parametrize(
    "version, quad",
    [
        ("1.2.3rc1", (1, 2, 3, 0)),
        ("2024.10", (2024, 10, 0, 0)),
        ("1.2.3.4.5", (1, 2, 3, 4)),
        ("70000.1", (65535, 1, 0, 0)),
        ("1!2.0.post3", (2, 0, 0, 0)),
        ("0.1.0.dev4+local", (0, 1, 0, 0)),
        ("TODO", (0, 0, 0, 0)),
    ],
)
def test_version_quad(version: str, quad: tuple[int, int, int, int]) -> None:
    assert pr.version_quad(version) == quad


def test_bad_ico(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ico"
    bad.write_bytes(b"\x00\x00\x01\x00\x05\x00" + b"\x00" * 10)
    with pytest.raises(KilnError, match=r"bad\.ico is not a valid \.ico"):
        pr.brand_launcher(pr.launcher_template("console"), tmp_path / "x.exe", bad, info())
    assert not (tmp_path / "x.exe").exists()


def test_not_an_executable(tmp_path: Path, ico: Path) -> None:
    fake = tmp_path / "fake.exe"
    fake.write_bytes(b"MZ" + b"\x00" * 100)
    with pytest.raises(KilnError, match="not a Windows executable"):
        pr.brand_launcher(fake, tmp_path / "x.exe", ico, info())


def test_launcher_templates_exist() -> None:
    for kind in ("console", "gui"):
        assert pr.launcher_template(kind).name == f"launcher-{kind}.exe"  # type: ignore[arg-type]


def test_utf8_mode_off_is_a_resource(tmp_path: Path) -> None:
    ico = tmp_path / "app.ico"
    icons.write_ico(icons.load_icon(None), ico)
    assert pr.RT_RCDATA not in resources(branded(tmp_path, ico))  # default: UTF-8 mode, nothing added
    out = tmp_path / "plain.exe"
    pr.brand_launcher(pr.launcher_template("console"), out, ico, info(), utf8_mode=False)
    assert resources(pefile.PE(str(out)))[pr.RT_RCDATA] == {1: b"utf8=0"}


def test_write_runtime_pth_standalone_layout(tmp_path: Path) -> None:
    (tmp_path / "DLLs").mkdir()
    (tmp_path / "Lib" / "site-packages").mkdir(parents=True)
    path = pr.write_runtime_pth(tmp_path, "3.11")
    assert path == tmp_path / "python311._pth"
    lines = path.read_bytes().decode().split("\r\n")
    assert lines == [".", "DLLs", "Lib", "Lib\\site-packages", "..\\app", "..\\packages", "import site", ""]


def test_write_runtime_pth_embeddable_layout(tmp_path: Path) -> None:
    """python.org's embeddable runtime: the stdlib is python311.zip, its own ._pth is replaced."""
    (tmp_path / "python311.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (tmp_path / "python311._pth").write_text("python311.zip\r\n.\r\n", encoding="utf-8")
    pr.write_runtime_pth(tmp_path, "3.11")
    lines = (tmp_path / "python311._pth").read_bytes().decode().split("\r\n")
    assert lines == ["python311.zip", ".", "..\\app", "..\\packages", "import site", ""]


def test_launcher_override_names_a_folder_of_other_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CI points Kiln at the launchers it just built (KILN_WINDOWS_LAUNCHERS)."""
    (tmp_path / "launcher-gui.exe").write_bytes(b"MZ")
    monkeypatch.setenv("KILN_WINDOWS_LAUNCHERS", str(tmp_path))
    assert pr.launcher_template("gui") == tmp_path / "launcher-gui.exe"
    monkeypatch.delenv("KILN_WINDOWS_LAUNCHERS")
    assert pr.launcher_template("gui") == pr.LAUNCHER_DIR / "launcher-gui.exe"
