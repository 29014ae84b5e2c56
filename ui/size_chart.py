"""What takes the space in a build: a horizontal bar per component, drawn with QPainter (no chart library)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from kiln.support.sizes import human_size

_COLOURS = {"runtime": QColor("#4e79a7"), "stdlib": QColor("#76b7b2"), "app": QColor("#e15759")}
_DEPENDENCY = QColor("#f28e2b")
_MAX_ROWS = 12  # the rest is summed into one "other" bar


def share(size: int, total: int) -> str:
    """A percentage for a label; tiny but present parts say <1% rather than a misleading 0%."""
    percent = 100 * size / (total or 1)
    return "<1%" if 0 < percent < 0.5 else f"{percent:.0f}%"


def chart_rows(sizes: dict[str, int]) -> list[tuple[str, int]]:
    """Biggest first, at most _MAX_ROWS bars; the smallest dependencies are summed into 'other'."""
    rows = sorted(((name, int(size)) for name, size in sizes.items() if size > 0), key=lambda r: (-r[1], r[0]))
    if len(rows) > _MAX_ROWS:
        rest = rows[_MAX_ROWS - 1:]
        rows = [*rows[: _MAX_ROWS - 1], (f"{len(rest)} others", sum(size for _, size in rest))]
    return rows


class SizeChart(QWidget):
    """Bars sized to the largest component, with name on the left and size (and share) on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, int]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Size by component")

    def set_sizes(self, sizes: dict[str, int]) -> None:
        self._rows = chart_rows(sizes)
        total = sum(size for _, size in self._rows) or 1
        self.setAccessibleDescription(
            "; ".join(f"{name} {human_size(size)} ({share(size, total)})" for name, size in self._rows))
        self.setToolTip(self.accessibleDescription().replace("; ", "\n"))
        self.updateGeometry()
        self.update()

    def rows(self) -> list[tuple[str, int]]:
        return list(self._rows)

    def _row_height(self) -> int:
        return self.fontMetrics().height() + 8

    def sizeHint(self) -> QSize:
        return QSize(400, max(1, len(self._rows)) * self._row_height() + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        metrics = self.fontMetrics()
        palette = self.palette()
        if not self._rows:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Sizes appear here after a build.")
            return
        total = sum(size for _, size in self._rows) or 1
        largest = max(size for _, size in self._rows)
        label_width = min(self.width() // 3, max(metrics.horizontalAdvance(n) for n, _ in self._rows) + 12)
        value_width = metrics.horizontalAdvance("1023.9 MB (100%)") + 12
        bar_space = max(10, self.width() - label_width - value_width)
        height = self._row_height()
        for index, (name, size) in enumerate(self._rows):
            top = index * height + 2
            painter.setPen(palette.color(QPalette.ColorRole.WindowText))
            label = metrics.elidedText(name, Qt.TextElideMode.ElideRight, label_width - 12)
            painter.drawText(QRect(0, top, label_width - 8, height), Qt.AlignmentFlag.AlignVCenter
                             | Qt.AlignmentFlag.AlignRight, label)
            width = max(2, round(bar_space * size / largest))
            colour = _COLOURS.get(name, _DEPENDENCY)
            painter.fillRect(QRect(label_width, top + 3, width, height - 6), colour)
            painter.drawText(QRect(label_width + width + 6, top, value_width, height), Qt.AlignmentFlag.AlignVCenter,
                             f"{human_size(size)} ({share(size, total)})")
        painter.end()
