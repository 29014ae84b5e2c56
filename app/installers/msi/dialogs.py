"""The MSI's wizard: Welcome → Licence → Install folder → Progress → Finish, and Repair/Remove for an installed app.

wixl rejects WixUI, so the dialogs are authored as Windows Installer UI tables (Dialog, Control, ControlEvent,
ControlCondition, EventMapping, CheckBox, TextStyle) and added with msibuild after wixl. The InstallUISequence
runs them only in an interactive install: `msiexec /qn` skips the whole UI sequence, so silent installs are
unchanged.

- The licence page appears when the project has `[app] license_file` (RTF as it is; plain text converted); its
  "I accept" check box enables Next.
- The folder page appears for per-machine installs (per-user installs go to the per-user programs folder).
- The finish page of a GUI app offers "Launch <app>" (ticked), which starts the installed launcher.
- Started again once installed (Apps & Features' Change/Repair, or opening the .msi), the maintenance page
  offers Repair and Remove.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiln.installers.msi.registration import add_rows, find_launcher
from kiln.installers.msi.tables import table_rows
from kiln.support.errors import KilnError

WIDTH, HEIGHT = 370, 270
FONT = "Tahoma"
_SCHEMAS = {
    "Dialog": ("Dialog\tHCentering\tVCentering\tWidth\tHeight\tAttributes\tTitle\tControl_First\tControl_Default\t"
               "Control_Cancel", "s72\ti2\ti2\ti2\ti2\tI4\tL128\ts50\tS50\tS50", "Dialog\tDialog"),
    "Control": ("Dialog_\tControl\tType\tX\tY\tWidth\tHeight\tAttributes\tProperty\tText\tControl_Next\tHelp",
                "s72\ts50\ts20\ti2\ti2\ti2\ti2\tI4\tS72\tL0\tS50\tL50", "Control\tDialog_\tControl"),
    "ControlEvent": ("Dialog_\tControl_\tEvent\tArgument\tCondition\tOrdering", "s72\ts50\ts50\ts255\tS255\tI2",
                     "ControlEvent\tDialog_\tControl_\tEvent\tArgument\tCondition"),
    "ControlCondition": ("Dialog_\tControl_\tAction\tCondition", "s72\ts50\ts50\ts255",
                         "ControlCondition\tDialog_\tControl_\tAction\tCondition"),
    "EventMapping": ("Dialog_\tControl_\tEvent\tAttribute", "s72\ts50\ts50\ts50",
                     "EventMapping\tDialog_\tControl_\tEvent"),
    "CheckBox": ("Property\tValue", "s72\tS64", "CheckBox\tProperty"),
    "TextStyle": ("TextStyle\tFaceName\tSize\tColor\tStyleBits", "s72\ts32\ti2\tI4\tI2", "TextStyle\tTextStyle"),
    "RegLocator": ("Signature_\tRoot\tKey\tName\tType", "s72\ti2\ts255\tS255\tI2", "RegLocator\tSignature_"),
    "AppSearch": ("Property\tSignature_", "s72\ts72", "AppSearch\tProperty\tSignature_"),
}
# Control attributes: visible 1, enabled 2, sunken 4, transparent 0x10000, no "&" mnemonics in text 0x20000.
_SHOWN, _SUNKEN, _TEXT, _BAR = "3", "7", str(0x30003), str(0x10001)
_TITLE = "{\\KilnTitle}"


@dataclass
class _Dialogs:
    tables: dict[str, list[list[str]]]

    def add(self, table: str, *row: str) -> None:
        self.tables.setdefault(table, []).append(list(row))

    def dialog(self, name: str, title: str, controls: list[list[str]], first: str, default: str, cancel: str,
               attributes: str = "3") -> None:
        self.add("Dialog", name, "50", "50", str(WIDTH), str(HEIGHT), attributes, title, first, default, cancel)
        focusable = [c[0] for c in controls if c[1] in ("PushButton", "CheckBox", "PathEdit", "ScrollableText")]
        for control, kind, x, y, w, h, attributes_, prop, text in controls:
            after = ""
            if control in focusable:
                after = focusable[(focusable.index(control) + 1) % len(focusable)] if len(focusable) > 1 else ""
            self.add("Control", name, control, kind, x, y, w, h, attributes_, prop, text, after, "")


def _buttons(back: bool, next_text: str = "&Next >") -> list[list[str]]:
    rows = [["Next", "PushButton", "236", "243", "56", "17", _SHOWN, "", next_text],
            ["Cancel", "PushButton", "304", "243", "56", "17", _SHOWN, "", "Cancel"]]
    if back:
        rows.insert(0, ["Back", "PushButton", "176", "243", "56", "17", _SHOWN, "", "< &Back"])
    return [*rows, ["Line", "Line", "0", "234", str(WIDTH), "0", "1", "", ""]]


def rtf(text: str) -> str:
    """Plain text as one-line RTF (a ScrollableText control shows RTF only); RTF input is kept."""
    if text.lstrip().startswith("{\\rtf"):
        return " ".join(text.splitlines())
    body = []
    for char in text.replace("\r\n", "\n"):
        if char == "\n":
            body.append("\\par ")
        elif char in "\\{}":
            body.append("\\" + char)
        elif ord(char) > 126 or ord(char) < 32:
            code = ord(char)
            body.append(f"\\u{code if code < 32768 else code - 65536}?" if code >= 32 or char == "\t" else " ")
        else:
            body.append(char)
    return "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 " + FONT + ";}}\\f0\\fs16 " + "".join(body) + "}"


def ui_tables(*, licence: str | None, folder_page: bool, launch_file: str | None) -> dict[str, list[list[str]]]:
    """Every row of the wizard. `licence`: RTF text or None; `launch_file`: the launcher's File key for "Launch"."""
    d = _Dialogs({})
    pages = ["WelcomeDlg", *(["LicenseDlg"] if licence is not None else []), *(["FolderDlg"] if folder_page else [])]
    title = "[ProductName] Setup"
    d.dialog("WelcomeDlg", title, [
        ["Title", "Text", "20", "20", "330", "40", _TEXT, "", f"{_TITLE}Welcome to the [ProductName] setup"],
        ["Body", "Text", "20", "70", "330", "60", _TEXT, "",
         "This installs [ProductName] [ProductVersion] on your computer. Click Next to continue, or Cancel to "
         "leave without installing."],
        *_buttons(False, "&Next >" if len(pages) > 1 else "&Install")], "Next", "Next", "Cancel")
    if licence is not None:
        d.dialog("LicenseDlg", f"{title}: licence", [
            ["Title", "Text", "20", "10", "330", "20", _TEXT, "", f"{_TITLE}Licence agreement"],
            ["Licence", "ScrollableText", "20", "35", "330", "160", _SUNKEN, "", licence],
            ["Accept", "CheckBox", "20", "205", "330", "18", _SHOWN, "LicenseAccepted",
             "I &accept the terms of the licence"],
            *_buttons(True, "&Next >" if pages[-1] != "LicenseDlg" else "&Install")], "Licence", "Next", "Cancel")
        d.add("CheckBox", "LicenseAccepted", "1")
        d.add("ControlCondition", "LicenseDlg", "Next", "Disable", 'LicenseAccepted <> "1"')
        d.add("ControlCondition", "LicenseDlg", "Next", "Enable", 'LicenseAccepted = "1"')
    if folder_page:
        d.dialog("FolderDlg", f"{title}: install folder", [
            ["Title", "Text", "20", "10", "330", "20", _TEXT, "", f"{_TITLE}Install folder"],
            ["Body", "Text", "20", "40", "330", "30", _TEXT, "", "[ProductName] will be installed in this folder "
             "for every user of the computer. Type another folder to install it there."],
            ["Folder", "PathEdit", "20", "80", "330", "18", _SHOWN, "INSTALLDIR", ""],
            *_buttons(True, "&Install")], "Folder", "Next", "Cancel")
        d.add("ControlEvent", "FolderDlg", "Next", "SetTargetPath", "INSTALLDIR", "1", "1")
    for index, page in enumerate(pages):
        following = pages[index + 1] if index + 1 < len(pages) else None
        d.add("ControlEvent", page, "Next", "NewDialog" if following else "EndDialog", following or "Return",
              'LicenseAccepted = "1"' if page == "LicenseDlg" else "1", "2")
        d.add("ControlEvent", page, "Cancel", "EndDialog", "Exit", "1", "1")
        if index:
            d.add("ControlEvent", page, "Back", "NewDialog", pages[index - 1], "1", "1")
    d.dialog("ProgressDlg", f"{title}: installing", [
        ["Title", "Text", "20", "20", "330", "20", _TEXT, "", f"{_TITLE}Installing [ProductName]"],
        ["ActionText", "Text", "20", "70", "330", "20", _TEXT, "", ""],
        ["ProgressBar", "ProgressBar", "20", "95", "330", "12", _BAR, "", "Progress"],
        ["Cancel", "PushButton", "304", "243", "56", "17", _SHOWN, "", "Cancel"]],
        "Cancel", "Cancel", "Cancel", attributes="1")
    d.add("EventMapping", "ProgressDlg", "ActionText", "ActionText", "Text")
    d.add("EventMapping", "ProgressDlg", "ProgressBar", "SetProgress", "Progress")
    d.add("ControlEvent", "ProgressDlg", "Cancel", "SpawnDialog", "CancelDlg", "1", "1")
    d.dialog("CancelDlg", f"{title}: cancel", [
        ["Text", "Text", "20", "20", "330", "40", _TEXT, "", "Stop the setup of [ProductName]?"],
        ["Yes", "PushButton", "236", "243", "56", "17", _SHOWN, "", "&Yes"],
        ["No", "PushButton", "304", "243", "56", "17", _SHOWN, "", "N&o"]], "No", "No", "No")
    d.add("ControlEvent", "CancelDlg", "Yes", "EndDialog", "Exit", "1", "1")
    d.add("ControlEvent", "CancelDlg", "No", "EndDialog", "Return", "1", "1")
    finish = [["Title", "Text", "20", "20", "330", "40", _TEXT, "", f"{_TITLE}[ProductName] is installed"],
              ["Finish", "PushButton", "304", "243", "56", "17", _SHOWN, "", "&Finish"]]
    if launch_file:
        finish.insert(1, ["Launch", "CheckBox", "20", "80", "330", "18", _SHOWN, "LAUNCHAPP",
                          "&Launch [ProductName]"])
        d.add("CheckBox", "LAUNCHAPP", "1")
        d.add("ControlCondition", "ExitDlg", "Launch", "Hide", "Installed")
        d.add("ControlEvent", "ExitDlg", "Finish", "DoAction", "KilnLaunchApp", 'LAUNCHAPP = "1" AND NOT Installed',
              "1")
        d.add("CustomAction", "KilnLaunchApp", "210", launch_file, "")  # exe from the File table, async, no wait
    d.dialog("ExitDlg", f"{title}: complete", finish, "Finish", "Finish", "Finish")
    d.add("ControlEvent", "ExitDlg", "Finish", "EndDialog", "Return", "1", "2")
    for name, text in (("UserExitDlg", "[ProductName] was not installed."),
                       ("FatalErrorDlg", "[ProductName] could not be installed: the setup ended with an error.")):
        d.dialog(name, f"{title}: stopped", [["Title", "Text", "20", "20", "330", "40", _TEXT, "", text],
                                             ["Finish", "PushButton", "304", "243", "56", "17", _SHOWN, "",
                                              "&Finish"]], "Finish", "Finish", "Finish")
        d.add("ControlEvent", name, "Finish", "EndDialog", "Return", "1", "1")
    d.dialog("MaintenanceDlg", f"{title}: change", [
        ["Title", "Text", "20", "20", "330", "40", _TEXT, "", f"{_TITLE}[ProductName] is installed"],
        ["Body", "Text", "20", "70", "330", "40", _TEXT, "", "Repair puts back missing or damaged files; Remove "
         "uninstalls [ProductName] from this computer."],
        ["Repair", "PushButton", "176", "243", "56", "17", _SHOWN, "", "&Repair"],
        ["Remove", "PushButton", "236", "243", "56", "17", _SHOWN, "", "Re&move"],
        ["Cancel", "PushButton", "304", "243", "56", "17", _SHOWN, "", "Cancel"]], "Remove", "Remove", "Cancel")
    # The Reinstall/ReinstallMode/Remove control events select the features, as WixUI's maintenance dialogs do.
    # Wine's msiexec costs again before executing and then reads only the REINSTALL/REMOVE properties, and only
    # while Preselected is unset: so those are set too, and Preselected cleared ("{}" = no value).
    for ordering, (event, argument) in enumerate([("ReinstallMode", "ecmus"), ("Reinstall", "ALL"),
                                                  ("[REINSTALLMODE]", "ecmus"), ("[REINSTALL]", "ALL"),
                                                  ("[Preselected]", "{}"), ("EndDialog", "Return")], 1):
        d.add("ControlEvent", "MaintenanceDlg", "Repair", event, argument, "1", str(ordering))
    for ordering, (event, argument) in enumerate([("Remove", "ALL"), ("[REMOVE]", "ALL"), ("[Preselected]", "{}"),
                                                  ("EndDialog", "Return")], 1):
        d.add("ControlEvent", "MaintenanceDlg", "Remove", event, argument, "1", str(ordering))
    d.add("ControlEvent", "MaintenanceDlg", "Cancel", "EndDialog", "Exit", "1", "1")
    d.add("TextStyle", "KilnTitle", FONT, "12", "0", "1")
    d.add("TextStyle", "KilnDefault", FONT, "8", "0", "0")
    d.add("Property", "DefaultUIFont", "KilnDefault")
    d.add("Property", "ErrorDialog", "FatalErrorDlg")
    if launch_file:
        d.add("Property", "LAUNCHAPP", "1")
    for action, condition, number in (("WelcomeDlg", "NOT Installed", "1230"), ("MaintenanceDlg", "Installed", "1230"),
                                      ("ProgressDlg", "", "1280"), ("ExitDlg", "", "-1"),
                                      ("UserExitDlg", "", "-2"), ("FatalErrorDlg", "", "-3")):
        d.add("InstallUISequence", action, condition, number)
    return d.tables


