"""Next and Build only, as a new user who edits nothing would: from a folder (`kiln wizard FOLDER`) to the installers
of every platform. What the wizard chose by itself — entry, kind, icon — must be right, for (a) a lone tkinter script
with a requirements.txt and (b) a ReText-like source tree.

No Windows Python with tkinter can be had here (python.org's embeddable one has none; the standalone one is on
GitHub, out of reach), so for (a) the MSI is not built: its row says why, with the button that fixes it. No macOS
Python can be had either: the DMGs wrap a stand-in runtime added to an isolated Kiln cache beforehand (as a user with
an archive would, with the Build page's "Choose a Python file…").
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from kit.apps import write_app, write_rewrite
from kit.dmg import ARCHIVES, PY, fake_macos_runtime

from kiln.ui.page_ids import PageId

pytestmark = [pytest.mark.slow, pytest.mark.long]  # bash .ci/long
LONG = 1_200_000  # a cold, isolated cache: this machine's Python is relocated, wheels for three platforms fetched

TIPCALC = {
    "tipcalc.py": "import tkinter as tk\n\nimport humanize\n\nroot = tk.Tk()\nroot.title('Tip calculator')\n"
    "tk.Label(root, text=humanize.intcomma(1234567)).pack()\nroot.mainloop()\n",
    "requirements.txt": "humanize>=4\n",
}


@pytest.fixture
def runtimes(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated Kiln cache holding a stand-in macOS runtime; the standalone Pythons' server fails at once."""
    cache = tmp_path / "kiln-cache"
    monkeypatch.setenv("KILN_CACHE_DIR", str(cache))
    monkeypatch.setenv("PBS_INSTALLER_BASE_URL", "http://127.0.0.1:9/pbs")  # GitHub is out of reach: say so fast
    archive = tmp_path / ARCHIVES["macos-arm64"]
    fake_macos_runtime(archive)
    subprocess.run([sys.executable, "-P", "-m", "kiln", "runtimes", "add", str(archive), "--platform", "macos-arm64",
                    "--version", PY], check=True, capture_output=True)
    return cache


def next_only(d: Any, folder: Path) -> Any:
    """`kiln wizard FOLDER`, then Next on every page and Build: the Build page once the build is over."""
    d.wizard.start_page.offer_folder(folder)
    d.next()
    d.qtbot.waitUntil(lambda: d.wizard.currentId() == PageId.APPLICATION, timeout=120_000)
    for page_id in (PageId.ENTRY, PageId.DEPENDENCIES, PageId.ICON, PageId.INSTALLERS, PageId.BUILD):
        d.next()
        assert d.wizard.currentId() == page_id, d.wizard.currentPage().message.text()
    build = d.page(PageId.BUILD)
    d.click(build.build_button)
    d.qtbot.waitUntil(lambda: build.result_status != "", timeout=LONG)
    return build


def results(build: Any) -> dict[str, Any]:
    return {row.result.kind: row for row in build.results.rows}


def test_a_lone_tkinter_script_with_requirements(driver: Any, home: Path, runtimes: Path) -> None:
    folder = write_app(home / "tipcalc", TIPCALC)
    start = driver.page(PageId.START)
    driver.wizard.start_page.offer_folder(folder)
    driver.qtbot.waitUntil(lambda: "Your script tipcalc.py" in start.status.text(), timeout=60_000)
    assert start.status.text().startswith("Your script tipcalc.py (a window app), 1 dependency.")
    entry, deps = driver.page(PageId.ENTRY), driver.page(PageId.DEPENDENCIES)
    assert entry.target.text() == "tipcalc.py" and entry.gui.isChecked()
    assert deps.requirements_file.text() == "requirements.txt"
    build = next_only(driver, folder)
    rows = results(build)
    assert rows["appimage"].result.built and rows["dmg"].result.built, build.log.toPlainText()[-3000:]
    msi = rows["msi"]
    assert not msi.result.built and "tkinter" in msi.problem.text()
    assert [b.text() for b in msi.fix_buttons] == ["Use the standalone runtime"]
    saved = tomllib.loads((folder / "kiln.toml").read_text(encoding="utf-8"))
    assert saved["entry"] == {"script": "tipcalc.py", "kind": "gui"}
    driver.screenshot("build-lone-script")


def test_a_retext_like_tree_gets_its_own_icon_entry_and_kind(driver: Any, home: Path, runtimes: Path) -> None:
    folder = write_rewrite(home / "app")  # ReText's checkout folder has a name that says nothing
    build = next_only(driver, folder)
    entry, icon = driver.page(PageId.ENTRY), driver.page(PageId.ICON)
    assert entry.target.text() == "ReWrite.__main__:main" and entry.gui.isChecked()
    assert icon.path.text() == "ReWrite/icons/rewrite.svg"  # not the 22 px red exit X beside it
    assert "Kiln chose it because the project's desktop file" in icon.status.text()
    rows = results(build)
    assert {kind for kind, row in rows.items() if row.result.built} >= {"appimage", "msi", "dmg"}, \
        build.log.toPlainText()[-3000:]
    saved = tomllib.loads((folder / "kiln.toml").read_text(encoding="utf-8"))
    assert saved["icon"]["path"] == "ReWrite/icons/rewrite.svg"
    appimage = next(i for i in saved["installer"] if i["kind"] == "appimage")
    assert appimage.get("categories") == ["Office", "WordProcessor"]  # the project's own desktop file's
    driver.click(rows["appimage"].run_button)
    driver.qtbot.waitUntil(lambda: "— the app" in build.run_output.toPlainText(), timeout=120_000)
    assert "ReWrite renders <p><em>hello</em></p>" in build.run_output.toPlainText()
    build.tabs.setCurrentIndex(1)
    driver.screenshot("build-results")
