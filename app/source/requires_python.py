"""Which `[python] version` fits an app's `requires-python` (pyproject's, or a script's inline metadata)."""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from kiln.model.project import PYTHON_VERSIONS, PythonSection

DEFAULT = PythonSection().version
"""The version a project bundles when it says nothing (the one Kiln's own Python can relocate for Linux)."""


def pick_python(requires: str, preferred: str = DEFAULT) -> str | None:
    """The version to bundle for `requires` (e.g. ">=3.12"): `preferred` when it is allowed, else the nearest
    allowed version, a newer one before an older one. None when no version Kiln bundles is allowed (or the
    specifier cannot be read)."""
    try:
        allowed = SpecifierSet(requires)
    except InvalidSpecifier:
        return None
    # A version's own .0 release and its later ones: ">=3.11.4" allows 3.11 (its newest patch release ships).
    fits = [v for v in PYTHON_VERSIONS if allowed.contains(f"{v}.0", prereleases=True)
            or allowed.contains(f"{v}.99", prereleases=True)]
    if not fits:
        return None
    if preferred in fits:
        return preferred
    minor = int(preferred.split(".")[1])
    return min(fits, key=lambda v: (abs(int(v.split(".")[1]) - minor), int(v.split(".")[1]) < minor))
