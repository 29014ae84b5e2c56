"""The wizard window: pages in order, the project being edited, Open / Save / Save As, dirty state, safe close."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtGui import QCloseEvent, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QLineEdit, QMessageBox, QWizard

from kiln.model.project import Project
from kiln.model.project_file import ProjectFile, load_project, new_project_file
from kiln.source.checks import check_project
from kiln.source.detect import Detection
from kiln.support.errors import KilnError, Problem, ProjectInvalid
from kiln.ui.field_map import describe, page_for
from kiln.ui.lenient_open import SetAside, open_leniently
from kiln.ui.model_edit import rebase_paths, relative_paths
from kiln.ui.page_ids import PageId
from kiln.ui.pages.application import ApplicationPage
from kiln.ui.pages.base import KilnPage
from kiln.ui.pages.build import BuildPage
from kiln.ui.pages.dependencies import DependenciesPage
from kiln.ui.pages.entry import EntryPage
from kiln.ui.pages.icon import IconPage, default_icon_path
from kiln.ui.pages.installers import InstallersPage
from kiln.ui.pages.start import StartPage
from kiln.ui.recent import remember_project

NEW_FILE_HEADER = (
    "Kiln project file: how to package this app. Edit it with `kiln wizard` or by hand;\n"
    "your comments are kept when the wizard saves."
)
W = QWizard.WizardButton
Answer = Literal["save", "discard", "cancel"]


class KilnWizard(QWizard):
    def __init__(self) -> None:
        super().__init__()
        self.project: Project | None = None
        self.file: ProjectFile | None = None
        self.path: Path | None = None
        """Where Save writes (for a new project: the proposed kiln.toml in the app folder)."""
        self.source_key: tuple[str, str] | None = None
        self._folder = Path.cwd()
        self._saved_data: dict[str, object] | None = None
        self.building = False
        self.save_problems: list[Problem] = []
        """What `kiln check` said about the file the last save wrote (shown to the user; empty when clean)."""
        self.pages: dict[PageId, KilnPage] = {}
        self.start_page = StartPage(self)
        self.entry_page = EntryPage(self)
        self.build_page = BuildPage(self)
        self.dependencies_page = DependenciesPage(self)
        self.icon_page = IconPage(self)
        for page in (self.start_page, ApplicationPage(self), self.entry_page, self.dependencies_page, self.icon_page,
                     InstallersPage(self), self.build_page):
            self.setPage(page.page_id, page)
            self.pages[page.page_id] = page
            page.edited.connect(self.update_title)

        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        for option in (QWizard.WizardOption.HaveCustomButton1, QWizard.WizardOption.HaveCustomButton2,
                       QWizard.WizardOption.HaveCustomButton3):
            self.setOption(option)
        self.setButtonText(W.CustomButton1, "Open…")
        self.setButtonText(W.CustomButton2, "Save")
        self.setButtonText(W.CustomButton3, "Save As…")
        self.setButtonText(W.FinishButton, "&Close")
        for button, tip in ((W.CustomButton1, "Open a project file (Ctrl+O)"), (W.CustomButton2, "Save (Ctrl+S)"),
                            (W.CustomButton3, "Save under another name (Ctrl+Shift+S)")):
            self.button(button).setToolTip(tip)
            self.button(button).setAccessibleName(tip.split(" (")[0])
        self._layout_buttons(PageId.START)
        self.currentIdChanged.connect(self._layout_buttons)
        self.customButtonClicked.connect(self._custom_button)
        QShortcut(QKeySequence.StandardKey.Open, self, self.open_dialog)
        QShortcut(QKeySequence.StandardKey.Save, self, self.save)
        QShortcut(QKeySequence("Ctrl+Shift+S"), self, self.save_as)
        QShortcut(QKeySequence("Ctrl+B"), self, self._build_shortcut)
        if (icon := default_icon_path()) is not None:
            self.setWindowIcon(QIcon(str(icon)))
        self.resize(1024, 700)
        self.update_title()

    # --- the project ---------------------------------------------------------------------------------------------
    @property
    def base_dir(self) -> Path:
        """Relative paths in the project are relative to this folder (the project file's)."""
        return self.path.parent if self.path is not None else self._folder

    def commit(self, project: Project) -> None:
        self.project = project
        self.update_title()

    def is_dirty(self) -> bool:
        return self.project is not None and (self._saved_data is None or self.project.to_data() != self._saved_data)

    def set_project(self, project: Project, path: Path, file: ProjectFile | None, saved: bool) -> None:
        self.project, self.path, self.file = project, path, file
        self._saved_data = project.to_data() if saved else None
        for page in self.pages.values():
            page.show_project(project)
        self.update_title()

    def show_project_everywhere(self) -> None:
        """After a change made outside the pages' fields (a fix from the Build page): every page shows the project
        as it is now (the Build page keeps its results)."""
        if self.project is None:
            return
        for page_id, page in self.pages.items():
            if page_id != PageId.BUILD:
                page.show_project(self.project)
        self.build_page.refresh_summary()
        self.update_title()

    def start_new(self, folder: Path, detection: Detection) -> None:
        """A new project from an app folder; saved as kiln.toml in that folder unless the user says otherwise."""
        self.source_key = ("new", str(folder))
        self._folder = folder
        self.set_project(detection.project(), folder / "kiln.toml", None, saved=False)
        self.entry_page.use_detection(folder, detection)
        self.icon_page.use_detection(folder, detection)
        self.dependencies_page.set_requires_python(folder.resolve(), detection.python_requires)

    def open_file(self, path: Path) -> list[Problem]:
        """Open a project file; its problems (none when it opened) mapped to pages by the caller."""
        path = path.expanduser().resolve()
        aside: list[SetAside] = []
        try:
            project_file = load_project(path)
        except ProjectInvalid as error:
            lenient = open_leniently(path)
            if lenient is None:
                return error.problems
            project_file, aside = lenient
        except KilnError as error:
            return [Problem("(file)", error.message, error.hint)]
        self.source_key = ("open", str(path))
        self.set_project(project_file.project, path, project_file, saved=True)
        self.start_page.show_opened(path)
        remember_project(path)
        if aside:
            self._saved_data = {}  # the file holds values the project could not take: unsaved until fixed
            self.update_title()
            QTimer.singleShot(0, lambda: self._land_on(aside))
        return []

    def _land_on(self, aside: list[SetAside]) -> None:
        """Show the page of the first refused value with that value typed back in, so the page marks it."""
        first = aside[0]
        page = self.pages[page_for(first.problem.location)]
        self._show_page(page)
        if self.currentPage() is not page:
            return
        widget = page.widget_for(first.problem)
        if isinstance(widget, QLineEdit) and isinstance(first.value, str | int | float):
            widget.setText(str(first.value))  # an edit like the user's: the page checks it, marks it and says why
            widget.setFocus()
        else:
            page.show_problems([a.problem for a in aside if page_for(a.problem.location) == page.page_id])
        others = [f"{page_for(a.problem.location).label} page, {a.problem.location}" for a in aside[1:]]
        note = f"\nAlso to fix: {'; '.join(others)}." if others else ""
        page.message.setText(f"This project file has a value Kiln cannot use; fix it here and save.\n"
                             f"{page.message.text()}{note}")
        page.message.show()

    def update_title(self) -> None:
        if self.path is None:
            name = "New project"
        else:
            name = f"{self.path.parent.name}/{self.path.name}" + ("" if self._saved_data is not None else " (new)")
        self.setWindowTitle(f"{name}[*] — Kiln")
        self.setWindowModified(self.is_dirty())
        for button in (W.CustomButton2, W.CustomButton3):
            self.button(button).setEnabled(self.project is not None)

    # --- Open / Save ---------------------------------------------------------------------------------------------
    def _custom_button(self, which: int) -> None:
        {W.CustomButton1: self.open_dialog, W.CustomButton2: self.save, W.CustomButton3: self.save_as}[W(which)]()

    def open_dialog(self) -> None:
        if self.building or not self.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open a Kiln project", str(self.base_dir),
                                              "Kiln projects (*.toml);;All files (*)")
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        """Open from anywhere in the wizard: on success stay on this page (now showing the file), else say why."""
        problems = self.open_file(path)
        if problems:
            self.restart()
            self.start_page.show_opened(path)
            self.start_page.show_problems(problems)
            return False
        if self.currentId() == PageId.START:
            self.next()
        return True

    def _pending_problems(self) -> KilnPage | None:
        """The first page whose fields hold a value the project could not take (Save must not lose it)."""
        current = self.currentPage()
        if isinstance(current, KilnPage) and current.page_id != PageId.START:
            current.show_problems(current.apply())
        for page_id, page in self.pages.items():
            if page_id not in (PageId.START, PageId.BUILD) and page.problems:
                return page
        return None

    def save(self) -> bool:
        if self.project is None or self.path is None:
            return False
        if (page := self._pending_problems()) is not None:
            self._show_page(page)
            page.message.setText(f"Not saved: fix this first.\n{page.message.text()}")
            return False
        if self._saved_data is None and self.path.exists():
            return self.save_as()  # never overwrite a file this project did not come from
        return self._write(self.path)

    def save_as(self, path: Path | None = None) -> bool:
        if self.project is None or self._pending_problems() is not None:
            return self.save()  # says what to fix
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Save the Kiln project", str(self.base_dir / "kiln.toml"),
                                                    "Kiln projects (*.toml)")
            if not chosen:
                return False
            path = Path(chosen)
        return self._write(path.resolve())

    def _write(self, path: Path) -> bool:
        assert self.project is not None
        # Paths chosen inside the project's folder are saved relative to the file, then moved for a Save As.
        project = rebase_paths(relative_paths(self.project, self.base_dir), self.base_dir, path.parent)
        try:
            if self.file is None:
                self.file = new_project_file(path, project, header=NEW_FILE_HEADER)
            self.file.project = project
            self.file.save(path)  # merges into the TOML document: the user's comments stay
        except OSError as error:
            QMessageBox.warning(self, "Kiln", f"Could not save {path}:\n{error.strerror or error}")
            return False
        moved = project is not self.project
        self.project, self.path, self._saved_data = project, path, project.to_data()
        if moved:
            for page in self.pages.values():
                page.show_project(project)
        remember_project(path)
        self.update_title()
        self._say_check_problems()
        return True

    def _say_check_problems(self) -> None:
        """Every save ends the same way: the saved file is checked as `kiln check` does, and what it says is shown."""
        assert self.file is not None
        self.save_problems = check_project(self.file)
        page = self.currentPage()
        if not self.save_problems or not isinstance(page, KilnPage):
            return
        lines = [describe(problem) for problem in self.save_problems]
        page.message.setText("Saved, but `kiln check` reports what must be fixed before a build:\n" + "\n".join(lines))
        page.message.show()

    def save_for_build(self) -> Path | None:
        """The saved file the engine will read: saves first when there are unsaved changes."""
        if self.project is None:
            return None
        if self.is_dirty() and not self.save():
            return None
        return self.path

    # --- building and closing ------------------------------------------------------------------------------------
    def set_building(self, building: bool) -> None:
        self.building = building
        for button in (W.BackButton, W.CustomButton1):
            self.button(button).setEnabled(not building)

    def _layout_buttons(self, page_id: int) -> None:
        """Cancel on every page but the last, where Close is the one way out (it asks about a running build)."""
        last = [W.FinishButton] if page_id == PageId.BUILD else [W.NextButton, W.CancelButton]
        self.setButtonLayout([W.CustomButton1, W.CustomButton2, W.CustomButton3, W.Stretch, W.BackButton, *last])

    def _build_shortcut(self) -> None:
        if self.currentId() == PageId.BUILD:
            self.build_page.start_build()

    def _show_page(self, page: KilnPage) -> None:
        while self.currentId() > page.page_id:
            self.back()
        while self.currentId() < page.page_id and self.currentPage().validatePage():
            self.next()

    def ask_unsaved(self) -> Answer:
        """Save, discard or cancel (a method so tests can answer without a modal dialog)."""
        answer = QMessageBox.question(
            self, "Kiln", "The project has unsaved changes. Save them?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            answer, "cancel")  # type: ignore[return-value]

    def ask_cancel_build(self) -> bool:
        answer = QMessageBox.question(self, "Kiln", "A build is running. Cancel it and close?")
        return answer == QMessageBox.StandardButton.Yes

    def confirm_discard(self) -> bool:
        """True when it is fine to replace or close the project (saved, or the user chose)."""
        if not self.is_dirty():
            return True
        answer = self.ask_unsaved()
        if answer == "save":
            # Saved with problems: stay, so the user reads what `kiln check` says (closing again will not ask).
            return self.save() and not self.save_problems
        return answer == "discard"

    def done(self, result: int) -> None:
        if self.building:
            if not self.ask_cancel_build():
                return
            self.stop_build()
        if not self.confirm_discard():
            return
        self.entry_page.stop()
        self.build_page.stop_app()  # the built app started with Run, and the dependency check, end with the window
        self.dependencies_page.resolver.stop()
        super().done(result)

    def stop_build(self, timeout_ms: int = 8000) -> None:
        """Cancel the build and let the engine clean up, with the event loop running (the window stays alive)."""
        engine = self.build_page.engine
        if not engine.is_running():
            return
        loop = QEventLoop()
        engine.finished.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        self.build_page.cancel_build()
        loop.exec()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.done(0)  # asks about a running build and unsaved changes
        if self.isVisible():
            event.ignore()
        else:
            event.accept()
