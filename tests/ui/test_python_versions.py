"""The Dependencies page offers the Python versions the app's requires-python allows, each saying whether its
runtime is here (offline) or the build downloads one; a version the file asks for outside that is kept, marked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import tomlkit
from kit.apps import SRC_LAYOUT, write_app

from kiln.ui.page_ids import PageId
from kiln.ui.python_versions import allowed

HOST = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_allowed_follows_requires_python() -> None:
    assert allowed(">=3.10") == ["3.10", "3.11", "3.12", "3.13", "3.14"]
    assert allowed(">=3.11,<3.13") == ["3.11", "3.12"]
    assert allowed("") == allowed("not a specifier") == [f"3.{m}" for m in range(8, 15)]


def test_versions_limited_and_marked(driver: Any, home: Path) -> None:
    write_app(home / "srcgui", SRC_LAYOUT)  # requires-python = ">=3.10"
    start = driver.page(PageId.START)
    driver.type(start.folder.edit, "~/srcgui")
    driver.next(PageId.APPLICATION)
    driver.go_to(PageId.DEPENDENCIES)
    page = driver.page(PageId.DEPENDENCIES)
    assert page.python.values == ["3.10", "3.11", "3.12", "3.13", "3.14"]  # no 3.8 or 3.9
    texts = [page.python.itemText(i) for i in range(page.python.count())]
    assert f"{HOST} — ready offline" in texts  # this machine's Python serves Linux without a download
    assert page.python.value() == HOST
    assert any(t.startswith("3.14 — downloads a runtime for linux-x86_64") for t in texts)
    driver.choose(page.python, "3.12")
    assert driver.wizard.project.python.version == "3.12"


def test_a_version_outside_requires_python_is_kept_and_marked(make_driver: Any, home: Path) -> None:
    folder = write_app(home / "srcgui", SRC_LAYOUT)
    first = make_driver()
    start = first.page(PageId.START)
    first.type(start.folder.edit, "~/srcgui")
    first.next(PageId.APPLICATION)
    first.wizard.save()
    document = tomlkit.parse((folder / "kiln.toml").read_text(encoding="utf-8"))
    document.setdefault("python", tomlkit.table())["version"] = "3.9"  # a hand edit below requires-python
    (folder / "kiln.toml").write_text(tomlkit.dumps(document), encoding="utf-8")
    d = make_driver()
    d.open_project(folder / "kiln.toml")
    d.go_to(PageId.DEPENDENCIES)
    page = d.page(PageId.DEPENDENCIES)
    d.qtbot.waitUntil(lambda: "3.8" not in page.python.values, timeout=15000)  # requires-python read in the background
    assert page.python.value() == "3.9"
    assert page.python.currentText() == "3.9 — outside the app's requires-python >=3.10"
