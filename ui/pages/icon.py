"""Icon page: pick a PNG or SVG, see it at every size each platform uses, or keep Kiln's default icon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QScrollArea, QWidget

from kiln.model.project import Project
from kiln.source.detect import Detection
from kiln.source.icon_choice import IconChoice, choose_icon
from kiln.support.errors import Problem
from kiln.support.icons import DEFAULT_ICON
from kiln.ui.icon_preview import SHOWN_MAX, IconError, IconImage, IconPreview, load_icon_image
from kiln.ui.page_ids import PageId
from kiln.ui.pages.base import KilnPage, ProjectHost
from kiln.ui.widgets import PathField, add_row, choose_file, describe, make_form, note_label
from kiln.ui.worker import run_in_background


def default_icon_path() -> Path | None:
    """Kiln's own icon (used when the project names none), if this installation has it."""
    return DEFAULT_ICON if DEFAULT_ICON.is_file() else None


class IconPage(KilnPage):
    page_id = PageId.ICON

    def __init__(self, host: ProjectHost) -> None:
        super().__init__(
            host,
            "Icon",
            "Choose the picture people click to start your app; a square PNG of 256 px or more, or an SVG, works best.",
        )
        form = make_form()
        self.path = PathField("Empty: Kiln's default icon",
                              choose_file("Choose an icon", "Images (*.png *.svg *.svgz *.jpg *.jpeg *.bmp *.ico "
                                                          "*.webp *.gif *.tif *.tiff);;All files (*)"),
                              base=lambda: self.host.base_dir)
        self.default_button = QPushButton("&Use Kiln's default icon")
        self.default_button.setAutoDefault(False)
        describe(self.default_button, "Use Kiln's default icon", "Clear the icon file: Kiln's own icon is used.")
        row_widget = QWidget()
        row = QHBoxLayout(row_widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path, 1)
        row.addWidget(self.default_button)
        add_row(form, "&Icon file:", row_widget, "A square PNG (256 px or more) or SVG, relative to the project "
                "file. Leave empty for Kiln's default icon.", buddy=self.path.edit)
        self.body.addLayout(form)
        self.status = note_label()
        self.body.addWidget(self.status)
        self.preview = IconPreview()
        scroll = QScrollArea()
        scroll.setWidget(self.preview)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.body.addWidget(scroll, 1)
        self.body.addWidget(note_label(f"Sizes over {SHOWN_MAX} px are drawn reduced here (dashed frame)."))
        self.fields = {"icon.path": self.path.edit, "icon": self.path.edit}
        self.watch(self.path.edit)
        # Rendering every size takes a moment: wait until typing pauses rather than redraw on each keystroke.
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self.refresh_preview)
        self.path.edit.textChanged.connect(self._debounce.start)
        self.default_button.clicked.connect(self._use_default)
        self.icon: IconImage | None = None
        self.icon_error: str | None = None
        self.choice: tuple[Path, Path | None, str] | None = None
        """(source folder, the picture Kiln chose there, why), from detection (kiln.source.icon_choice)."""

    def initializePage(self) -> None:
        self.refresh_preview()  # the default icon may have appeared, or the file changed, since last time
        self.refresh_choice()

    # --- what Kiln chose, and why ------------------------------------------------------------------------------
    def use_detection(self, root: Path, found: Detection) -> None:
        """The Start page's detection: the icon it chose for the folder and its reason."""
        chosen = (root / found.icons[0]).resolve() if found.icons else None
        self.choice = (root, chosen, found.icon_reason)

    def refresh_choice(self) -> None:
        """Ask again (in the background) for an opened project, or when the source folder changed."""
        project = self.host.project
        if project is None:
            return
        root = (self.host.base_dir / project.source.root).resolve()
        if (self.choice is not None and self.choice[0] == root) or not root.is_dir():
            return
        names = [project.app.name, project.app.display_name, root.name]
        run_in_background(self, lambda: choose_icon(root, [n for n in names if n]),
                          lambda icon: self._chosen(root, icon), lambda _e: None)

    def _chosen(self, root: Path, icon: IconChoice | None) -> None:
        self.choice = (root, (root / icon.path).resolve(), icon.reason) if icon else (root, None, "")
        self.refresh_preview()

    def why(self) -> str:
        """'Kiln chose it: <reason>.' when the icon shown is the one detection chose, else ''."""
        text = self.path.text()
        if self.choice is None or not text or self.choice[1] is None:
            return ""
        if (self.host.base_dir / text).resolve() != self.choice[1]:
            return ""
        return f"Kiln chose it because {self.choice[2]}."

    def load(self, project: Project) -> None:
        self.path.setText(project.icon.path)
        self.refresh_preview()

    def patch(self) -> dict[str, Any]:
        return {"icon": {"path": self.path.text()}}

    def checks(self) -> list[Problem]:
        if self._debounce.isActive():
            self.refresh_preview()
        if self.icon_error:
            return [Problem("icon.path", self.icon_error,
                            "choose another image (PNG, JPEG, WebP, SVG…), or use Kiln's default icon")]
        return []

    def _use_default(self) -> None:
        self.path.setText("")
        self.refresh_preview()

    def refresh_preview(self) -> None:
        """Render the chosen (or default) icon at every size; say what is wrong or worth knowing."""
        self._debounce.stop()
        self.icon, self.icon_error = None, None
        text = self.path.text()
        try:
            if text:
                self.icon = load_icon_image(self.host.base_dir / text, text)
            elif (default := default_icon_path()) is not None:
                self.icon = load_icon_image(default, "Kiln's default icon")
        except IconError as error:
            self.icon_error = str(error)
        self.preview.set_icon(self.icon)
        if self.icon_error:
            self.status.setText(f"Cannot use this icon: {self.icon_error}.")
        elif not text:
            self.status.setText("No icon chosen: Kiln's default icon is used." if self.icon else
                                "No icon chosen: Kiln's default icon will be used (its file is not installed here).")
        else:
            size = self.icon.natural if self.icon else None
            what = f"{size.width()}×{size.height()} px" if size and self.icon and not self.icon.svg else "SVG"
            self.status.setText(" ".join([f"{text}: {what}.", *filter(None, [self.why()]),
                                          *(self.icon.warnings if self.icon else [])]))
