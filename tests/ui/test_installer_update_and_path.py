"""The Installers page offers the MSI's PATH option and the AppImage's update URL and start cache, and writes them to
the project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiln.source.detect import detect
from kiln.ui.page_ids import PageId
from kiln.ui.pages.installers import InstallersPage


def test_path_update_url_and_start_cache_reach_the_installer_tables(driver: Any, hello: Path) -> None:
    driver.wizard.start_new(hello, detect(hello))
    driver.wizard.setStartId(PageId.INSTALLERS)
    driver.wizard.restart()
    page: InstallersPage = driver.page(PageId.INSTALLERS)
    driver.tick(page.enabled["msi"])
    driver.tick(page.enabled["appimage"])
    driver.choose(page.option("msi", "add_to_path"), False)
    driver.type(page.option("appimage", "update_url"), "ftp://nope/")
    assert any("http" in p.message for p in page.checks())  # the AppImage model's own check
    driver.type(page.option("appimage", "update_url"), "https://example.org/downloads/")
    assert page.option("appimage", "start_cache").isChecked()  # on by default
    driver.tick(page.option("appimage", "start_cache"), False)
    assert not page.checks()
    tables = {table["kind"]: table for table in page.patch()["installer"]}
    assert tables["msi"]["add_to_path"] is False
    assert tables["appimage"]["update_url"] == "https://example.org/downloads/"
    assert tables["appimage"]["start_cache"] is False


def test_licence_file_and_file_types_reach_the_project(driver: Any, hello: Path) -> None:
    driver.wizard.start_new(hello, detect(hello))
    driver.wizard.setStartId(PageId.INSTALLERS)
    driver.wizard.restart()
    page: InstallersPage = driver.page(PageId.INSTALLERS)
    box = page.file_types
    driver.type(box.license.edit, "LICENSE")
    box.add_button.click()
    box.table.item(0, 0).setText(".tally")
    assert any("without the dot" in p.message for p in page.checks())
    box.table.item(0, 0).setText("tally")
    box.table.item(0, 1).setText("Tally document")
    assert not page.checks()
    patch = page.patch()
    assert patch["app"] == {"license_file": "LICENSE"}
    assert patch["association"] == [{"extension": "tally", "description": "Tally document"}]
    project = driver.wizard.project
    assert project.app.license_file == "LICENSE"
    assert [(a.extension, a.description, a.mime) for a in project.association] == [
        ("tally", "Tally document", "application/x-tally")]
    box.table.selectRow(0)
    box.remove_button.click()
    assert driver.wizard.project.association == []
