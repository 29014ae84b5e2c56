"""App icons: one source image (SVG, or any raster image Pillow reads) turned into what each platform wants
(.ico, .icns, hicolor PNGs).

Every writer is deterministic (same source, same bytes) and atomic (temp file + rename), so rebuilding an
installer from unchanged inputs gives an identical artifact and an interrupted build never leaves half a file.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from kiln.resources import resource_path
from kiln.support.atomic import atomic_write_bytes
from kiln.support.errors import KilnError

DEFAULT_ICON = resource_path("icons", "kiln-default.png")
MIN_SIZE = 256
"""Smaller sources are upscaled for the large sizes, and look blurry there."""
WORK_SIZE = 1024
"""Sources are normalised to at most this side (also the size SVGs are drawn at)."""
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (32, 64, 128, 256, 512, 1024)
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
_SVG_HINT = "use an image such as a PNG, JPEG or WebP (256 px or more) or a valid SVG file"
MAX_FILE_BYTES = 32 * 1024 * 1024
"""An icon file bigger than this is refused before it is read."""
MAX_SVG_BYTES = 8 * 1024 * 1024
"""SVG text after gunzip: a small .svgz can expand to gigabytes (a gzip bomb), so it is unpacked up to this."""
MAX_PIXELS = 8192 * 8192
"""Raster icons are refused above this many pixels, from the header, before a pixel is decoded (an 8192 px
RGBA image takes 256 MiB; a 20000 x 20000 one would take 1.6 GB)."""
_HREF_RE = re.compile(r"""\bhref\s*=\s*(["'])(.*?)\1""", re.DOTALL | re.IGNORECASE)


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
        if path.stat().st_size > MAX_FILE_BYTES:
            raise KilnError(f"icon {path} is {path.stat().st_size // (1024 * 1024)} MiB; the limit is "
                            f"{MAX_FILE_BYTES // (1024 * 1024)} MiB", hint="use a PNG of 256 to 1024 px, or an SVG")
        if not path.is_file():
            raise KilnError(f"icon {path} is not a regular file", hint="point icon.path at a PNG or SVG file")
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
        width, height = image.size  # from the header: nothing is decoded yet
        if width * height > MAX_PIXELS:
            raise KilnError(f"icon {path} is {width}x{height} pixels; the limit is {MAX_PIXELS} pixels "
                            f"(e.g. 8192x8192)", hint="scale it down to 1024x1024 (Kiln draws icons at most that big)")
        image.load()  # decode now: a truncated file fails here, not halfway through a build
        return image
    except Image.DecompressionBombError as e:  # Pillow's own limit, checked from the header as well
        raise KilnError(f"icon {path} is too many pixels to be an icon; the limit is {MAX_PIXELS} pixels ({e})",
                        hint="scale it down to 1024x1024 (Kiln draws icons at most that big)") from None
    except UnidentifiedImageError:  # Pillow's message names its in-memory buffer, not the file
        what = "plain text, not an image" if _is_text(data) else "not an image in a format Kiln reads"
        raise KilnError(f"icon {path} is {what} (PNG, JPEG, BMP, GIF, ICO, WebP, TIFF or SVG)",
                        hint="point icon.path at a PNG of 256 px or more, or an SVG") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise KilnError(f"icon {path} is not a readable image ({e})", hint=f"the file may be damaged; {_SVG_HINT}") \
            from None


def _is_text(data: bytes) -> bool:
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start > 4090  # only a character cut by the 4096-byte window
    return b"\x00" not in data[:4096]


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
        text = (_gunzip_bounded(path, data) if data[:2] == b"\x1f\x8b" else _bounded_svg(path, data)).decode("utf-8")
        _refuse_external_references(path, text)
        # resources_dir: relative references (checked above to stay in the icon's folder) resolve there.
        png = resvg_py.svg_to_bytes(
            svg_string=text, width=WORK_SIZE, height=WORK_SIZE, resources_dir=str(path.parent.resolve())
        )
        image = Image.open(io.BytesIO(bytes(png)))
        image.load()
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as e:
        raise KilnError(f"icon {path} is not a valid SVG ({e})", hint=_SVG_HINT) from None
    return image


def _bounded_svg(path: Path, data: bytes) -> bytes:
    if len(data) > MAX_SVG_BYTES:
        raise KilnError(f"icon {path} is an SVG of {len(data) // (1024 * 1024)} MiB; the limit is "
                        f"{MAX_SVG_BYTES // (1024 * 1024)} MiB", hint="simplify the drawing, or use a PNG")
    return data


def _gunzip_bounded(path: Path, data: bytes) -> bytes:
    """Unpack a .svgz, stopping at MAX_SVG_BYTES: a gzip bomb is refused after a few MiB, not gigabytes."""
    unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        text = unpacker.decompress(data, MAX_SVG_BYTES + 1)
    except zlib.error as e:
        raise KilnError(f"icon {path} is not a valid gzip-compressed SVG ({e})", hint=_SVG_HINT) from None
    if len(text) > MAX_SVG_BYTES:
        raise KilnError(f"icon {path} unpacks to more than {MAX_SVG_BYTES // (1024 * 1024)} MiB of SVG "
                        "(a compression bomb?)", hint="use a plain SVG or a PNG")
    return text


def _refuse_external_references(path: Path, text: str) -> None:
    """An SVG icon may embed images (data: URIs) and refer to files in its own folder, nothing else: an
    `<image href="/home/…">` would copy any readable file on the build machine into the published icon."""
    folder = path.parent.resolve()
    for _, href in _HREF_RE.findall(text):
        target = href.strip()
        if not target or target.startswith(("#", "data:", "http://", "https://")):
            continue  # fragments and embedded data; web links are never fetched by resvg
        outside = "&" in target or ":" in target.split("/")[0] or target.startswith(("/", "\\"))
        if not outside:
            resolved = (folder / target).resolve()
            outside = resolved != folder and folder not in resolved.parents
        if outside:
            raise KilnError(f"icon {path} refers to '{target[:200]}', outside the icon's folder",
                            hint="embed the image in the SVG (a data: URI) or put it beside the icon")


def _write_atomic(out: Path, data: bytes) -> None:
    atomic_write_bytes(out, data, mode=0o644)
