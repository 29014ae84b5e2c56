"""`kiln` / `kiln wizard [PROJECT]`: start the Qt application and show the wizard.

PySide6 is imported inside run_wizard, so importing this module (and the CLI) works without Qt or a display.
"""

from __future__ import annotations

import sys
from pathlib import Path


def run_wizard(project_path: Path | None) -> int:
    """Show the wizard and run until it closes; the process exit code. `project_path` is a project file to open, or
    an app's folder: the Start page then has it as the new project's folder (Next reads it)."""
    from PySide6.QtWidgets import QApplication

    from kiln.ui.wizard import KilnWizard

    application = QApplication.instance() or QApplication(sys.argv[:1])
    application.setApplicationName("Kiln")
    application.setOrganizationName("Kiln")
    wizard = KilnWizard()
    if project_path is not None and Path(project_path).is_dir():
        wizard.start_page.offer_folder(Path(project_path))
    elif project_path is not None:
        wizard.open_path(Path(project_path))
    wizard.show()
    return int(application.exec())
