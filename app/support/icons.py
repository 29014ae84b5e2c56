"""App icons: one source image (SVG, or any raster image Pillow reads) turned into what each platform wants
(.ico, .icns, hicolor PNGs).

Every writer is deterministic (same source, same bytes) and atomic (temp file + rename), so rebuilding an
installer from unchanged inputs gives an identical artifact and an interrupted build never leaves half a file.
"""

from __future__ import annotations

import gzip
import io
import struct
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from kiln.model.errors import KilnError
from kiln.resources import resource_path
from kiln.support.atomic import atomic_write_bytes

DEFAULT_ICON = resource_path("icons", "kiln-default.png")
MIN_SIZE = 256
"""Smaller sources are upscaled for the large sizes, and look blurry there."""
WORK_SIZE = 1024
"""Sources are normalised to at most this side (also the size SVGs are drawn at)."""
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (32, 64, 128, 256, 512, 1024)
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
_SVG_HINT = "use an image such as a PNG, JPEG or WebP (256 px or more) or a valid SVG file"


@dataclass(eq=False)
class IconSource:
    """A square RGBA image ready to be written in any size, and what the user should know about it."""

    image: Image.Image
    origin: str
    """The source file, or 'Kiln's default icon', for messages."""
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.image.width


def load_icon(path: Path | None) -> IconSource:
    """Read the project's icon (SVG/SVGZ, or a PNG, JPEG, BMP, ICO, WebP… image); None gives Kiln's default icon."""
    if path is None:
        return normalize(_open_png(DEFAULT_ICON, DEFAULT_ICON.read_bytes()), "Kiln's default icon")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KilnError(f"icon file not found: {path}", hint="fix icon.path in kiln.toml, or leave it empty") from None
    except OSError as e:
        raise KilnError(f"cannot read icon file {path}: {e.strerror}", hint="check the file's permissions") from None
    if _looks_like_svg(path, data):
        return normalize(_render_svg(path, data), str(path))
    return normalize(_open_png(path, data), str(path))


