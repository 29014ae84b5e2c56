"""Shows a QML window (QtQuick + Controls) and a QtWidgets label; offscreen (or with --quit-after MS) it reports
what the QML scene holds and quits."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtQml import QQmlApplicationEngine
from PySide6.QtQuick import QQuickWindow, QSGRendererInterface
from PySide6.QtWidgets import QApplication, QLabel


def main() -> int:
    app = QApplication(sys.argv)
    if app.platformName() in ("offscreen", "minimal"):
        # No GPU there: Qt Quick's software renderer draws the scene.
        QQuickWindow.setGraphicsApi(QSGRendererInterface.GraphicsApi.Software)
    label = QLabel("Hello from QtWidgets beside QML")
    label.show()
    engine = QQmlApplicationEngine()
    engine.load(str(Path(__file__).with_name("main.qml")))
    if not engine.rootObjects():
        print("QML failed to load", file=sys.stderr, flush=True)
        return 1
    window = engine.rootObjects()[0]

    quit_after = None
    if "--quit-after" in sys.argv:
        quit_after = int(sys.argv[sys.argv.index("--quit-after") + 1])
    elif app.platformName() == "offscreen":
        quit_after = 200

    def report_and_quit() -> None:
        greeting = window.findChild(QObject, "greeting")
        button = window.findChild(QObject, "button")
        print(f"qml shown: {window.property('title')} / {greeting.property('text')} / "
              f"button {button.property('text')} / widget {label.text()} / platform {app.platformName()}", flush=True)
        app.quit()

    if quit_after is not None:
        QTimer.singleShot(quit_after, report_and_quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
