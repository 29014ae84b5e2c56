"""Which picture in an app's folder is its icon, and why: what the project declares first, then a guess.

In order: the icon its desktop file names (`Icon=`), the one its AppStream metainfo names, an image it installs as
an app icon (data-files in pyproject.toml, setup.cfg or setup.py), an image named after the app, one named icon or
logo, and last the largest square image. A named icon (`Icon=retext`) is looked up by file name in the folder, an
SVG first, else the largest PNG. Files are read, never run; images only by their headers.
"""

from __future__ import annotations

import ast
import configparser
import re
import tomllib
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

from kiln.source.desktop_files import MAX_FILES, declaration_files, desktop_value, read_text
from kiln.source.tree import walk_files
from kiln.support import pyast
from kiln.support.icons import MIN_SIZE

IMAGE_ENDINGS = frozenset({".png", ".svg", ".svgz", ".ico", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".xpm"})
_ICON_WORDS = re.compile(r"(^|[^a-z])(icon|logo)([^a-z]|$)")
_TESTS = frozenset({"test", "tests"})  # a test suite's pictures are never the app's icon
_SVG_LENGTH = re.compile(r"^\s*([0-9.]+)\s*(px)?\s*$")


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int
    scalable: bool = False
    """An SVG: drawn sharp at any size (width and height are its aspect, 0 when unknown)."""

    @property
    def square(self) -> bool:
        return self.width == self.height and self.width > 0

    def __str__(self) -> str:
        if self.scalable:
            return "a drawing (SVG)" if self.square or not self.width else f"a {self.width}×{self.height} drawing (SVG)"
        return f"{self.width}×{self.height} px"


@dataclass(frozen=True)
class IconChoice:
    path: str
    """Relative to the folder, with '/'."""
    reason: str
    """Why this picture, in plain words, e.g. 'the project's desktop file names it (Icon=retext)'."""
    size: ImageSize


def image_size(path: Path) -> ImageSize | None:
    """The picture's size from its header (no pixel decoded), or None when it is not a readable image."""
    if path.suffix.lower() in (".svg", ".svgz"):
        return _svg_size(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return ImageSize(width, height)


def icon_warnings(path: Path, shown: str) -> list[str]:
    """What the user should hear about an icon that works but will not look its best (small, not square)."""
    size = image_size(path)
    if size is None:
        return []
    warnings = []
    if size.width and size.height and size.width != size.height:
        warnings.append(f"{shown} is {size.width}×{size.height}, not square: it is centred on a transparent square "
                        "(a square picture looks best)")
    if not size.scalable and max(size.width, size.height) < MIN_SIZE:
        warnings.append(f"{shown} is only {max(size.width, size.height)} px: large icons will look blurry "
                        f"(use {MIN_SIZE} px or more, or an SVG)")
    return warnings


def choose_icon(folder: Path, names: Sequence[str]) -> IconChoice | None:
    """The app's icon in `folder`, the first rule that finds a readable image (see the module's doc); `names` are
    what the app is called (its name, display name, packages, entry script), for a file named after it."""
    images = _images(folder)
    if not images:
        return None
    sizes: dict[str, ImageSize | None] = {}

    def size_of(rel: str) -> ImageSize | None:
        if rel not in sizes:
            sizes[rel] = image_size(folder / rel)
        return sizes[rel]

    def pick(candidates: Iterable[str], reason: str) -> IconChoice | None:
        for rel in candidates:
            if (size := size_of(rel)) is not None:
                return IconChoice(rel, reason, size)
        return None

    for declared, reason in _declared(folder, images):
        if (choice := pick(_best_first(declared, size_of), reason)) is not None:
            return choice
    wanted = {_plain(name) for name in names if _plain(name)}
    named = [rel for rel in images if _plain(PurePosixPath(rel).stem) in wanted]
    if (choice := pick(_best_first(named, size_of), "it is named after the app")) is not None:
        return choice
    iconish = [rel for rel in images if _ICON_WORDS.search(PurePosixPath(rel).stem.lower())]
    squares = [rel for rel in iconish if (size := size_of(rel)) is not None and (size.square or size.width == 0)]
    if (choice := pick(_best_first(squares, size_of), "it is named icon or logo")) is not None:
        return choice
    squares = [rel for rel in images if (size := size_of(rel)) is not None and size.square]
    best = _best_first(squares, size_of)
    if best:
        return pick(best, f"it is the largest square picture in the folder ({size_of(best[0])})")
    return None


# --- the project's own declarations -----------------------------------------------------------------------------
def _declared(folder: Path, images: list[str]) -> Iterable[tuple[list[str], str]]:
    """(candidate images, reason) for each declaration found, in the order they count."""
    files = declaration_files(folder)
    for rel in files.get(".desktop", []):
        value = desktop_value(folder / rel, "Icon")
        if value:
            yield _resolve(folder, rel, value, images), f"the project's desktop file {rel} names it (Icon={value})"
    for rel in files.get(".xml", []):
        for kind, value in _metainfo_icons(folder / rel):
            found = _resolve(folder, rel, value, images) if kind != "remote" else []
            yield found, f"the project's AppStream file {rel} names it"
    for rel, destination in _data_files(folder):
        if PurePosixPath(rel).suffix.lower() in IMAGE_ENDINGS and re.search(r"icons|pixmaps", destination):
            yield [rel] if rel in images else [], f"the project installs it as its app icon (data files: {destination})"


def _metainfo_icons(path: Path) -> list[tuple[str, str]]:
    """(type, value) of each <icon> of an AppStream component (local: a path, stock: an icon name)."""
    try:
        root = ElementTree.fromstring(read_text(path))
    except ElementTree.ParseError:
        return []
    return [(icon.get("type", "stock"), (icon.text or "").strip()) for icon in root.iter("icon")
            if (icon.text or "").strip()]


def _resolve(folder: Path, declared_in: str, value: str, images: list[str]) -> list[str]:
    """The images a declared icon means: a path (from the declaring file's folder, from the project's, or the
    file's name anywhere), or an icon name: files of that name, an SVG first, then the largest picture."""
    pure = PurePosixPath(value.replace("\\", "/"))
    if pure.suffix.lower() in IMAGE_ENDINGS or "/" in value:
        base = PurePosixPath(declared_in).parent
        for candidate in (base / pure, pure, *(PurePosixPath(i) for i in images if PurePosixPath(i).name == pure.name)):
            text = candidate.as_posix().lstrip("/")
            if text in images:
                return [text]
        return []
    return [rel for rel in images if PurePosixPath(rel).stem == value]


def _data_files(folder: Path) -> list[tuple[str, str]]:
    """(file, destination) of the project's data files: pyproject's [tool.setuptools.data-files], setup.cfg's
    [options.data_files], and the literal `data_files=[...]` of setup.py (read with ast, never run)."""
    pairs: list[tuple[str, str]] = []
    try:
        pyproject = tomllib.loads(read_text(folder / "pyproject.toml"))
    except tomllib.TOMLDecodeError:
        pyproject = {}
    table = pyproject.get("tool", {}).get("setuptools", {}).get("data-files", {})
    if isinstance(table, dict):
        pairs += [(str(f), str(dest)) for dest, files in table.items() if isinstance(files, list) for f in files]
    config = configparser.ConfigParser(interpolation=None)
    try:
        config.read_string(read_text(folder / "setup.cfg"))
    except configparser.Error:
        pass
    else:
        if config.has_section("options.data_files"):
            for dest, value in config.items("options.data_files"):
                pairs += [(f.strip(), dest) for f in re.split(r"[\n,]", value) if f.strip()]
    pairs += _setup_py_data_files(read_text(folder / "setup.py"))
    return [(PurePosixPath(f).as_posix().removeprefix("./"), dest) for f, dest in pairs]


def _setup_py_data_files(text: str) -> list[tuple[str, str]]:
    if "data_files" not in text:
        return []
    try:
        tree = pyast.parse(text)
    except (SyntaxError, ValueError):
        return []
    pairs: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "data_files":
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, SyntaxError, TypeError):
                continue
            for item in value if isinstance(value, list | tuple) else []:
                if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], list | tuple):
                    pairs += [(str(f), str(item[0])) for f in item[1]]
    return pairs


