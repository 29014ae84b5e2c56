"""The MSI upgrade code is generated once: unticking and ticking the MSI again keeps it, and so do save and reopen."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from kiln.ui.page_ids import PageId


def msi_code(d: Any) -> str:
    codes = [i.upgrade_code for i in d.wizard.project.installer if i.kind == "msi"]
    assert len(codes) == 1
    return str(codes[0])


def new_project_with_msi(make_driver: Any) -> tuple[Any, Any, str]:
    """A new project for ~/hello with the MSI ticked on the Installers page: (driver, page, its upgrade code)."""
    d = make_driver()
    start = d.page(PageId.START)
    d.type(start.folder.edit, "~/hello")
    d.next(PageId.APPLICATION)
    d.go_to(PageId.INSTALLERS)
    page = d.page(PageId.INSTALLERS)
    d.tick(page.enabled["msi"])
    return d, page, msi_code(d)


def test_upgrade_code_survives_untick_retick_and_reopen(make_driver: Any, hello: Path) -> None:
    d, page, code = new_project_with_msi(make_driver)
    d.tick(page.enabled["msi"], False)
    assert not any(i.kind == "msi" for i in d.wizard.project.active_installers())  # kept, switched off
    d.tick(page.enabled["msi"])
    assert msi_code(d) == code  # the identifier Windows uses to replace old versions never changes
    d.qtbot.keyClick(d.wizard, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    saved = tomllib.loads((hello / "kiln.toml").read_text(encoding="utf-8"))
    assert [i["upgrade_code"] for i in saved["installer"] if i["kind"] == "msi"] == [code]

    again = make_driver()
    again.open_project(hello / "kiln.toml")
    again.go_to(PageId.INSTALLERS)
    page = again.page(PageId.INSTALLERS)
    assert msi_code(again) == code
    again.tick(page.enabled["msi"], False)
    again.tick(page.enabled["msi"])
    assert msi_code(again) == code  # also for a kind that came from the file


def test_upgrade_code_survives_untick_save_and_reopen(make_driver: Any, hello: Path) -> None:
    """Unticked and saved, the MSI table stays in the file switched off (enabled = false): nothing builds it,
    and ticking it after reopening gives the same upgrade code back."""
    d, page, code = new_project_with_msi(make_driver)
    d.qtbot.keyClick(d.wizard, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    d.tick(page.enabled["msi"], False)
    d.qtbot.keyClick(d.wizard, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    saved = tomllib.loads((hello / "kiln.toml").read_text(encoding="utf-8"))
    (msi,) = [i for i in saved["installer"] if i["kind"] == "msi"]
    assert msi["upgrade_code"] == code and msi["enabled"] is False
    assert "msi" not in [i.kind for i in d.wizard.project.active_installers()]

    again = make_driver()
    again.open_project(hello / "kiln.toml")
    again.go_to(PageId.INSTALLERS)
    page = again.page(PageId.INSTALLERS)
    assert not page.enabled["msi"].isChecked()
    again.tick(page.enabled["msi"])
    assert msi_code(again) == code
    again.qtbot.keyClick(again.wizard, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    saved = tomllib.loads((hello / "kiln.toml").read_text(encoding="utf-8"))
    (msi,) = [i for i in saved["installer"] if i["kind"] == "msi"]
    assert msi["upgrade_code"] == code and "enabled" not in msi
