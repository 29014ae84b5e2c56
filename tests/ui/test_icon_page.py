"""The Icon page takes any image Pillow reads (JPEG, BMP, ICO, WebP…), previews it, and follows the same rules
as `kiln check` and the build, which convert it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import Qt

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