# --- helpers -----------------------------------------------------------------------------------------------------
def _images(folder: Path) -> list[str]:
    found = []
    for count, path in enumerate(walk_files(folder)):
        if count > MAX_FILES:
            break
        rel = path.relative_to(folder)
        if path.suffix.lower() in IMAGE_ENDINGS and not path.is_symlink() and not _TESTS & set(rel.parts[:-1]):
            found.append(rel.as_posix())
    return found


def _plain(name: str) -> str:
    """A name compared without case or separators ('Re-Text', 're_text' and 'ReText' are one)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _best_first(candidates: list[str], size_of: Callable[[str], ImageSize | None]) -> list[str]:
    """Scalable drawings first, then the largest picture, then the shallowest path."""

    def key(rel: str) -> tuple[int, int, int, str]:
        size = size_of(rel)
        scalable = bool(size and size.scalable)
        area = size.width * size.height if size and not size.scalable else 0
        return (0 if scalable else 1, -area, rel.count("/"), rel)

    return sorted(candidates, key=key)


def _svg_size(path: Path) -> ImageSize | None:
    """An SVG's aspect from its width/height or viewBox (0×0 when it gives none); None if it is not an SVG."""
    text = read_text(path) if path.suffix.lower() == ".svg" else ""
    if path.suffix.lower() == ".svgz":
        return ImageSize(0, 0, scalable=True)  # compressed: taken as it is, kiln check reads it fully
    match = re.search(r"<svg\b[^>]*>", text, re.DOTALL)
    if match is None:
        return None
    tag = match.group(0)

    def attribute(name: str) -> str:
        found = re.search(rf"\s{name}\s*=\s*([\"'])(.*?)\1", tag, re.DOTALL)
        return found.group(2) if found else ""

    width, height = _SVG_LENGTH.match(attribute("width")), _SVG_LENGTH.match(attribute("height"))
    if width and height:
        return ImageSize(round(float(width.group(1))), round(float(height.group(1))), scalable=True)
    box = attribute("viewBox").replace(",", " ").split()
    try:
        if len(box) == 4:
            return ImageSize(round(float(box[2])), round(float(box[3])), scalable=True)
    except ValueError:
        pass
    return ImageSize(0, 0, scalable=True)
