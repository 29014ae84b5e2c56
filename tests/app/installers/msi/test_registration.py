"""File associations and PATH in the MSI: the rows `msiinfo export` shows, and under Wine the registry holding the
association and the PATH entry after install and neither after uninstall."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import tomlkit
from kit import msi as msi_kit
from kit.wine import Prefix

from kiln.installers.msi.registration import Launcher, association_rows, prog_id
from kiln.model.associations import Association

ASSOCIATIONS = [{"extension": "tally", "description": "Tally document"},
                {"extension": "knote", "description": "Kiln note", "mime_type": "text/x-kiln-note"}]




def build(base: Path, name: str, scope: str, **options: object) -> Path:
    folder = base / name
    folder.mkdir()
    msi_kit.write_app(folder)
    project = msi_kit.write_project(folder, msi_kit.fake_runtime_archive(folder, base / "python311.dll"), scope=scope,
                                **options)
    document = tomlkit.parse(project.read_text(encoding="utf-8"))
    document["association"] = ASSOCIATIONS
    project.write_text(tomlkit.dumps(document), encoding="utf-8")
    return msi_kit.built_msi(project, base / "cache")


@pytest.fixture(scope="module")
def msis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    msi_kit.need("wixl", "msibuild", "msiinfo", "x86_64-w64-mingw32-gcc")
    base = tmp_path_factory.mktemp("registration")
    msi_kit.compile_stub_dll(base / "python311.dll")
    return {"per-user": build(base, "user", "per-user"), "per-machine": build(base, "machine", "per-machine"),
            "gui": build(base, "gui", "per-user", add_to_path=False)}


def launcher_row(msi: Path, tmp_path: Path) -> dict[str, str]:
    (row,) = [r for r in msi_kit.table(msi, "File", tmp_path) if r["FileName"].split("|")[-1] == "hello.exe"]
    return row


def test_prog_ids_are_valid() -> None:
    assert prog_id("hello-world", Association(extension="x-y_1", description="d")) == "helloworld.xy1"
    assert len(prog_id("a" * 60, Association(extension="b" * 32, description="d"))) <= 39


def test_per_machine_rows_in_progid_extension_verb_mime_and_environment(msis: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    msi = msis["per-machine"]
    exe = launcher_row(msi, tmp_path)
    assert msi_kit.table(msi, "ProgId", tmp_path) == [
        {"ProgId": "hello.tally", "ProgId_Parent": "", "Class_": "", "Description": "Tally document",
         "Icon_": "AppIcon.ico", "IconIndex": "0"},
        {"ProgId": "hello.knote", "ProgId_Parent": "", "Class_": "", "Description": "Kiln note",
         "Icon_": "AppIcon.ico", "IconIndex": "0"}]
    assert sorted(msi_kit.table(msi, "Extension", tmp_path), key=lambda r: r["Extension"]) == [
        {"Extension": "knote", "Component_": exe["Component_"], "ProgId_": "hello.knote", "MIME_": "text/x-kiln-note",
         "Feature_": "Main"},
        {"Extension": "tally", "Component_": exe["Component_"], "ProgId_": "hello.tally",
         "MIME_": "application/x-tally", "Feature_": "Main"}]
    verbs = msi_kit.table(msi, "Verb", tmp_path)
    assert {(r["Extension_"], r["Verb"], r["Command"], r["Argument"]) for r in verbs} == {
        ("tally", "open", "&Open", '"%1"'), ("knote", "open", "&Open", '"%1"')}
    assert msi_kit.table(msi, "Environment", tmp_path) == [
        {"Environment": "e_path", "Name": "=-*PATH", "Value": "[~];[INSTALLDIR]", "Component_": exe["Component_"]}]
    actions = {r["Action"]: int(r["Sequence"]) for r in msi_kit.table(msi, "InstallExecuteSequence", tmp_path)}
    assert actions["InstallFiles"] < actions["RegisterExtensionInfo"] < actions["InstallFinalize"]
    assert actions["RemoveEnvironmentStrings"] < actions["InstallFiles"] < actions["WriteEnvironmentStrings"]
    assert "UnregisterProgIdInfo" in actions and "RegisterMIMEInfo" in actions


def test_per_user_rows_in_registry_and_environment(msis: dict[str, Path], tmp_path: Path) -> None:
    msi = msis["per-user"]
    exe = launcher_row(msi, tmp_path)
    rows = {(r["Key"], r["Name"]): (r["Root"], r["Value"], r["Component_"])
            for r in msi_kit.table(msi, "Registry", tmp_path) if r["Registry"].startswith("r_assoc_")}
    file = exe["File"]
    assert rows[("Software\\Classes\\.tally", "")] == ("1", "hello.tally", exe["Component_"])
    assert rows[("Software\\Classes\\.tally", "Content Type")][1] == "application/x-tally"
    assert rows[("Software\\Classes\\hello.tally\\shell\\open\\command", "")][1] == f'"[#{file}]" "%1"'
    assert rows[("Software\\Classes\\hello.knote", "")][1] == "Kiln note"
    assert msi_kit.table(msi, "Environment", tmp_path)[0]["Name"] == "=-PATH"
    tables = subprocess.run(["msiinfo", "tables", str(msi)], capture_output=True, text=True, check=True).stdout
    assert "Extension" not in tables.split()  # per-user: no component has the launcher as key file


def test_add_to_path_false_writes_no_environment_table(msis: dict[str, Path]) -> None:
    tables = subprocess.run(["msiinfo", "tables", str(msis["gui"])], capture_output=True, text=True, check=True)
    assert "Environment" not in tables.stdout.split() and "Registry" in tables.stdout.split()


def test_association_rows_for_hostile_descriptions() -> None:
    rows = association_rows("x", [Association(extension="a", description='Tab\u00a0"q" <&>')],
                            Launcher("f_exe", "c_exe"), "per-machine")
    assert rows["ProgId"][0][3] == 'Tab\u00a0"q" <&>'


# -- under Wine ---------------------------------------------------------------------------------------------------


def reg_query(prefix: Prefix, key: str) -> str:  # type: ignore[name-defined]
    result = subprocess.run(["wine", "reg", "query", key], env=prefix.env, capture_output=True, timeout=120)
    return result.stdout.decode("utf-8", errors="replace") if result.returncode == 0 else ""


@pytest.mark.long  # bash .ci/long
@pytest.mark.wine
@pytest.mark.slow
@pytest.mark.parametrize("scope", ["per-user", "per-machine"])
def test_wine_install_registers_and_uninstall_removes(prefix: Prefix, msis: dict[str, Path],  # type: ignore
                                                      scope: str) -> None:
    msi = msis[scope]
    environment = ("HKLM\\System\\CurrentControlSet\\Control\\Session Manager\\Environment" if scope == "per-machine"
                   else "HKCU\\Environment")
    assert prefix.msiexec("/i", msi) == 0
    subprocess.run(["wineserver", "-w"], env=prefix.env, timeout=120)
    classes = "HKLM\\Software\\Classes" if scope == "per-machine" else "HKCU\\Software\\Classes"
    assert "hello.tally" in reg_query(prefix, f"{classes}\\.tally")
    command = reg_query(prefix, f"{classes}\\hello.tally\\shell\\open\\command")
    assert "hello.exe" in command and '"%1"' in command, command
    assert "hello.knote" in reg_query(prefix, f"{classes}\\.knote")
    path = reg_query(prefix, environment)
    install = "Program Files" if scope == "per-machine" else "Programs"
    assert any(line.strip().upper().startswith("PATH") and install in line for line in path.splitlines()), path
    assert prefix.msiexec("/x", msi) == 0
    subprocess.run(["wineserver", "-w"], env=prefix.env, timeout=120)
    assert "hello.tally" not in reg_query(prefix, f"{classes}\\.tally")
    assert "hello.exe" not in reg_query(prefix, f"{classes}\\hello.tally\\shell\\open\\command")
    remaining = [line for line in reg_query(prefix, environment).splitlines()
                 if line.strip().upper().startswith("PATH")]
    assert not any(install in line for line in remaining), remaining
