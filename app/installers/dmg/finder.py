"""The Finder window of the DMG: a background picture, the icons' places (`.DS_Store`) and the volume icon.

macOS opens a mounted image in a Finder window laid out by the volume's `.DS_Store`: window size, icon view with a
background picture (found through an alias record), and where each icon sits. dmgbuild and create-dmg write the
same records on a Mac; here the pure-Python `ds_store` and `mac_alias` write them on Linux. The custom volume icon is
`.VolumeIcon.icns` plus the "has custom icon" Finder flag on the root folder (hfs_flags.py sets it).
"""

from __future__ import annotations

import datetime
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ds_store import DSStore
from mac_alias import ALIAS_EJECTABLE_DISK, ALIAS_KIND_FILE, ALIAS_NO_CNID, Alias, TargetInfo, VolumeInfo
from PIL import Image, ImageDraw, ImageFont

BACKGROUND_DIR = ".background"
BACKGROUND_NAME = "background.png"
VOLUME_ICON = ".VolumeIcon.icns"
WINDOW_SIZE = (640, 400)  # the window's content area in points; the background picture has this size
WINDOW_ORIGIN = (200, 120)
ICON_SIZE = 128
APP_POSITION = (170, 190)  # icon centres, in points from the window's top left
APPLICATIONS_POSITION = (470, 190)
CENTRE_POSITION = (WINDOW_SIZE[0] // 2, 190)  # the app alone, when there is no Applications link
_TOP, _BOTTOM = (246, 248, 252), (214, 222, 236)
_INK = (84, 96, 120)


@dataclass(frozen=True)
class FinderLayout:
    """What the window shows: icon name → centre, and the background picture's path on the volume."""

    positions: dict[str, tuple[int, int]]
    background: str = f"/{BACKGROUND_DIR}/{BACKGROUND_NAME}"


def layout_for(app_folder: str, applications_link: bool) -> FinderLayout:
    """The app on the left and the Applications link on the right (or the app alone, centred)."""
    if applications_link:
        return FinderLayout({app_folder: APP_POSITION, "Applications": APPLICATIONS_POSITION})
    return FinderLayout({app_folder: CENTRE_POSITION})


def write_finder_files(volume: Path, volume_name: str, layout: FinderLayout, icns: Path, epoch: int) -> None:
    """Write `.background/background.png`, `.VolumeIcon.icns` and `.DS_Store` into the volume folder."""
    folder = volume / BACKGROUND_DIR
    folder.mkdir(mode=0o755, exist_ok=True)
    draw_background(folder / BACKGROUND_NAME, arrow=len(layout.positions) > 1)
    shutil.copyfile(icns, volume / VOLUME_ICON)
    write_ds_store(volume / ".DS_Store", volume_name, layout, epoch)
    for path in (folder / BACKGROUND_NAME, volume / VOLUME_ICON, volume / ".DS_Store"):
        path.chmod(0o644)


def draw_background(out: Path, *, arrow: bool) -> None:
    """A quiet vertical gradient with an arrow from the app to Applications; the same picture on every build."""
    width, height = WINDOW_SIZE
    picture = Image.new("RGB", WINDOW_SIZE)
    draw = ImageDraw.Draw(picture)
    for y in range(height):
        mix = y / (height - 1)
        colour = tuple(round(a + (b - a) * mix) for a, b in zip(_TOP, _BOTTOM, strict=True))
        draw.line([(0, y), (width, y)], fill=colour)
    if arrow:
        y = APP_POSITION[1]
        start, end = APP_POSITION[0] + ICON_SIZE // 2 + 24, APPLICATIONS_POSITION[0] - ICON_SIZE // 2 - 24
        draw.line([(start, y), (end - 14, y)], fill=_INK, width=6)
        draw.polygon([(end, y), (end - 22, y - 14), (end - 22, y + 14)], fill=_INK)
        font = ImageFont.load_default(16)
        text = "Drag to Applications to install"
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        draw.text(((width - (right - left)) // 2, height - 70), text, fill=_INK, font=font)
    picture.save(out, format="PNG", optimize=False)


def background_alias(volume_name: str, epoch: int) -> bytes:
    """An alias record to the background picture, resolved by path on the mounted volume.

    A Mac would also record the volume's and the file's catalog IDs; they are unknown before xorriso numbers the
    files, so the record says ALIAS_NO_CNID and Finder falls back on the volume name and the path.
    """
    when = datetime.datetime.fromtimestamp(epoch, datetime.UTC)  # mac_alias counts from an aware 1904
    volume = VolumeInfo(volume_name, when, b"H+", ALIAS_EJECTABLE_DISK, 0, b"\0\0",
                        posix_path=f"/Volumes/{volume_name}")
    target = TargetInfo(ALIAS_KIND_FILE, BACKGROUND_NAME, ALIAS_NO_CNID, ALIAS_NO_CNID, when, b"\0\0\0\0",
                        b"\0\0\0\0", folder_name=BACKGROUND_DIR,
                        carbon_path=f"{volume_name}:{BACKGROUND_DIR}:{BACKGROUND_NAME}",
                        posix_path=f"/{BACKGROUND_DIR}/{BACKGROUND_NAME}")
    data: bytes = Alias(volume=volume, target=target).to_bytes()
    return data


def write_ds_store(out: Path, volume_name: str, layout: FinderLayout, epoch: int) -> None:
    """The window (no toolbar or sidebar, fixed size), its icon view with the background, and each icon's place."""
    x, y = WINDOW_ORIGIN
    width, height = WINDOW_SIZE
    out.unlink(missing_ok=True)
    with DSStore.open(str(out), "w+") as store:
        store["."]["bwsp"] = {
            "WindowBounds": f"{{{{{x}, {y}}}, {{{width}, {height}}}}}",
            "ShowSidebar": False, "ShowToolbar": False, "ShowStatusBar": False, "ShowPathbar": False,
            "ShowTabView": False, "ContainerShowSidebar": False, "PreviewPaneVisibility": False, "SidebarWidth": 180,
        }
        store["."]["icvp"] = {
            "viewOptionsVersion": 1, "backgroundType": 2, "backgroundImageAlias": background_alias(volume_name, epoch),
            "backgroundColorRed": 1.0, "backgroundColorGreen": 1.0, "backgroundColorBlue": 1.0,
            "iconSize": float(ICON_SIZE), "textSize": 13.0, "labelOnBottom": True, "arrangeBy": "none",
            "gridOffsetX": 0.0, "gridOffsetY": 0.0, "gridSpacing": 100.0, "showIconPreview": True,
            "showItemInfo": False, "scrollPositionX": 0.0, "scrollPositionY": 0.0,
        }
        store["."]["vSrn"] = ("long", 1)
        store["."]["icvl"] = ("type", b"icnv")  # open in icon view
        for name, position in sorted(layout.positions.items()):
            # HFS+ keeps names decomposed, and Finder looks them up as the volume returns them.
            store[unicodedata.normalize("NFD", name)]["Iloc"] = position
