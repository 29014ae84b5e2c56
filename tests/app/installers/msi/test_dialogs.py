"""The MSI wizard's tables as Kiln writes them: which pages a project gets, and the licence as RTF."""

from __future__ import annotations

from kiln.installers.msi.dialogs import rtf, ui_tables


def dialogs(tables: dict[str, list[list[str]]]) -> list[str]:
    return [row[0] for row in tables["Dialog"]]


def test_pages_follow_the_project() -> None:
    everything = ui_tables(licence=rtf("MIT"), folder_page=True, launch_file="f_exe")
    assert dialogs(everything)[:3] == ["WelcomeDlg", "LicenseDlg", "FolderDlg"]
    assert {"ProgressDlg", "ExitDlg", "UserExitDlg", "FatalErrorDlg", "MaintenanceDlg"} <= set(dialogs(everything))
    assert ["LicenseDlg", "Next", "Disable", 'LicenseAccepted <> "1"'] in everything["ControlCondition"]
    assert ["KilnLaunchApp", "210", "f_exe", ""] in everything["CustomAction"]
    plain = ui_tables(licence=None, folder_page=False, launch_file=None)
    assert "LicenseDlg" not in dialogs(plain) and "FolderDlg" not in dialogs(plain)
    assert "CustomAction" not in plain
    assert ["WelcomeDlg", "Next", "EndDialog", "Return", "1", "2"] in plain["ControlEvent"]  # Welcome installs
    sequence = {row[0]: row for row in plain["InstallUISequence"]}
    assert sequence["WelcomeDlg"][1] == "NOT Installed" and sequence["MaintenanceDlg"][1] == "Installed"


def test_licence_text_becomes_rtf() -> None:
    text = rtf("Line {1}\\\nÜ 日\n")
    assert text.startswith("{\\rtf1") and text.endswith("}")
    assert "Line \\{1\\}\\\\\\par " in text and "\\u220?" in text and "\\u26085?" in text
    assert rtf("{\\rtf1 kept}\n") == "{\\rtf1 kept}"
