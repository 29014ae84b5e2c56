"""Kiln's own resources: launcher sources and prebuilt launchers, icons, templates."""