def read_licence(path: Path) -> str:
    """The licence file as RTF for the licence page."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KilnError(f"cannot read the licence file {path}: {e.strerror}",
                        hint="fix license_file in [app] (a plain text or RTF file)") from None
    return rtf(data.decode("utf-8", errors="replace"))


def remembered_folder(upgrade_code: str, component: str) -> dict[str, list[list[str]]]:
    """Rows that store the chosen folder (HKLM) and read it back before costing (AppSearch), so maintenance,
    repair, removal and upgrades find the app where the user put it, as WiX's "remember property" pattern does."""
    key = f"Software\\Kiln\\{upgrade_code}"
    return {
        "Registry": [["r_kiln_installdir", "2", key, "InstallDir", "[INSTALLDIR]", component]],
        "RegLocator": [["s_kiln_installdir", "2", key, "InstallDir", "18"]],  # raw value, 64-bit view
        "AppSearch": [["INSTALLDIR", "s_kiln_installdir"]],
    }


def add_dialogs(msi: Path, *, licence_file: Path | None, per_machine: bool, gui: bool, exe_name: str,
                work: Path) -> None:
    """Add the wizard's tables to `msi` (after wixl and the string fixes)."""
    work.mkdir(parents=True, exist_ok=True)
    launcher = find_launcher(table_rows(msi, "File", raw=True), exe_name)
    tables = ui_tables(licence=read_licence(licence_file) if licence_file else None, folder_page=per_machine,
                       launch_file=launcher.file_key if gui else None)
    if per_machine:
        upgrade_code = next(row["Value"] for row in table_rows(msi, "Property", raw=True) if row["Property"] ==
                            "UpgradeCode")
        tables.update(remembered_folder(upgrade_code, launcher.component))
        tables["InstallUISequence"].append(["AppSearch", "", "50"])
        # The execute sequence too (silent repairs and removals), and the registry actions a per-machine package
        # from wixl lacks (it has no other registry values).
        add_rows(msi, {}, {"AppSearch": 50, "RemoveRegistryValues": 2600, "WriteRegistryValues": 5000}, work)
    add_rows(msi, tables, {}, work, schemas=_SCHEMAS)
