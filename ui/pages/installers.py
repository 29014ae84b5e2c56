"""Installers page: which installers to build, each with its options, and where they are written."""

from __future__ import annotations

import re
import uuid
from typing import Any

from PySide6.QtWidgets import QCheckBox, QFormLayout, QGridLayout, QGroupBox, QLineEdit, QVBoxLayout, QWidget

from kiln.model.errors import Problem
from kiln.model.project import (
    INSTALLER_KINDS,
    AppImageInstaller,
    DmgInstaller,
    MsiInstaller,
    PortableInstaller,
    Project,
)
from kiln.support.targets import PLATFORMS
from kiln.ui.model_edit import installer_tables, merge_options
from kiln.ui.page_ids import PageId
from kiln.ui.pages.base import KilnPage, ProjectHost
from kiln.ui.widgets import Choice, PathField, add_row, choose_folder, describe, make_form

_MODELS = {"appimage": AppImageInstaller, "msi": MsiInstaller, "dmg": DmgInstaller, "portable": PortableInstaller}
_DEFAULTS = {kind: model().model_dump(mode="json") for kind, model in _MODELS.items()}
_TITLES = {
    "appimage": ("Linux", "&AppImage: one file that runs on most Linux systems"),
    "msi": ("Windows", "&MSI: a standard Windows installer"),
    "dmg": ("macOS", "&DMG: a disk image to drag the app from"),
    "portable": ("Any system", "&Portable archive (.tar.zst): unpack and run"),
}
MAIN_CATEGORIES = ("AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network",
                   "Office", "Science", "Settings", "System", "Utility")


