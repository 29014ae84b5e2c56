"""Fixtures of the DMG signing tests: markupsafe's real macOS modules and self-made certificates (made once), and an
unsigned .app holding every kind of Mach-O file a real one has (its names in HFS+ form, as the installer makes them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import apple_platform as ap
import pytest
from kit.macos import IDENTIFIER, ODD, Certificate, developer_id_certificate, markupsafe_module

from kiln.installers.dmg.app_bundle import make_app_bundle
from kiln.installers.dmg.hfs_names import use_hfs_plus_names
from kiln.kinds.contract import StagedApp
from kiln.model.project import AppSection, EntrySection
from kiln.support.targets import TARGETS


@pytest.fixture(scope="session")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """markupsafe's compiled module: "arm64" (thin, linker-signed) and "universal2" (x86_64 unsigned + arm64)."""
    folder = tmp_path_factory.mktemp("markupsafe")
    return {"arm64": markupsafe_module(folder, "macosx_11_0_arm64"),
            "universal2": markupsafe_module(folder, "macosx_10_9_universal2")}


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Certificate]:
    """"developer-id": Developer ID Application (Apple's extension); "other": a plain code signing certificate."""
    folder = tmp_path_factory.mktemp("certificates")
    return {"developer-id": developer_id_certificate(folder / "devid"),
            "other": developer_id_certificate(folder / "other", "Apple Development: Someone", developer_id=False)}


def staged_with_code(root: Path, modules: dict[str, Path], certificates: dict[str, Certificate]) -> StagedApp:
    """A staged bundle holding the kinds of Mach-O files a real one has, next to plain files."""
    bundle = root / "bundle"
    root.mkdir(parents=True, exist_ok=True)
    vendor = root / "vendor.so"
    shutil.copy(modules["arm64"], vendor)
    ap.sign(vendor, signer=ap.Signer(pem=ap.PemKey(files=[certificates["other"].pem, certificates["other"].key])),
            timestamp_url="none")
    files: dict[str, bytes] = {
        "runtime/bin/python3.11": ap.macho.create_synthetic("aarch64", "executable"),  # unsigned
        "runtime/lib/libpython3.11.dylib": ap.macho.create_synthetic("aarch64", "dylib"),  # unsigned
        "runtime/lib/python3.11/os.py": b"# os\n",
        "runtime/lib/fake.dylib": b"\xcf\xfa\xed\xfe not really a dylib",  # looks like Mach-O, is not
        "runtime/lib/header.dylib": b"\xcf\xfa\xed\xfe\x0c\x00\x00\x01" + bytes(64),  # a header, nothing to sign
        "runtime/lib/magic.dylib": b"\xcf\xfa\xed\xfe",  # the magic number alone
        "packages/markupsafe/_speedups.cpython-311-darwin.so": modules["arm64"].read_bytes(),  # linker-signed
        "packages/vendor/signed.so": vendor.read_bytes(),  # a vendor's own signature
        "packages/uni/uni.so": modules["universal2"].read_bytes(),  # one unsigned slice
        f"packages/{ODD}/e\u0301.so": ap.macho.create_synthetic("aarch64", "dylib"),
        "packages/markupsafe/__init__.py": b"# markupsafe\n",
        "app/hello/__init__.pyc": b"pyc",
        "kiln_boot.py": b"# boot\n",
    }
    for rel, data in files.items():
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_bytes(data)
        (bundle / rel).chmod(0o755 if rel.endswith((".so", ".dylib", "python3.11")) else 0o644)
    (bundle / "runtime" / "bin" / "python3").symlink_to("python3.11")
    app = AppSection(name="hello", display_name="Hello", version="1.0", identifier=IDENTIFIER)
    return StagedApp(bundle, TARGETS["macos-arm64"], "3.11", app, EntrySection(module="hello:main"), None)


@pytest.fixture
def app(tmp_path: Path, modules: dict[str, Path], certificates: dict[str, Certificate]) -> Path:
    staged = staged_with_code(tmp_path / "staged", modules, certificates)
    (tmp_path / "volume").mkdir()
    icns = tmp_path / "icon.icns"
    icns.write_bytes(b"icns\x00\x00\x00\x08")
    app_dir, _ = make_app_bundle(staged, tmp_path / "volume", "11.0", icns)
    use_hfs_plus_names(app_dir)  # as the installer does before signing
    return app_dir
