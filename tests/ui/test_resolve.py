"""After edits, the Dependencies page asks pip's resolver (in a child process) whether every requirement has
wheels for every platform the installers target, and shows the answer per platform."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from kiln.ui.page_ids import PageId


def test_results_per_platform_after_an_edit(driver: Any, hello: Path) -> None:
    start = driver.page(PageId.START)
    driver.type(start.folder.edit, "~/hello")
    driver.next(PageId.APPLICATION)
    driver.go_to(PageId.INSTALLERS)
    installers = driver.page(PageId.INSTALLERS).enabled
    assert installers["msi"].isChecked() and installers["dmg"].isChecked()  # a new project lists every platform
    while driver.wizard.currentId() != PageId.DEPENDENCIES:
        driver.click(driver.wizard.button(driver.wizard.WizardButton.BackButton))
    deps = driver.page(PageId.DEPENDENCIES)
    platforms = {"linux-x86_64", "windows-x86_64", "macos-arm64"}
    driver.qtbot.waitUntil(lambda: set(deps.resolution) == platforms, timeout=180_000)
    assert all(r["ok"] for r in deps.resolution.values()), deps.resolve_status.text()
    assert any(p.startswith("rich ") for p in deps.resolution["windows-x86_64"]["packages"])
    assert "✓ windows-x86_64: rich" in deps.resolve_status.text()

    driver.click(deps.add_button)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    driver.qtbot.keyClicks(editor, "kiln-no-such-package-zz")
    driver.qtbot.keyClick(editor, Qt.Key.Key_Return)
    driver.qtbot.waitUntil(lambda: set(deps.resolution) == platforms
                           and not any(r["ok"] for r in deps.resolution.values()), timeout=180_000)
    assert "✗" in deps.resolve_status.text()
    assert "kiln-no-such-package-zz" in deps.resolution["linux-x86_64"]["reason"]
    assert "the build for it will fail" in deps.resolve_status.text()
    driver.screenshot("dependencies-check")
