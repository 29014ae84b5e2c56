"""The Entry page shows what detection found in the project's metadata (console and GUI scripts, src layouts),
labelled by detection; it never preselects an entry whose code is missing, follows a new source folder, and
checks the entry with the core's rules (so a src-layout entry passes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.apps import SETUP_PY, SRC_LAYOUT, write_app, write_rewrite
from PySide6.QtCore import Qt

from kiln.ui.page_ids import PageId


def entry_page(d: Any, folder: Path) -> Any:
    start = d.page(PageId.START)
    d.type(start.folder.edit, f"~/{folder.name}")
    d.next()  # a setup.py project's metadata comes from its build backend: that can take a while
    d.qtbot.waitUntil(lambda: d.wizard.currentId() == PageId.APPLICATION, timeout=120_000)
    d.next(PageId.ENTRY)
    page = d.page(PageId.ENTRY)
    d.qtbot.waitUntil(lambda: page.candidates.count() > 0)
    return page


def labels(page: Any) -> list[str]:
    return [page.candidates.item(r).text() for r in range(page.candidates.count())]


def test_src_layout_scripts_from_metadata_and_next_passes(driver: Any, home: Path) -> None:
    page = entry_page(driver, write_app(home / "srcgui", SRC_LAYOUT))
    assert labels(page) == ["srcgui = srcgui.app:main (gui script)", "srcgui-cli = srcgui.cli:main (console script)"]
    assert page.target.text() == "srcgui.app:main" and page.gui.isChecked()
    assert page.candidates.currentRow() == 0
    page.candidates.setCurrentRow(1)  # a click on the console script
    assert page.target.text() == "srcgui.cli:main" and page.console.isChecked()
    driver.next(PageId.DEPENDENCIES)  # found in the project's wheel (src/), not refused as missing from '.'


def test_an_entry_whose_code_is_missing_is_listed_but_not_preselected(driver: Any, home: Path) -> None:
    files = dict(SETUP_PY)
    files["setup.py"] = files["setup.py"].replace(
        "['setuptool = setuptool.main:run']", "['ghost = setuptool.gone:main', 'setuptool = setuptool.main:run']")
    page = entry_page(driver, write_app(home / "setuptool", files))
    assert "ghost = setuptool.gone:main (console script) — module not found in the project" in labels(page)
    assert page.target.text() == "setuptool.main:run"


def test_a_new_source_folder_replaces_a_stale_entry(driver: Any, home: Path) -> None:
    folder = write_app(home / "srcgui", SRC_LAYOUT)
    write_app(folder / "tools", {"helper.py": "if __name__ == '__main__':\n    print('helper')\n"})
    page = entry_page(driver, folder)
    assert page.target.text() == "srcgui.app:main"
    driver.type(page.root.edit, "tools")
    page.root.edit.editingFinished.emit()  # leaving the field
    driver.qtbot.waitUntil(lambda: page.target.text() != "srcgui.app:main", timeout=15000)
    assert page.target.text() == "helper.py"
    assert any("helper.py" in label for label in labels(page))


def test_next_refuses_a_function_the_module_does_not_define(driver: Any, home: Path) -> None:
    page = entry_page(driver, write_rewrite(home / "rewrite"))
    assert page.target.text() == "ReWrite.__main__:main" and page.gui.isChecked()
    driver.type(page.target, "ReWrite.__main__:nosuch")
    driver.next()
    assert driver.wizard.currentId() == PageId.ENTRY
    assert page.message.text() == ("Module or script: ReWrite.__main__ has no function nosuch (Kiln read the file "
                                   "without running it) (check the name after the ':', or pick one Kiln found)")
    driver.type(page.target, "ReWrite.__main__:main")
    driver.next(PageId.DEPENDENCIES)


def test_the_highlighted_entry_clicked_again_restores_it_after_an_edit(driver: Any, home: Path) -> None:
    page = entry_page(driver, write_app(home / "srcgui", SRC_LAYOUT))
    assert page.candidates.currentRow() == 0
    driver.type(page.target, "srcgui.app:other")
    assert page.candidates.currentRow() == -1  # the text no longer matches: nothing highlighted
    rect = page.candidates.visualItemRect(page.candidates.item(0))
    driver.qtbot.mouseClick(page.candidates.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.target.text() == "srcgui.app:main" and page.gui.isChecked()
    page.target.setText("srcgui.app:other")  # an edit the list did not see (e.g. pasted): the row stays current
    page.candidates.setCurrentRow(0)
    driver.qtbot.mouseClick(page.candidates.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.target.text() == "srcgui.app:main"


def test_opening_another_project_reads_its_folder_for_the_list(driver: Any, home: Path) -> None:
    page = entry_page(driver, write_app(home / "empty", {"notes.py": "X = 1\n"}))
    assert labels(page) == ["(nothing found: type the entry point below)"]
    folder = write_app(home / "srcgui", SRC_LAYOUT)
    (folder / "kiln.toml").write_text('[app]\nname = "srcgui"\nversion = "1"\nidentifier = "org.example.srcgui"\n'
                                      '[entry]\nmodule = "srcgui.cli:main"\n', encoding="utf-8")
    assert driver.wizard.open_path(folder / "kiln.toml")
    assert driver.wizard.currentId() == PageId.ENTRY
    driver.qtbot.waitUntil(lambda: len(labels(page)) == 2, timeout=60_000)
    assert page.target.text() == "srcgui.cli:main"  # the project's own choice, not detection's first
    assert page.candidates.currentRow() == 1
