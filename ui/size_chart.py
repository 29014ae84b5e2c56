"""What takes the space in a build: a horizontal bar per component, drawn with QPainter (no chart library).

When the build pruned Qt (the report's `qt` section), each Qt distribution's bar is its shipped size with a
lighter bar behind it for its size unpruned, and a last line says what pruning saved. Everything shown is
computed by the pure functions below, so tests check rows and words without painting.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

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


def chart_rows(sizes: dict[str, int], keep: Collection[str] = ()) -> list[tuple[str, int]]:
    """Biggest first, at most _MAX_ROWS bars; the smallest dependencies are summed into 'other'.

    Names in `keep` (the pruned Qt distributions) always get their own bar, even when pruning left them empty:
    their unpruned size is the point of showing them."""
    rows = sorted(((name, int(size)) for name, size in sizes.items() if size > 0 or name in keep),
                  key=lambda r: (-r[1], r[0]))
    if len(rows) > _MAX_ROWS:
        kept = [row for row in rows[_MAX_ROWS - 1:] if row[0] in keep]
        rest = [row for row in rows[_MAX_ROWS - 1:] if row[0] not in keep]
        head = [*rows[: _MAX_ROWS - 1], *kept]
        rows = sorted(head, key=lambda r: (-r[1], r[0]))
        if rest:
            rows.append((f"{len(rest)} others", sum(size for _, size in rest)))
    return rows


def _normal(name: str) -> str:
    """PEP 503 names: PySide6_Essentials, pyside6-essentials and pyside6_essentials are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class QtPruning:
    """The report's Qt pruning for the target the chart shows, keyed by the chart's component names."""

    target: str = ""
    unpruned: dict[str, int] = field(default_factory=dict)
    """Per pruned distribution: its size had nothing been pruned (only those pruning made smaller)."""

    def saved(self, sizes: dict[str, int]) -> int:
        return sum(max(0, unpruned - sizes.get(name, 0)) for name, unpruned in self.unpruned.items())


def qt_pruning(sizes: dict[str, int], by_distribution: dict[str, Any], target: str = "") -> tuple[
        dict[str, int], QtPruning]:
    """The chart's sizes and unpruned figures from a target's `qt.by_distribution` ({"unpruned", "pruned"}).

    The bars are the shipped sizes of size_by_component (they count the compiled bytecode added after pruning);
    the unpruned figure adds back the bytes pruning removed from that distribution, so both count the same way
    and their difference is exactly what pruning saved. A distribution pruned away entirely gets a bar of 0."""
    chart = dict(sizes)
    names = {_normal(name): name for name in chart}
    pruning = QtPruning(target)
    for dist, figures in by_distribution.items():
        if not isinstance(figures, dict):
            continue
        removed = int(figures.get("unpruned") or 0) - int(figures.get("pruned") or 0)
        if removed <= 0:
            continue
        name = names.get(_normal(str(dist)), str(dist))
        chart.setdefault(name, 0)
        pruning.unpruned[name] = chart[name] + removed
    return chart, pruning