class InstallersPage(KilnPage):
    page_id = PageId.INSTALLERS

    def __init__(self, host: ProjectHost) -> None:
        super().__init__(
            host,
            "Installers",
            "Tick the installers you want; Kiln builds all of them on this machine, for every platform.",
        )
        self.enabled: dict[str, QCheckBox] = {}
        self.boxes: dict[str, QWidget] = {}
        self.categories = QLineEdit()
        self.categories.setPlaceholderText("e.g. Utility; Development")
        self.terminal = Choice([("Automatic: console apps only", "auto"), ("Yes", "yes"), ("No", "no")])
        self.scope = Choice([("Just the current user (no admin rights)", "per-user"),
                             ("All users of the computer (needs admin)", "per-machine")])
        self.start_menu = QCheckBox("Start m&enu shortcut")
        self.desktop = QCheckBox("Des&ktop shortcut")
        describe(self.start_menu, "Start menu shortcut", "Add the app to the Windows Start menu.")
        describe(self.desktop, "Desktop shortcut", "Put a shortcut to the app on the desktop.")
        self.volume = QLineEdit()
        self.dmg_platform = Choice([("Apple silicon (arm64)", "macos-arm64"), ("Intel (x86_64)", "macos-x86_64")])
        self.portable_platform = Choice([(p, p) for p in PLATFORMS])

        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(12)
        for index, kind in enumerate(INSTALLER_KINDS):
            grid.addWidget(self._group(kind), index // 2, index % 2)
        self.body.addLayout(grid)
        form = make_form()
        self.output = PathField("dist", choose_folder("Choose the output folder"))
        add_row(form, "&Output folder:", self.output, "Where the installers are written, relative to the project "
                "file.", buddy=self.output.edit)
        self.body.addLayout(form)
        self.body.addStretch(1)
        self.fields = {
            "installer": self.enabled["portable"], "build.output_dir": self.output.edit, "build": self.output.edit,
            "installer.appimage.categories": self.categories, "installer.appimage.terminal": self.terminal,
            "installer.msi.scope": self.scope, "installer.msi.start_menu_shortcut": self.start_menu,
            "installer.msi.desktop_shortcut": self.desktop, "installer.dmg.volume_name": self.volume,
            "installer.dmg.platform": self.dmg_platform, "installer.portable.platform": self.portable_platform,
        } | {f"installer.{kind}": box for kind, box in self.enabled.items()}
        self.watch(*self.enabled.values(), self.categories, self.terminal, self.scope, self.start_menu, self.desktop,
                   self.volume, self.dmg_platform, self.portable_platform, self.output.edit)
        self._loaded: list[dict[str, Any]] = []
        self._tables: list[dict[str, Any]] = []
        self._new_upgrade_code = str(uuid.uuid4()).upper()

    def _group(self, kind: str) -> QGroupBox:
        platform, text = _TITLES[kind]
        group = QGroupBox(platform)
        layout = QVBoxLayout(group)
        check = QCheckBox(text)
        describe(check, text.replace("&", "").split(":")[0], f"Build the {text.replace('&', '')}.")
        self.enabled[kind] = check
        layout.addWidget(check)
        options = QWidget()
        form = make_form()
        form.setContentsMargins(22, 0, 0, 0)
        options.setLayout(form)
        self._options(kind, form)
        layout.addWidget(options)
        layout.addStretch(1)
        self.boxes[kind] = options
        check.toggled.connect(options.setEnabled)
        options.setEnabled(False)
        return group

    def _options(self, kind: str, form: QFormLayout) -> None:
        if kind == "appimage":
            add_row(form, "Ca&tegories:", self.categories, "Menu categories (freedesktop.org), separated by ';', "
                    f"e.g. {', '.join(MAIN_CATEGORIES)}.")
            add_row(form, "Open a te&rminal:", self.terminal, "Whether starting the app from a menu opens a "
                    "terminal window. Automatic: yes for console apps, no for GUI apps.")
        elif kind == "msi":
            add_row(form, "&Scope:", self.scope, "Install for the current user only, or for everyone (needs admin).")
            form.addRow(self.start_menu)
            form.addRow(self.desktop)
        elif kind == "dmg":
            self.volume.setPlaceholderText("Empty: the app's display name")
            add_row(form, "&Volume name:", self.volume, "The name of the disk image when it is opened in Finder.")
            add_row(form, "Mac pro&cessor:", self.dmg_platform, "Which Macs the DMG is for: Apple silicon (M1 and "
                    "later) or Intel.")
        else:
            add_row(form, "P&latform:", self.portable_platform, "The system the portable archive runs on.")

    # --- model ---------------------------------------------------------------------------------------------------
    def load(self, project: Project) -> None:
        self._loaded = installer_tables(project)
        first: dict[str, Any] = {}
        for installer in project.installer:
            first.setdefault(installer.kind, installer)
        for kind in INSTALLER_KINDS:
            self.enabled[kind].setChecked(kind in first)
        appimage = first.get("appimage") or AppImageInstaller()
        self.categories.setText("; ".join(appimage.categories))
        terminal = {None: "auto", True: "yes", False: "no"}[appimage.terminal]
        self.terminal.set_value(terminal)
        msi = first.get("msi") or MsiInstaller(upgrade_code=self._new_upgrade_code)
        self.scope.set_value(msi.scope)
        self.start_menu.setChecked(msi.start_menu_shortcut)
        self.desktop.setChecked(msi.desktop_shortcut)
        dmg = first.get("dmg") or DmgInstaller()
        self.volume.setText(dmg.volume_name)
        self.dmg_platform.set_value(dmg.platform)
        portable = first.get("portable") or PortableInstaller()
        self.portable_platform.set_value(portable.platform)
        self.output.setText(project.build.output_dir)

    def options(self, kind: str) -> dict[str, Any]:
        if kind == "appimage":
            categories = [c for c in re.split(r"[;,\s]+", self.categories.text()) if c]
            terminal = {"auto": None, "yes": True, "no": False}[self.terminal.value()]
            return {"categories": categories, "terminal": terminal}
        if kind == "msi":
            return {"scope": self.scope.value(), "start_menu_shortcut": self.start_menu.isChecked(),
                    "desktop_shortcut": self.desktop.isChecked()}
        if kind == "dmg":
            return {"volume_name": self.volume.text().strip(), "platform": self.dmg_platform.value()}
        return {"platform": self.portable_platform.value()}

    def patch(self) -> dict[str, Any]:
        # Start from the installers as loaded, so unticking and ticking again keeps e.g. the MSI upgrade code.
        tables: list[dict[str, Any]] = []
        seen: set[str] = set()
        for table in self._loaded:
            kind = table["kind"]
            if not self.enabled[kind].isChecked():
                continue
            if kind in seen:
                tables.append(table)  # more of one kind (hand-written): kept as they are, the first is edited
                continue
            seen.add(kind)
            tables.append(merge_options(table, _DEFAULTS[kind], self.options(kind)))
        for kind in INSTALLER_KINDS:
            if self.enabled[kind].isChecked() and kind not in seen:
                table = {"kind": kind} | ({"upgrade_code": self._new_upgrade_code} if kind == "msi" else {})
                tables.append(merge_options(table, _DEFAULTS[kind], self.options(kind)))
        self._tables = tables
        return {"installer": tables, "build": {"output_dir": self.output.text() or "dist"}}

    def installer_kinds(self) -> list[str]:
        return [t["kind"] for t in self._tables]

    def checks(self) -> list[Problem]:
        if not any(check.isChecked() for check in self.enabled.values()):
            return [Problem("installer", "choose at least one installer to build")]
        if self.enabled["appimage"].isChecked() and not self.options("appimage")["categories"]:
            return [Problem("installer.appimage.categories", "enter at least one menu category, e.g. Utility")]
        return []
