"""The app's icon: what the project declares first (desktop file, AppStream, data files), then a guess."""

from __future__ import annotations

from pathlib import Path

import pytest
from kit.apps import REWRITE_SVG, write_app, write_rewrite
from PIL import Image

from kiln.model.project_file import load_project
from kiln.source.checks import check_warnings
from kiln.source.detect import detect
from kiln.source.icon_choice import choose_icon, icon_warnings, image_size


def png(path: Path, width: int, height: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", (width, height), (200, 20, 20, 255)).save(path)
    return path


def test_rewrite_gets_the_svg_its_desktop_file_names_not_the_red_exit_icon(tmp_path: Path) -> None:
    folder = write_rewrite(tmp_path / "rewrite")
    found = detect(folder, build_metadata=False)
    assert found.icons == ["ReWrite/icons/rewrite.svg"]
    assert found.icon_reason == "the project's desktop file data/org.example.ReWrite.desktop names it (Icon=rewrite)"
    assert found.project().icon.path == "ReWrite/icons/rewrite.svg"


@pytest.mark.parametrize("declaration", [
    pytest.param({"data/x.metainfo.xml": '<component><icon type="local">art/mine.svg</icon></component>'},
                 id="appstream-local"),
    pytest.param({"data/x.appdata.xml": '<component><icon type="stock">mine</icon></component>'},
                 id="appstream-stock"),
    pytest.param({"pyproject.toml": '[project]\nname = "x"\nversion = "1"\n[tool.setuptools.data-files]\n'
                  '"share/icons/hicolor/scalable/apps" = ["art/mine.svg"]\n'}, id="pyproject-data-files"),
    pytest.param({"setup.cfg": "[options.data_files]\nshare/pixmaps =\n    art/mine.svg\n"}, id="setup-cfg"),
    pytest.param({"setup.py": "from setuptools import setup\nsetup(name='x', data_files=[('share/icons/hicolor/"
                  "scalable/apps', ['art/mine.svg']), ('share/doc', ['README'])])\n"}, id="setup-py"),
])
def test_each_declaration_names_the_icon(tmp_path: Path, declaration: dict[str, str]) -> None:
    write_app(tmp_path, {**declaration, "art/mine.svg": REWRITE_SVG})
    png(tmp_path / "art" / "zz-bigger-square.png", 512, 512)  # the guess would take this one
    choice = choose_icon(tmp_path, ["x"])
    assert choice is not None and choice.path == "art/mine.svg", choice
    assert "names it" in choice.reason or "installs it" in choice.reason


def test_a_named_icon_prefers_the_svg_then_the_largest_png(tmp_path: Path) -> None:
    write_app(tmp_path, {"app.desktop": "[Desktop Entry]\nIcon=tool\n"})
    png(tmp_path / "a" / "tool.png", 48, 48)
    png(tmp_path / "b" / "tool.png", 128, 128)
    assert choose_icon(tmp_path, []).path == "b/tool.png"  # type: ignore[union-attr]
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "tool.svg").write_text(REWRITE_SVG)
    assert choose_icon(tmp_path, []).path == "c/tool.svg"  # type: ignore[union-attr]


def test_guesses_named_after_the_app_then_icon_then_largest_square(tmp_path: Path) -> None:
    png(tmp_path / "docs" / "banner-logo.png", 1265, 284)  # Pygments' wide logo: never an icon
    png(tmp_path / "img" / "screenshot.png", 800, 600)
    png(tmp_path / "img" / "small.png", 64, 64)
    png(tmp_path / "img" / "big.png", 300, 300)
    png(tmp_path / "tests" / "huge.png", 1024, 1024)  # the test suite's pictures are not the app's
    choice = choose_icon(tmp_path, ["tipcalc"])
    assert choice is not None and (choice.path, choice.reason) == (
        "img/big.png", "it is the largest square picture in the folder (300×300 px)")
    png(tmp_path / "img" / "app-icon.png", 128, 128)
    assert choose_icon(tmp_path, ["tipcalc"]).path == "img/app-icon.png"  # type: ignore[union-attr]
    png(tmp_path / "res" / "TipCalc.png", 96, 96)
    choice = choose_icon(tmp_path, ["tipcalc"])
    assert choice is not None and (choice.path, choice.reason) == ("res/TipCalc.png", "it is named after the app")


def test_unreadable_pictures_and_empty_folders_give_no_icon(tmp_path: Path) -> None:
    assert choose_icon(tmp_path, ["x"]) is None
    (tmp_path / "icon.png").write_bytes(b"\x89PNG not really")
    assert choose_icon(tmp_path, ["x"]) is None
    assert image_size(tmp_path / "icon.png") is None


def test_check_warns_about_a_small_or_wide_icon(tmp_path: Path) -> None:
    png(tmp_path / "exit.png", 22, 22)
    png(tmp_path / "logo.png", 1265, 284)
    assert icon_warnings(tmp_path / "exit.png", "exit.png") == [
        "exit.png is only 22 px: large icons will look blurry (use 256 px or more, or an SVG)"]
    assert icon_warnings(tmp_path / "logo.png", "logo.png")[0].startswith("logo.png is 1265×284, not square")
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / "kiln.toml").write_text('[app]\nname = "x"\nversion = "1"\n[entry]\nscript = "app.py"\n'
                                        '[icon]\npath = "exit.png"\n')
    warnings = check_warnings(load_project(tmp_path / "kiln.toml"))
    assert [(w.location, w.message) for w in warnings] == [
        ("icon.path", "exit.png is only 22 px: large icons will look blurry (use 256 px or more, or an SVG)")]


def test_the_desktop_files_categories_go_to_the_appimage(tmp_path: Path) -> None:
    folder = write_rewrite(tmp_path / "rewrite")
    found = detect(folder, build_metadata=False)
    assert found.categories == ["Office", "WordProcessor"]
    appimage = next(i for i in found.project().installer if i.kind == "appimage")
    assert appimage.categories == ["Office", "WordProcessor"]  # type: ignore[attr-defined]
    (folder / "data" / "org.example.ReWrite.desktop").write_text("[Desktop Entry]\nCategories=Editors;\n")
    found = detect(folder, build_metadata=False)
    assert found.categories == [] and "categories Editors were not taken" in found.warnings[-1]
