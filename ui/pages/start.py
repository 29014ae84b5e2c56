"""Start page: a new project from an app folder (detected in the background), a project file, or a recent one."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QListWidget, QListWidgetItem, QRadioButton, QSpacerItem, QWidget

from kiln.source.detect import Detection, detect
from kiln.support.errors import Problem
from kiln.ui.field_map import page_for
from kiln.ui.page_ids import PageId
from kiln.ui.pages.base import KilnPage, ProjectHost
from kiln.ui.recent import project_label, recent_projects
from kiln.ui.widgets import (
    PathField,
    add_row,
    choose_file,
    choose_folder,
    describe,
    display_path,
    make_form,
    note_label,
)
from kiln.ui.worker import run_in_background


class StartHost(ProjectHost, Protocol):
    source_key: tuple[str, str] | None
    """What the current project came from: ("new", folder) or ("open", file)."""

    def confirm_discard(self) -> bool: ...
    def open_file(self, path: Path) -> list[Problem]: ...
    def start_new(self, folder: Path, detection: Detection) -> None: ...


class StartPage(KilnPage):
    page_id = PageId.START

    def __init__(self, host: StartHost) -> None:
        super().__init__(
            host,
            "Welcome to Kiln",
            "Start from the folder that holds your app's code, or reopen a Kiln project you saved before.",
        )
        self.start_host = host
        self.new_radio = QRadioButton("Ne&w project from an app folder")
        self.open_radio = QRadioButton("&Open a project file")
        describe(self.new_radio, "New project from an app folder", "Kiln reads the folder and fills in what it finds.")
        describe(self.open_radio, "Open a project file", "Continue with a kiln.toml you saved before.")
        group = QButtonGroup(self)
        group.addButton(self.new_radio)
        group.addButton(self.open_radio)
        self.new_radio.setChecked(True)
        self.folder = PathField("The folder with your app's code", choose_folder("Choose your app's folder"))
        self.file = PathField(
            "A kiln.toml file", choose_file("Open a Kiln project", "Kiln projects (*.toml);;All files (*)")
        )
        self.recent = QListWidget()
        self.recent.setMinimumHeight(90)
        self.recent.setMaximumHeight(180)
        self.status = note_label()

        # One form for both choices, so every field starts at the same x and the labels line up.
        form = make_form()
        form.addRow(self.new_radio)
        add_row(form, "App &folder:", self.folder,
                "The folder with your app's code (where pyproject.toml or main.py is).", buddy=self.folder.edit)
        form.addRow("", self.status)
        form.addItem(QSpacerItem(0, 12))
        form.addRow(self.open_radio)
        add_row(form, "Pro&ject file:", self.file, "A kiln.toml saved by Kiln or written by hand.",
                buddy=self.file.edit)
        recent_label = add_row(form, "&Recent projects:", self.recent, "Projects you opened or saved lately; "
                               "double-click one to open it.")
        recent_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.body.addLayout(form)
        self.body.addStretch(1)
        self.fields = {"(file)": self.file.edit, "schema_version": self.file.edit, "(folder)": self.folder.edit}

        self._detecting: Path | None = None
        self._advance_when_done = False
        self.folder.edit.editingFinished.connect(self._folder_chosen)
        self.folder.edit.textChanged.connect(self._check_typed)  # as typed (and after Browse…): no stale tints
        self.file.edit.textChanged.connect(self._check_typed)
        self.folder.edit.textEdited.connect(lambda: self.new_radio.setChecked(True))
        self.file.edit.textEdited.connect(lambda: self.open_radio.setChecked(True))
        self.recent.currentItemChanged.connect(self._recent_chosen)
        self.recent.itemActivated.connect(lambda _item: self.wizard().next())
        self.new_radio.toggled.connect(self._sync_enabled)
        self._sync_enabled()

    def initializePage(self) -> None:
        self.refresh_recent()

    def refresh_recent(self) -> None:
        self.recent.blockSignals(True)
        self.recent.clear()
        for path in recent_projects():
            item = QListWidgetItem(f"{project_label(path)}  —  {display_path(path)}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.recent.addItem(item)
        if self.recent.count() == 0:
            empty = QListWidgetItem("No recent projects yet: projects you save or open are listed here.")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            empty.setData(Qt.ItemDataRole.UserRole, "")
            self.recent.addItem(empty)
        self.recent.blockSignals(False)

    def _sync_enabled(self) -> None:
        new = self.new_radio.isChecked()
        self.folder.setEnabled(new)
        self.file.setEnabled(not new)
        self._check_typed()

    def _recent_chosen(self, item: QListWidgetItem | None) -> None:
        if item is not None and item.flags() & Qt.ItemFlag.ItemIsEnabled:
            self.open_radio.setChecked(True)
            self.file.setText(str(item.data(Qt.ItemDataRole.UserRole)))

    def _folder_chosen(self) -> None:
        folder = Path(self.folder.text()).expanduser() if self.folder.text() else None
        if folder is not None and folder.is_dir() and self.start_host.source_key != ("new", str(folder.resolve())):
            self._start_detection(folder.resolve())

    def _start_detection(self, folder: Path) -> None:
        if self._detecting == folder:
            return
        self._detecting = folder
        self.status.setText(f"Reading {folder.name}…")
        run_in_background(
            self,
            lambda: detect(folder),
            lambda found: self._detected(folder, found),
            lambda error: self._detection_failed(folder, error),
        )

    def _check_typed(self, *_: object) -> None:
        """Say at once when the typed path does not exist or is the wrong kind; clear the marks when it is fine."""
        new = self.new_radio.isChecked()
        text = (self.folder if new else self.file).text().strip()
        path = Path(text).expanduser() if text else None
        problem = ""
        if path is None:
            problem = ""
        elif not path.exists():
            problem = f"there is no {'folder' if new else 'file'} {text}"
        elif new and not path.is_dir():
            problem = f"{text} is a file: choose the folder that holds your app's code"
        elif not new and path.is_dir():
            problem = f"{text} is a folder: choose the kiln.toml inside it"
        self.show_problems([Problem("(folder)" if new else "(file)", problem, "check the path, or use Browse…")]
                           if problem else [])

    @staticmethod
    def holds_no_app(found: Detection) -> bool:
        """Nothing Python in the folder: no project metadata, no package or module, no way to start anything."""
        return not (found.entries or found.is_project or found.packages or found.name or found.requirements)

    def _detected(self, folder: Path, found: Detection) -> None:
        if self._detecting != folder:
            return  # the user chose another folder meanwhile
        self._detecting = None
        if self.holds_no_app(found):
            self._advance_when_done = False
            self.status.setText("")
            self.show_problems([Problem(
                "(folder)", f"{folder.name} holds no Python app: Kiln found no .py files and no pyproject.toml, "
                "setup.py or setup.cfg in it", "choose the folder that holds your app's code")])
            return
        if self.start_host.source_key != ("new", str(folder)):
            if not self.start_host.confirm_discard():
                self.status.setText("")
                self._advance_when_done = False
                return
            self.start_host.start_new(folder, found)
        ways, deps = len(found.entries), len(found.requirements) + len(found.requirements_from_file)
        name = " ".join(p for p in (found.name or folder.name, found.version) if p)
        counted = f"{deps} {'dependency' if deps == 1 else 'dependencies'}"
        if found.lone_script:
            kind = "a window app" if found.entries[0].kind == "gui" else "a terminal app"
            lines = [f"Your script {found.lone_script} ({kind}), {counted}. Press Next to check what Kiln filled in."]
        else:
            lines = [f"Found {name}: {ways} way{'s' if ways != 1 else ''} to start it, {counted}. Press Next to "
                     "check what Kiln filled in."]
        if (folder / "kiln.toml").exists():
            lines.append("This folder already has a kiln.toml; to continue with it, choose Open a project file.")
        lines += found.warnings
        self.status.setText("\n".join(lines))
        self.show_problems([])
        if self._advance_when_done and self.wizard().currentPage() is self:
            self._advance_when_done = False
            self.wizard().next()

    def _detection_failed(self, folder: Path, error: Exception) -> None:
        self._detecting = None
        self._advance_when_done = False
        self.status.setText("")
        self.show_problems([Problem("(folder)", f"could not read {folder}: {error}", "choose another folder")])

    def validatePage(self) -> bool:
        if self.new_radio.isChecked():
            return self._validate_new()
        return self._validate_open()

    def _validate_new(self) -> bool:
        text = self.folder.text()
        folder = Path(text).expanduser().resolve() if text else None
        if folder is None or not folder.is_dir():
            message = "choose the folder that holds your app's code" if folder is None else f"{text} is not a folder"
            self.show_problems([Problem("(folder)", message, "type its path or use Browse…")])
            self.folder.setFocus()
            return False
        if self.start_host.source_key == ("new", str(folder)):
            return True
        self._advance_when_done = True  # Next goes on by itself once detection is done
        self._start_detection(folder)
        return False

    def _validate_open(self) -> bool:
        text = self.file.text()
        if not text:
            self.show_problems([Problem("(file)", "choose a kiln.toml file, or pick one of the recent projects")])
            self.file.setFocus()
            return False
        path = Path(text).expanduser().resolve()
        if self.start_host.source_key == ("open", str(path)):
            return True
        if not self.start_host.confirm_discard():
            return False
        problems = self.start_host.open_file(path)
        self.show_problems(problems)
        return not problems

    def widget_for(self, problem: Problem) -> QWidget | None:
        return self.folder.edit if problem.location == "(folder)" else self.file.edit

    def problem_label(self, problem: Problem, widget: QWidget | None) -> str:
        """Problems of an opened file name the page and the setting, e.g. 'Application page, app.version'."""
        if problem.location in ("(folder)", "(file)"):
            return str(widget.accessibleName()) if widget is not None else ""
        return f"{page_for(problem.location).label} page, {problem.location}"

    def offer_folder(self, folder: Path) -> None:
        """A folder given to `kiln wizard FOLDER`: the new project's folder, read at once; Next goes on with it."""
        self.new_radio.setChecked(True)
        self.folder.setText(display_path(folder.expanduser().resolve()))
        self._folder_chosen()

    def show_opened(self, path: Path) -> None:
        """Reflect a file opened from elsewhere (menu, command line), so Next here goes on with it."""
        self.open_radio.setChecked(True)
        self.file.setText(str(path))
