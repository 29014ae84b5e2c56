"""After edits, the Dependencies page asks `kiln resolve` (uv, in a child process) whether every requirement
resolves for every platform the installers target, and shows the answer per platform: each package with where its
version comes from, and a name that is not on the package index said in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
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
    assert "✓ Windows: " in deps.resolve_status.text() and "(resolved now)" in deps.resolve_status.text()
    assert deps.table.item(0, 1).text() == "✓ on the package index"
    rich = next(s for s in deps.resolution["windows-x86_64"]["sources"] if s["name"] == "rich")
    assert rich["source"] in ("resolved", "kiln-lock")

    driver.click(deps.add_button)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    driver.qtbot.keyClicks(editor, "kiln-no-such-package-zz")
    driver.qtbot.keyClick(editor, Qt.Key.Key_Return)
    driver.qtbot.waitUntil(lambda: set(deps.resolution) == platforms
                           and not any(r["ok"] for r in deps.resolution.values()), timeout=180_000)
    assert "✗" in deps.resolve_status.text()
    assert deps.resolution["linux-x86_64"]["reason"] == "kiln-no-such-package-zz is not on the package index"
    assert "the build for it will fail" in deps.resolve_status.text()
    assert deps.table.item(1, 1).text() == "✗ not on the package index"  # not "✓ valid" any more
    assert deps.table.item(0, 1).text() == "– checked once the rows marked ✗ are fixed"
    driver.screenshot("dependencies-check")
    driver.next()
    assert driver.wizard.currentId() == PageId.DEPENDENCIES  # Next does not let it through
    assert ("row 2 'kiln-no-such-package-zz': kiln-no-such-package-zz is not on the package index"
            in deps.message.text())


@pytest.mark.slow  # uv gives up on the unreachable index only after its retries
@pytest.mark.long  # bash .ci/long
def test_offline_says_not_checked_never_a_false_cross(driver: Any, hello: Path) -> None:
    start = driver.page(PageId.START)
    driver.type(start.folder.edit, "~/hello")
    driver.next(PageId.APPLICATION)
    project = driver.wizard.project
    driver.wizard.set_project(project.model_copy(update={"dependencies": project.dependencies.model_copy(
        update={"index_url": "http://127.0.0.1:9/simple"})}), hello / "kiln.toml", None, saved=False)
    driver.go_to(PageId.DEPENDENCIES)
    deps = driver.page(PageId.DEPENDENCIES)
    driver.qtbot.waitUntil(lambda: bool(deps.resolution), timeout=180_000)
    assert all(r["checked"] is False for r in deps.resolution.values()), deps.resolution
    assert deps.table.item(0, 1).text() == "– not checked (offline): the package index cannot be reached"
    assert "✗" not in deps.resolve_status.text() and "✓" not in deps.resolve_status.text()
    driver.next(PageId.ICON)  # not known to be wrong: Next goes on
