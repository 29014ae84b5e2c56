"""After edits, the Dependencies page asks `kiln resolve` (uv, in a child process) whether every requirement
resolves for every platform the installers target, and shows the answer per platform: each package with where its
version comes from, and a name that is not on the package index said in words."""

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
    driver.tick(driver.page(PageId.INSTALLERS).enabled["msi"])  # Windows too
    while driver.wizard.currentId() != PageId.DEPENDENCIES:
        driver.click(driver.wizard.button(driver.wizard.WizardButton.BackButton))
    deps = driver.page(PageId.DEPENDENCIES)
    driver.qtbot.waitUntil(lambda: set(deps.resolution) == {"linux-x86_64", "windows-x86_64"}, timeout=180_000)
    assert all(r["ok"] for r in deps.resolution.values()), deps.resolve_status.text()
    assert any(p.startswith("rich ") for p in deps.resolution["windows-x86_64"]["packages"])
    assert "✓ windows-x86_64: " in deps.resolve_status.text() and "(resolved now)" in deps.resolve_status.text()
    rich = next(s for s in deps.resolution["windows-x86_64"]["sources"] if s["name"] == "rich")
    assert rich["source"] in ("resolved", "kiln-lock")

    driver.click(deps.add_button)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    driver.qtbot.keyClicks(editor, "kiln-no-such-package-zz")
    driver.qtbot.keyClick(editor, Qt.Key.Key_Return)
    driver.qtbot.waitUntil(lambda: "✗" in deps.resolve_status.text(), timeout=180_000)
    assert not deps.resolution["linux-x86_64"]["ok"] and not deps.resolution["windows-x86_64"]["ok"]
    assert deps.resolution["linux-x86_64"]["reason"] == "kiln-no-such-package-zz is not on the package index"
    assert "the build for it will fail" in deps.resolve_status.text()
    driver.screenshot("dependencies-check")
