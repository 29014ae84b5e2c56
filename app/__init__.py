"""Kiln's core: project model, detection, build engine and installers. Never imports Qt."""

__version__ = "0.1.0"
