"""Kiln's Qt wizard (PySide6). It edits a project and runs the engine as a child process; it never builds itself."""

from kiln.ui.qt_compat import guard_none

guard_none()  # before any Qt call: see ui/qt_compat.py
