"""qt_hello: a small PySide6 window packaged by Kiln's examples."""
