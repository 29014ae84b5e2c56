"""The DMG's Finder window: .DS_Store (icon places, background alias), the background picture and the volume icon,
read back with ds_store and mac_alias (test_installer.py reads them from a built disk image)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from ds_store import DSStore
from mac_alias import Alias
from PIL import Image

from kiln.installers.dmg.finder import (
    APP_POSITION,
    APPLICATIONS_POSITION,
    CENTRE_POSITION,
    WINDOW_SIZE,
    layout_for,
    write_finder_files,
)
from kiln.support.epoch import FIXED_EPOCH


def read_store(path: Path) -> dict[tuple[str, str], object]:
    with DSStore.open(str(path), "r") as store:
        return {(entry.filename, entry.code.decode()): entry.value for entry in store}


@pytest.fixture
def icns(tmp_path: Path) -> Path:
    path = tmp_path / "app.icns"
    Image.new("RGBA", (256, 256), (30, 120, 200, 255)).save(path, format="ICNS")
    return path


def test_ds_store_places_app_and_applications_side_by_side(tmp_path: Path, icns: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    write_finder_files(volume, "Hello Mac", layout_for("Hello Mac.app", True), icns, FIXED_EPOCH)
    records = read_store(volume / ".DS_Store")
    assert records[("Hello Mac.app", "Iloc")] == APP_POSITION
    assert records[("Applications", "Iloc")] == APPLICATIONS_POSITION
    assert APP_POSITION[1] == APPLICATIONS_POSITION[1] and APP_POSITION[0] < APPLICATIONS_POSITION[0]
    window = records[(".", "bwsp")]
    assert isinstance(window, dict) and window["WindowBounds"] == "{{200, 120}, {640, 400}}"
    assert window["ShowToolbar"] is False and window["ShowSidebar"] is False
    view = records[(".", "icvp")]
    assert isinstance(view, dict) and view["backgroundType"] == 2 and view["arrangeBy"] == "none"
    alias = Alias.from_bytes(view["backgroundImageAlias"])
    assert alias.volume.name == "Hello Mac" and alias.target.filename == "background.png"
    assert alias.target.posix_path == "/.background/background.png"
    assert alias.target.carbon_path == b"Hello Mac:.background:background.png"
    with Image.open(volume / ".background" / "background.png") as picture:
        assert picture.format == "PNG" and picture.size == WINDOW_SIZE
    assert (volume / ".VolumeIcon.icns").read_bytes() == icns.read_bytes()


def test_without_applications_link_the_app_is_centred(tmp_path: Path, icns: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    write_finder_files(volume, "Solo", layout_for("Ünï.app", False), icns, FIXED_EPOCH)
    records = read_store(volume / ".DS_Store")
    icons = {name: value for (name, code), value in records.items() if code == "Iloc"}
    assert icons == {unicodedata.normalize("NFD", "Ünï.app"): CENTRE_POSITION}  # HFS+ stores decomposed names


def test_finder_files_are_the_same_on_every_build(tmp_path: Path, icns: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for volume in (first, second):
        volume.mkdir()
        write_finder_files(volume, "Hello", layout_for("Hello.app", True), icns, FIXED_EPOCH)
    for name in (".DS_Store", ".background/background.png", ".VolumeIcon.icns"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