def normalize(image: Image.Image, origin: str) -> IconSource:
    """Make `image` a square RGBA of at most WORK_SIZE px, centred on a transparent canvas if not square."""
    warnings: list[str] = []
    image = image.convert("RGBA")
    width, height = image.size
    if width != height:
        warnings.append(f"icon {origin} is not square ({width}x{height}); it was centred on a transparent square")
        side = max(width, height)
        canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        canvas.paste(image, ((side - width) // 2, (side - height) // 2))
        image = canvas
    if max(width, height) < MIN_SIZE:
        warnings.append(
            f"icon {origin} is only {width}x{height} px; large icon sizes will look blurry "
            f"(use {MIN_SIZE} px or more, or an SVG)"
        )
    if image.width > WORK_SIZE:
        image = image.resize((WORK_SIZE, WORK_SIZE), Image.Resampling.LANCZOS)
    return IconSource(image=image, origin=origin, warnings=warnings)


def resized(src: IconSource, size: int) -> Image.Image:
    """The icon at size x size (Pillow resizes RGBA with premultiplied alpha, so edges do not darken)."""
    if src.image.width == size:
        return src.image.copy()
    return src.image.resize((size, size), Image.Resampling.LANCZOS)


def png_bytes(image: Image.Image) -> bytes:
    """PNG encoding without metadata (no timestamps), so equal images give equal bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=9)
    return buffer.getvalue()


def write_png(src: IconSource, out: Path, size: int) -> None:
    _write_atomic(out, png_bytes(resized(src, size)))


def write_ico(src: IconSource, out: Path) -> None:
    """A Windows .ico with ICO_SIZES: 32-bit BMP frames below 256 px (every reader takes them), PNG at 256."""
    _write_atomic(out, ico_bytes(src))


def ico_bytes(src: IconSource, sizes: tuple[int, ...] = ICO_SIZES) -> bytes:
    frames = [(size, _dib(resized(src, size)) if size < 256 else png_bytes(resized(src, size))) for size in sizes]
    header = struct.pack("<HHH", 0, 1, len(frames))  # ICONDIR: reserved, type 1 = icon, count
    offset = len(header) + 16 * len(frames)
    entries = b""
    for size, data in frames:
        dim = size if size < 256 else 0  # 0 means 256 in ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return header + entries + b"".join(data for _, data in frames)


def _dib(image: Image.Image) -> bytes:
    """An icon frame as a bottom-up 32-bit DIB: BITMAPINFOHEADER, BGRA pixels, then the 1-bit AND mask."""
    size = image.width
    mask_stride = ((size + 31) // 32) * 4
    pixels = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM).tobytes("raw", "BGRA")
    alpha = image.getchannel("A").transpose(Image.Transpose.FLIP_TOP_BOTTOM).tobytes()
    mask = bytearray(mask_stride * size)
    for row in range(size):
        for col in range(size):
            if alpha[row * size + col] == 0:  # fully transparent pixels are masked out for old readers
                mask[row * mask_stride + col // 8] |= 0x80 >> (col % 8)
    header = struct.pack("<IiiHHIIiiII", 40, size, 2 * size, 1, 32, 0, len(pixels) + len(mask), 0, 0, 0, 0)
    return header + pixels + bytes(mask)


def write_icns(src: IconSource, out: Path) -> None:
    """A macOS .icns holding PNGs from 32 to 1024 px (each resized by us with Lanczos)."""
    base = resized(src, 1024)
    extra = [resized(src, size) for size in ICNS_SIZES if size != 1024]
    buffer = io.BytesIO()
    base.save(buffer, format="ICNS", append_images=extra)
    _write_atomic(out, buffer.getvalue())


def hicolor_set(src: IconSource, root: Path, name: str) -> list[Path]:
    """Write root/share/icons/hicolor/<N>x<N>/apps/<name>.png for every HICOLOR_SIZES size."""
    written = []
    for size in HICOLOR_SIZES:
        path = root / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{name}.png"
        write_png(src, path, size)
        written.append(path)
    return written


def _looks_like_svg(path: Path, data: bytes) -> bool:
    if path.suffix.lower() in (".svg", ".svgz"):
        return True
    head = data[:4096].lstrip().lower()
    return data[:2] == b"\x1f\x8b" or head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head)


def _open_png(path: Path, data: bytes) -> Image.Image:
    """Any raster image Pillow reads (PNG, JPEG, BMP, GIF, ICO: its largest frame, WebP, TIFF…), decoded now.

    Every writer converts it (normalize: RGBA, square), so the format of the source does not matter.
    """
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # decode now: a truncated file fails here, not halfway through a build
        return image
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise KilnError(f"icon {path} is not a readable image ({e})", hint=f"the file may be damaged; {_SVG_HINT}") \
            from None


def icon_problem(path: Path) -> str | None:
    """Why `path` cannot be the app's icon (the words `kiln check` and the wizard show), or None if it can."""
    try:
        load_icon(path)
    except KilnError as e:
        return f"{e.message} ({e.hint})" if e.hint else e.message
    return None


def _render_svg(path: Path, data: bytes) -> Image.Image:
    """Rasterise with resvg (a pip wheel with no system libraries), fitted into WORK_SIZE x WORK_SIZE."""
    try:
        import resvg_py
    except ImportError:
        raise KilnError(
            f"icon {path} is an SVG, and drawing SVGs needs the 'resvg-py' package",
            hint="install it with: pip install resvg-py (or give a PNG icon)",
        ) from None
    try:
        text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8")
        png = resvg_py.svg_to_bytes(
            svg_string=text, width=WORK_SIZE, height=WORK_SIZE, resources_dir=str(path.parent.resolve())
        )
        image = Image.open(io.BytesIO(bytes(png)))
        image.load()
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as e:
        raise KilnError(f"icon {path} is not a valid SVG ({e})", hint=_SVG_HINT) from None
    return image


def _write_atomic(out: Path, data: bytes) -> None:
    atomic_write_bytes(out, data, mode=0o644)
