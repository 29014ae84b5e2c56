"""Rendering an icon with Qt at every size each platform uses, and the widget that shows them side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QSizePolicy, QWidget

from kiln.support.icons import icon_problem, png_bytes

# The sizes Kiln writes (kiln.support.icons: hicolor PNGs, .ico frames, .icns images).
PLATFORM_SIZES: list[tuple[str, tuple[int, ...]]] = [
    ("Linux (AppImage)", (16, 24, 32, 48, 64, 128, 256, 512)),
    ("Windows (MSI)", (16, 24, 32, 48, 64, 128, 256)),
    ("macOS (DMG)", (32, 64, 128, 256, 512, 1024)),
]
SHOWN_MAX = 80  # larger sizes are drawn reduced so three platforms fit on one page
MIN_GOOD = 256


@dataclass
class IconImage:
    """A loaded icon: a picture to draw at any size, its natural size, and what the user should know."""

    origin: str
    image: QImage | None = None
    svg: QSvgRenderer | None = None
    natural: QSize = field(default_factory=QSize)
    warnings: list[str] = field(default_factory=list)

    def render(self, size: int) -> QImage:
        """The icon at size×size, centred on a transparent square, scaled in halving steps (sharper than one)."""
        out = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        out.fill(Qt.GlobalColor.transparent)
        painter = QPainter(out)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width, height = max(1, self.natural.width()), max(1, self.natural.height())
        scale = size / max(width, height)
        target = QRectF((size - width * scale) / 2, (size - height * scale) / 2, width * scale, height * scale)
        if self.svg is not None:
            self.svg.render(painter, target)
        elif self.image is not None:
            picture = self.image
            while picture.width() > 2 * target.width() and picture.height() > 2 * target.height():
                picture = picture.scaled(picture.width() // 2, picture.height() // 2,
                                         Qt.AspectRatioMode.IgnoreAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation)
            painter.drawImage(target, picture)
        painter.end()
        return out


class IconError(Exception):
    """The icon cannot be used; the message says why."""


def load_icon_image(path: Path, origin: str | None = None) -> IconImage:
    """Read an SVG or any image Pillow reads for the preview; warnings for non-square and small sources,
    IconError if unreadable."""
    origin = origin or path.name
    if not path.is_file():
        raise IconError(f"the file {path} does not exist")
    if path.suffix.lower() in (".svg", ".svgz"):
        svg = QSvgRenderer(str(path))
        if not svg.isValid():
            raise IconError(f"{path.name} is not a valid SVG file")
        icon = IconImage(origin, svg=svg, natural=svg.defaultSize())
    else:
        # The core's rules (what `kiln check` and the build accept: any image Pillow reads), and its decoding, so
        # the preview shows what the build will convert, whatever Qt's own image plugins can read.
        problem = icon_problem(path)
        if problem is not None:
            raise IconError(problem.replace(f"icon {path}", path.name))
        with Image.open(path) as source:
            source.load()
            natural = source.size
            image = QImage.fromData(png_bytes(source.convert("RGBA")))
        if image.isNull():
            raise IconError(f"{path.name} could not be drawn")
        icon = IconImage(origin, image=image, natural=QSize(*natural))
    width, height = icon.natural.width(), icon.natural.height()
    if width != height:
        icon.warnings.append(f"The image is {width}×{height}, not square: it will be centred on a transparent "
                             "square. A square image looks best.")
    if icon.svg is None and max(width, height) < MIN_GOOD:
        icon.warnings.append(f"The image is only {max(width, height)} px: large sizes will look blurry. "
                             f"Use {MIN_GOOD} px or more (1024 px for macOS), or an SVG.")
    return icon


class IconPreview(QWidget):
    """One row per platform: the icon at each size it will be used, small sizes at their real size."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._icon: IconImage | None = None
        self._rendered: dict[int, QImage] = {}
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Icon preview")

    def set_icon(self, icon: IconImage | None) -> None:
        self._icon = icon
        sizes = {s for _, row in PLATFORM_SIZES for s in row}
        self._rendered = {s: icon.render(s) for s in sizes} if icon else {}
        self.setAccessibleDescription(
            f"{icon.origin} drawn at {', '.join(str(s) for s in sorted(sizes))} pixels" if icon else "no icon")
        self.update()

    def rendered(self, size: int) -> QImage | None:
        return self._rendered.get(size)

    def _label_width(self) -> int:
        return max(self.fontMetrics().horizontalAdvance(name) for name, _ in PLATFORM_SIZES) + 16

    def _row_height(self) -> int:
        return SHOWN_MAX + self.fontMetrics().height() + 14

    def sizeHint(self) -> QSize:
        widest = max(sum(min(s, SHOWN_MAX) + 14 for s in row) for _, row in PLATFORM_SIZES)
        return QSize(self._label_width() + widest, self._row_height() * len(PLATFORM_SIZES))

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        metrics = self.fontMetrics()
        text = self.palette().color(QPalette.ColorRole.WindowText)
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText)
        for index, (name, sizes) in enumerate(PLATFORM_SIZES):
            top = index * self._row_height()
            base = top + SHOWN_MAX  # tiles stand on one baseline, like icons in a row
            painter.setPen(text)
            painter.drawText(QRect(0, top, self._label_width(), SHOWN_MAX), Qt.AlignmentFlag.AlignVCenter, name)
            x = self._label_width()
            for size in sizes:
                shown = min(size, SHOWN_MAX)
                tile = QRect(x, base - shown, shown, shown)
                painter.fillRect(tile.adjusted(-3, -3, 3, 3), QColor(0, 0, 0, 14))
                image = self._rendered.get(size)
                if image is not None:
                    painter.drawImage(tile, image)
                if shown < size:  # a dashed frame tells "drawn reduced"
                    painter.setPen(QPen(muted, 1, Qt.PenStyle.DashLine))
                    painter.drawRect(tile.adjusted(-3, -3, 2, 2))
                painter.setPen(muted)
                caption = QRect(x - 10, base + 4, shown + 20, metrics.height())
                painter.drawText(caption, Qt.AlignmentFlag.AlignHCenter, str(size))
                x += shown + 14
        painter.end()