def report_sizes(report: dict[str, Any]) -> tuple[dict[str, int], QtPruning]:
    """What the chart shows for a build report: size_by_component, or, when Qt was pruned, the sizes of the
    pruned target (so bars and unpruned figures describe the same bundle) with its pruning."""
    raw = report.get("size_by_component")
    sizes = {str(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    qt = report.get("qt")
    if not isinstance(qt, dict) or not qt:
        return sizes, QtPruning()
    by_target = report.get("size_by_target")
    by_target = by_target if isinstance(by_target, dict) else {}
    targets = [t for t in qt if isinstance(qt[t], dict)]
    # the target size_by_component was measured on, else the first pruned target whose sizes the report has
    matching = [t for t in targets if by_target.get(t) == raw]
    matching = matching or [t for t in targets if isinstance(by_target.get(t), dict)]
    if matching:
        target = matching[0]
        sizes = {str(k): int(v) for k, v in by_target[target].items()}
    elif targets:
        target = targets[0]  # an older report without size_by_target: its one set of sizes
    else:
        return sizes, QtPruning()
    by_distribution = qt[target].get("by_distribution")
    return qt_pruning(sizes, by_distribution if isinstance(by_distribution, dict) else {}, target)


def row_label(size: int, total: int, unpruned: int = 0) -> str:
    """The words right of a bar: '91.5 MiB (41%)', or '91.5 MiB (41%, unpruned 249.1 MiB)' for pruned Qt."""
    extra = f", unpruned {human_size(unpruned)}" if unpruned > size else ""
    return f"{human_size(size)} ({share(size, total)}{extra})"


def saved_label(saved: int, target: str = "") -> str:
    """The chart's last line when Qt was pruned; empty when nothing was."""
    if saved <= 0:
        return ""
    return f"Qt pruning saved {human_size(saved)}" + (f" in the {target} bundle" if target else "")


def chart_lines(rows: list[tuple[str, int]], unpruned: dict[str, int], saved: str) -> list[str]:
    """One line per bar (name, size, share, unpruned size) and the saved line: the chart as text, for the
    accessible description and the tooltip."""
    total = sum(size for _, size in rows) or 1
    lines = [f"{name} {row_label(size, total, unpruned.get(name, 0))}" for name, size in rows]
    return [*lines, saved] if saved else lines


class SizeChart(QWidget):
    """Bars sized to the largest component, with name on the left and size (and share) on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, int]] = []
        self._unpruned: dict[str, int] = {}
        self._saved = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Size by component")

    def set_sizes(self, sizes: dict[str, int], pruning: QtPruning | None = None) -> None:
        pruning = pruning or QtPruning()
        self._rows = chart_rows(sizes, keep=pruning.unpruned)
        self._unpruned = {name: pruning.unpruned[name] for name, _ in self._rows if name in pruning.unpruned}
        self._saved = saved_label(pruning.saved(sizes), pruning.target)
        lines = chart_lines(self._rows, self._unpruned, self._saved)
        self.setAccessibleDescription("; ".join(lines))
        self.setToolTip("\n".join(lines))
        self.updateGeometry()
        self.update()

    def set_report(self, report: dict[str, Any]) -> None:
        """The sizes of a build report, with its Qt pruning when there was some."""
        self.set_sizes(*report_sizes(report))

    def rows(self) -> list[tuple[str, int]]:
        return list(self._rows)

    def unpruned(self) -> dict[str, int]:
        """Per bar of a pruned Qt distribution: its size unpruned."""
        return dict(self._unpruned)

    def saved(self) -> str:
        """The 'Qt pruning saved …' line, or '' when Qt was not pruned."""
        return self._saved

    def _row_height(self) -> int:
        return self.fontMetrics().height() + 8

    def sizeHint(self) -> QSize:
        lines = max(1, len(self._rows)) + (1 if self._saved else 0)
        return QSize(400, lines * self._row_height() + 4)

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
        largest = max([size for _, size in self._rows] + list(self._unpruned.values())) or 1
        label_width = min(self.width() // 3, max(metrics.horizontalAdvance(n) for n, _ in self._rows) + 12)
        widest = "1023.9 MiB (100%, unpruned 1023.9 MiB)" if self._unpruned else "1023.9 MB (100%)"
        value_width = metrics.horizontalAdvance(widest) + 12
        bar_space = max(10, self.width() - label_width - value_width)
        height = self._row_height()
        for index, (name, size) in enumerate(self._rows):
            top = index * height + 2
            painter.setPen(palette.color(QPalette.ColorRole.WindowText))
            label = metrics.elidedText(name, Qt.TextElideMode.ElideRight, label_width - 8)
            painter.drawText(QRect(0, top, label_width - 8, height), Qt.AlignmentFlag.AlignVCenter
                             | Qt.AlignmentFlag.AlignRight, label)
            colour = _COLOURS.get(name, _DEPENDENCY)
            width = max(2, round(bar_space * size / largest))
            unpruned = self._unpruned.get(name, 0)
            end = width
            if unpruned > size:  # the unpruned size: a pale bar behind the shipped one, same colour family
                end = max(width, round(bar_space * unpruned / largest))
                pale = QColor(colour)
                pale.setAlpha(70)
                painter.fillRect(QRect(label_width, top + 3, end, height - 6), pale)
            painter.fillRect(QRect(label_width, top + 3, width, height - 6), colour)
            painter.drawText(QRect(label_width + end + 6, top, value_width, height), Qt.AlignmentFlag.AlignVCenter,
                             row_label(size, total, unpruned))
        if self._saved:
            top = len(self._rows) * height + 2
            painter.setPen(palette.color(QPalette.ColorRole.WindowText))
            painter.drawText(QRect(label_width, top, self.width() - label_width, height), Qt.AlignmentFlag.AlignVCenter,
                             metrics.elidedText(self._saved, Qt.TextElideMode.ElideRight, self.width() - label_width))
        painter.end()
