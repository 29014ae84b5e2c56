"""The MSI installed for real: `wine msiexec` in a fresh prefix per test, the launcher run against a stub
python311.dll, upgrades, a refused downgrade and a clean uninstall.

Wine is more lenient than Windows Installer (no ICE validation, no UAC) and keeps its own bookkeeping of
installed products, so these tests check files, shortcuts, the app's own HKCU values and product codes only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kit import msi as msi_kit
from kit.wine import Prefix

pytestmark = [pytest.mark.wine, pytest.mark.slow, pytest.mark.long]  # bash .ci/long
INSTALL_FAILED = 1603 & 0xFF  # Wine hands exit codes to Linux cut to 8 bits


@pytest.fixture(scope="module")
def msis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Per-user 1.0, 1.1 (drops the data file, adds a module) and 1.1 rebuilt with one more module; per-machine
    1.0. The runtime DLL is the stub."""
    msi_kit.need("wixl", "msibuild", "msiinfo", "x86_64-w64-mingw32-gcc")
    base = tmp_path_factory.mktemp("msis")
    archive = msi_kit.fake_runtime_archive(base, msi_kit.compile_stub_dll(base / "python311.dll"))
    built = {}
    for name, version, scope in (("1.0", "1.0", "per-user"), ("1.1", "1.1", "per-user"),
                                 ("1.1-rebuilt", "1.1", "per-user"), ("machine", "1.0", "per-machine")):
        folder = base / name
        folder.mkdir()
        msi_kit.write_app(folder, extra_module="new_in_11" if version == "1.1" else "")
        if version == "1.1":
            (folder / "src" / msi_kit.DATA_FILE).unlink()
        if name == "1.1-rebuilt":
            (folder / "src" / "hello" / "rebuilt.py").write_text("FIXED = True\n", encoding="utf-8")
        project = msi_kit.write_project(folder, archive, version=version, scope=scope, desktop_shortcut=True)
        built[name] = msi_kit.built_msi(project, base / "cache")
    return built


def product_code(msi: Path, tmp: Path) -> str:
    return {r["Property"]: r["Value"] for r in msi_kit.table(msi, "Property", tmp)}["ProductCode"]


def test_per_user_install_run_and_uninstall(prefix: Prefix, msis: dict[str, Path], tmp_path: Path) -> None:
    msi = msis["1.0"]
    assert prefix.msiexec("/i", msi) == 0
    programs = prefix.user_dir / "AppData" / "Local" / "Programs"
    installed = programs / msi_kit.FOLDER_NAME
    assert msi_kit.files_below(installed) == msi_kit.files_below(msi_kit.extract(msi, tmp_path / "x"))  # every byte
    assert (installed / "runtime" / "DLLs").is_dir() and (installed / "packages").is_dir()  # empty folders too
    assert not (prefix.drive_c / "Program Files" / msi_kit.FOLDER_NAME).exists()
    menu = prefix.user_dir / "AppData/Roaming/Microsoft/Windows/Start Menu/Programs"
    start_menu = menu / f"{msi_kit.FOLDER_NAME}.lnk"
    desktop = prefix.user_dir / "Desktop" / f"{msi_kit.FOLDER_NAME}.lnk"
    for link in (start_menu, desktop):
        data = link.read_bytes()
        assert "hello.exe".encode("utf-16-le") in data or b"hello.exe" in data, link
    assert '"cd_app"=dword:00000001' in prefix.user_registry()  # the HKCU key paths
    assert product_code(msi, tmp_path) in prefix.installed_product_codes()

    # The installed launcher starts the runtime DLL with exactly the arguments it was given.
    record = tmp_path / "stub-out.bin"
    arguments = ["a b", 'q"uote', "ünï 日本", "", "back\\slash\\", "--stub-exit=7"]
    code = prefix.run(installed / "hello.exe", *arguments, env={"KILN_STUB_OUT": "Z:" + str(record).replace("/", "\\")})
    assert code == 7
    dll, count, *argv = record.read_bytes().decode("utf-8").split("\0")[:-1]
    windows_dir = f"C:\\users\\{prefix.user_dir.name}\\AppData\\Local\\Programs\\{msi_kit.FOLDER_NAME}"
    assert dll == f"{windows_dir}\\runtime\\python311.dll"
    assert int(count) == len(argv)
    # -B: no bytecode written into the install folder (uninstall leaves nothing); -X utf8: UTF-8 text on any console
    assert argv == [f"{windows_dir}\\hello.exe", "-I", "-B", "-X", "utf8", f"{windows_dir}\\kiln_boot.py", *arguments]

    assert prefix.msiexec("/x", msi) == 0
    assert not installed.exists() and not programs.exists()  # Programs\ was ours and is empty again
    assert not start_menu.exists() and not desktop.exists()
    assert "cd_app" not in prefix.user_registry()
    assert product_code(msi, tmp_path) not in prefix.installed_product_codes()


def test_upgrade_replaces_and_downgrade_is_refused(prefix: Prefix, msis: dict[str, Path], tmp_path: Path) -> None:
    old, new = msis["1.0"], msis["1.1"]
    installed = prefix.user_dir / "AppData" / "Local" / "Programs" / msi_kit.FOLDER_NAME
    assert prefix.msiexec("/i", old) == 0
    assert (installed / "app" / msi_kit.DATA_FILE).is_file()
    assert prefix.msiexec("/i", new) == 0
    assert not (installed / "app" / msi_kit.DATA_FILE).exists()
    assert not (installed / "app" / "hello" / "données").exists()
    assert (installed / "app" / "hello" / "new_in_11.py").is_file()
    assert msi_kit.files_below(installed) == msi_kit.files_below(msi_kit.extract(new, tmp_path / "x"))
    codes = prefix.installed_product_codes()
    assert product_code(new, tmp_path) in codes and product_code(old, tmp_path) not in codes
    assert prefix.msiexec("/i", old) == INSTALL_FAILED  # MajorUpgrade's downgrade check
    assert (installed / "app" / "hello" / "new_in_11.py").is_file()
    assert product_code(new, tmp_path) in prefix.installed_product_codes()
    # The same version rebuilt with other content is another product and replaces the installed one.
    rebuilt = msis["1.1-rebuilt"]
    assert product_code(rebuilt, tmp_path) != product_code(new, tmp_path)
    assert prefix.msiexec("/i", rebuilt) == 0
    assert (installed / "app" / "hello" / "rebuilt.py").is_file()
    codes = prefix.installed_product_codes()
    assert product_code(rebuilt, tmp_path) in codes and product_code(new, tmp_path) not in codes


def test_per_machine_install(prefix: Prefix, msis: dict[str, Path], tmp_path: Path) -> None:
    msi = msis["machine"]
    assert prefix.msiexec("/i", msi) == 0
    installed = prefix.drive_c / "Program Files" / msi_kit.FOLDER_NAME
    assert msi_kit.files_below(installed) == msi_kit.files_below(msi_kit.extract(msi, tmp_path / "x"))
    assert not (prefix.user_dir / "AppData" / "Local" / "Programs").exists()
    links = [p for p in prefix.drive_c.rglob(f"{msi_kit.FOLDER_NAME}.lnk")]
    assert len(links) == 2  # Start menu and desktop (where Wine puts the all-users folders varies)
    assert prefix.msiexec("/x", msi) == 0
    assert not installed.exists() and not any(prefix.drive_c.rglob(f"{msi_kit.FOLDER_NAME}.lnk"))
