"""kiln.support.icons: one source (PNG/SVG/default) -> .ico, .icns, PNG sizes and a hicolor tree, deterministic."""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from kiln.support import icons
from kiln.support.errors import KilnError

SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">
<rect x="0" y="0" width="{w}" height="{h}" fill="#ff0000"/></svg>"""


def quadrant_png(path: Path, width: int = 512, height: int = 512) -> Path:
    """Red top-left, blue bottom-right, transparent elsewhere: shows flips and channel swaps."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, width // 2, height // 2))
    image.paste((0, 0, 255, 255), (width // 2, height // 2, width, height))
    image.save(path)
    return path


@pytest.fixture
def source(tmp_path: Path) -> icons.IconSource:
    return icons.load_icon(quadrant_png(tmp_path / "icon.png"))


def test_ico_has_every_size_read_back_by_pillow(source: icons.IconSource, tmp_path: Path) -> None:
    out = tmp_path / "app.ico"
    icons.write_ico(source, out)
    with Image.open(out) as ico:
        assert ico.info["sizes"] == {(n, n) for n in icons.ICO_SIZES}
        for n in icons.ICO_SIZES:
            frame = ico.ico.getimage((n, n)).convert("RGBA")
            assert frame.size == (n, n)
            # orientation and channel order survive the BMP frames
            assert frame.getpixel((n // 8, n // 8)) == (255, 0, 0, 255)
            assert frame.getpixel((n - 1 - n // 8, n - 1 - n // 8)) == (0, 0, 255, 255)
            assert frame.getpixel((n - 1 - n // 8, n // 8))[3] == 0


def test_ico_header_parsed_with_struct(source: icons.IconSource, tmp_path: Path) -> None:
    out = tmp_path / "app.ico"
    icons.write_ico(source, out)
    data = out.read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind, count) == (0, 1, len(icons.ICO_SIZES))
    end = 6 + 16 * count
    for index, n in enumerate(icons.ICO_SIZES):
        width, height, colors, res, planes, bits, size, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * index)
        assert (width, height) == ((n, n) if n < 256 else (0, 0))
        assert (colors, res, planes, bits) == (0, 0, 1, 32)
        assert offset == end, "images follow each other without gaps"
        frame = data[offset : offset + size]
        if n == 256:
            assert frame.startswith(b"\x89PNG\r\n\x1a\n")
        else:
            header_size, dib_w, dib_h = struct.unpack_from("<Iii", frame, 0)
            assert (header_size, dib_w, dib_h) == (40, n, 2 * n)
            assert size == 40 + n * n * 4 + ((n + 31) // 32) * 4 * n
        end = offset + size
    assert end == len(data)


def test_icns_sizes(source: icons.IconSource, tmp_path: Path) -> None:
    out = tmp_path / "app.icns"
    icons.write_icns(source, out)
    assert out.read_bytes()[:4] == b"icns"
    with Image.open(out) as icns:
        sizes = set(icns.info["sizes"])
        assert {(n, n, 1) for n in (128, 256, 512)} <= sizes
        assert {(n, n, 2) for n in (16, 32, 128, 256, 512)} <= sizes  # 512@2x = 1024 px
        assert icns.size == (1024, 1024)


def test_png_and_hicolor(source: icons.IconSource, tmp_path: Path) -> None:
    icons.write_png(source, tmp_path / "one.png", 48)
    with Image.open(tmp_path / "one.png") as one:
        assert (one.size, one.mode) == ((48, 48), "RGBA")
    written = icons.hicolor_set(source, tmp_path / "AppDir" / "usr", "hello")
    assert len(written) == len(icons.HICOLOR_SIZES)
    for n, path in zip(icons.HICOLOR_SIZES, written, strict=True):
        assert path == tmp_path / f"AppDir/usr/share/icons/hicolor/{n}x{n}/apps/hello.png"
        with Image.open(path) as png:
            assert png.size == (n, n)
    assert not list(tmp_path.rglob("*.tmp")), "atomic writes leave no temp files"


def test_square_large_png_has_no_warnings(source: icons.IconSource) -> None:
    assert source.warnings == []
    assert source.size == 512


def test_non_square_is_centred_with_a_warning(tmp_path: Path) -> None:
    src = icons.load_icon(quadrant_png(tmp_path / "wide.png", 600, 300))
    assert len(src.warnings) == 1 and "not square (600x300)" in src.warnings[0]
    assert src.size == 600
    assert src.image.getpixel((10, 10))[3] == 0, "transparent band above"
    assert src.image.getpixel((10, 160)) == (255, 0, 0, 255)


def test_small_source_warns(tmp_path: Path) -> None:
    src = icons.load_icon(quadrant_png(tmp_path / "small.png", 64, 64))
    assert len(src.warnings) == 1 and "64x64" in src.warnings[0] and "256" in src.warnings[0]
    icons.write_png(src, tmp_path / "big.png", 512)  # upscaling still works
    with Image.open(tmp_path / "big.png") as big:
        assert big.size == (512, 512)


def test_large_source_is_capped(tmp_path: Path) -> None:
    src = icons.load_icon(quadrant_png(tmp_path / "huge.png", 2048, 2048))
    assert src.size == icons.WORK_SIZE


def test_svg_is_rasterised(tmp_path: Path) -> None:
    path = tmp_path / "icon.svg"
    path.write_text(SVG.format(w=64, h=64), encoding="utf-8")
    src = icons.load_icon(path)
    assert src.warnings == []
    assert src.size == icons.WORK_SIZE, "drawn at full size, whatever its nominal size"
    assert src.image.getpixel((512, 512)) == (255, 0, 0, 255)


def test_non_square_svg_and_svgz(tmp_path: Path) -> None:
    path = tmp_path / "wide.svgz"
    path.write_bytes(gzip.compress(SVG.format(w=200, h=100).encode(), mtime=0))
    src = icons.load_icon(path)
    assert len(src.warnings) == 1 and "not square" in src.warnings[0]
    assert src.size == icons.WORK_SIZE
    assert src.image.getpixel((512, 100))[3] == 0
    assert src.image.getpixel((512, 512)) == (255, 0, 0, 255)


def test_svg_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "icon.data"
    path.write_text('<?xml version="1.0"?>\n' + SVG.format(w=32, h=32), encoding="utf-8")
    assert icons.load_icon(path).size == icons.WORK_SIZE


def test_default_icon() -> None:
    assert icons.DEFAULT_ICON.is_file()
    src = icons.load_icon(None)
    assert src.size == 1024 and src.warnings == [] and src.origin == "Kiln's default icon"
    assert src.image.getpixel((0, 0))[3] == 0, "rounded corners are transparent"
    assert src.image.getpixel((512, 512))[3] == 255


def test_outputs_are_deterministic(tmp_path: Path) -> None:
    png = quadrant_png(tmp_path / "icon.png", 300, 200)
    runs = []
    for name in ("a", "b"):
        src = icons.load_icon(png)
        out = tmp_path / name
        icons.write_ico(src, out / "x.ico")
        icons.write_icns(src, out / "x.icns")
        icons.write_png(src, out / "x.png", 128)
        runs.append([(out / f).read_bytes() for f in ("x.ico", "x.icns", "x.png")])
    assert runs[0] == runs[1]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KilnError) as e:
        icons.load_icon(tmp_path / "nope.png")
    assert "nope.png" in str(e.value) and "not found" in str(e.value)
    assert e.value.hint and "icon.path" in e.value.hint


def test_corrupt_png(tmp_path: Path) -> None:
    good = quadrant_png(tmp_path / "good.png").read_bytes()
    bad = tmp_path / "bad.png"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(KilnError, match=r"bad\.png is not a readable image"):
        icons.load_icon(bad)


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "icon.png"
    path.write_bytes(b"this is not an image at all")
    with pytest.raises(KilnError, match=r"icon\.png is plain text, not an image"):
        icons.load_icon(path)
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(KilnError, match=r"icon\.png is not an image in a format Kiln reads \(PNG, JPEG, BMP"):
        icons.load_icon(path)


@pytest.mark.parametrize("fmt", ["JPEG", "BMP", "ICO", "WEBP", "GIF", "TIFF"])
def test_any_image_pillow_reads_is_converted(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.new("RGB", (256, 256), "red").save(path, format=fmt)
    source = icons.load_icon(path)
    assert source.image.mode == "RGBA" and source.size == 256
    assert source.image.getpixel((128, 128))[:3] == pytest.approx((255, 0, 0), abs=8)
    ico = icons.ico_bytes(source)
    assert Image.open(io.BytesIO(ico)).format == "ICO"
    assert icons.icon_problem(path) is None


def test_icon_problem_says_why_in_plain_words(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not an image", encoding="utf-8")
    problem = icons.icon_problem(path)
    assert problem == (f"icon {path} is plain text, not an image (PNG, JPEG, BMP, GIF, ICO, WebP, TIFF or SVG) "
                       "(point icon.path at a PNG of 256 px or more, or an SVG)")  # not Pillow's "<_io.BytesIO …>"


def test_invalid_svg(tmp_path: Path) -> None:
    path = tmp_path / "broken.svg"
    path.write_text("<svg xmlns='http://www.w3.org/2000/svg'><rect", encoding="utf-8")
    with pytest.raises(KilnError, match=r"broken\.svg is not a valid SVG"):
        icons.load_icon(path)
