"""The Icon page takes any image Pillow reads (JPEG, BMP, ICO, WebP…), previews it, and follows the same rules
as `kiln check` and the build, which convert it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from kit.apps import write_rewrite
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from kiln.source.detect import detect
from kiln.ui.page_ids import PageId


@pytest.mark.parametrize("fmt", ["JPEG", "BMP", "ICO", "WEBP"])
def test_other_image_formats_preview_pass_and_check(driver: Any, hello: Path, fmt: str) -> None:
    name = f"logo.{fmt.lower()}"
    Image.new("RGB", (256, 256), (200, 30, 30)).save(hello / name, format=fmt)
    driver.wizard.start_new(hello, detect(hello))
    driver.wizard.setStartId(PageId.ICON)
    driver.wizard.restart()
    page = driver.page(PageId.ICON)
    driver.type(page.path.edit, name)
    driver.qtbot.waitUntil(lambda: f"{name}: 256×256 px" in page.status.text())
    rendered = page.preview.rendered(32)
    assert rendered is not None and rendered.pixelColor(16, 16).red() > 150  # the picture, drawn
    driver.next(PageId.INSTALLERS)
    driver.qtbot.keyClick(driver.wizard, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    checked = subprocess.run([sys.executable, "-m", "kiln", "check", str(hello / "kiln.toml")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # the same rules: kiln check takes it too


def test_a_non_image_is_refused_with_the_checks_words(driver: Any, hello: Path) -> None:
    (hello / "notes.png").write_text("shopping list", encoding="utf-8")
    driver.wizard.start_new(hello, detect(hello))
    driver.wizard.setStartId(PageId.ICON)
    driver.wizard.restart()
    page = driver.page(PageId.ICON)
    driver.type(page.path.edit, "notes.png")
    driver.next()
    assert driver.wizard.currentId() == PageId.ICON
    assert "notes.png is plain text, not an image" in page.message.text()
    assert "PNG, JPEG, BMP, GIF, ICO, WebP, TIFF or SVG" in page.message.text()


def test_the_icon_kiln_chose_says_why_and_warns_when_small(driver: Any, home: Path) -> None:
    folder = write_rewrite(home / "rewrite")
    driver.wizard.start_new(folder, detect(folder, build_metadata=False))
    driver.wizard.setStartId(PageId.ICON)
    driver.wizard.restart()
    page = driver.page(PageId.ICON)
    assert page.path.text() == "ReWrite/icons/rewrite.svg"
    assert page.status.text() == ("ReWrite/icons/rewrite.svg: SVG. Kiln chose it because the project's desktop file "
                                  "data/org.example.ReWrite.desktop names it (Icon=rewrite).")
    driver.type(page.path.edit, "ReWrite/icons/application-exit.png")
    driver.qtbot.waitUntil(lambda: "22×22 px" in page.status.text())
    assert "Kiln chose" not in page.status.text() and "large sizes will look blurry" in page.status.text()


def test_an_opened_project_asks_again_why(driver: Any, home: Path) -> None:
    folder = write_rewrite(home / "rewrite")
    (folder / "kiln.toml").write_text('[app]\nname = "ReWrite"\nversion = "1"\nidentifier = "org.example.rewrite"\n'
                                      '[entry]\nmodule = "ReWrite"\n'
                                      '[icon]\npath = "ReWrite/icons/rewrite.svg"\n', encoding="utf-8")
    driver.open_project(folder / "kiln.toml")
    driver.go_to(PageId.ICON)
    page = driver.page(PageId.ICON)
    driver.qtbot.waitUntil(lambda: "Kiln chose it because the project's desktop file" in page.status.text())


def test_a_browsed_icon_inside_the_project_is_saved_relative(driver: Any, hello: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    Image.new("RGB", (256, 256)).save(hello / "art.png")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(hello / "art.png"), ""))
    driver.wizard.start_new(hello, detect(hello))
    driver.wizard.setStartId(PageId.ICON)
    driver.wizard.restart()
    page = driver.page(PageId.ICON)
    driver.click(page.path.button)
    assert page.path.text() == "art.png"
    driver.type(page.path.edit, str(hello / "art.png"))  # typed absolute: saved relative all the same
    driver.qtbot.keyClick(driver.wizard, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert tomllib.loads((hello / "kiln.toml").read_text(encoding="utf-8"))["icon"]["path"] == "art.png"
    assert page.path.text() == "art.png"
