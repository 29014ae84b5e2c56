"""Shows a window with a greeting; with --quit-after MS (or offscreen) it closes itself and reports what it showed."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget


def main() -> int:
    app = QApplication(sys.argv)
    window = QWidget()
    window.setWindowTitle("Qt Hello")
    layout = QVBoxLayout(window)
    label = QLabel("Hello from a Qt window packaged by Kiln")
    layout.addWidget(label)
    window.resize(360, 120)
    window.show()

    quit_after = None
    if "--quit-after" in sys.argv:
        quit_after = int(sys.argv[sys.argv.index("--quit-after") + 1])
    elif app.platformName() == "offscreen":
        quit_after = 200

    def report_and_quit() -> None:
        print(f"window shown: {window.windowTitle()} / {label.text()} / platform {app.platformName()}", flush=True)
        app.quit()

    if quit_after is not None:
        QTimer.singleShot(quit_after, report_and_quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
