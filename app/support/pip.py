"""The pip Kiln drives — `python -m pip` of the interpreter running Kiln — and the oldest release it works with."""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.version import InvalidVersion, Version

from kiln.support.errors import KilnError

PIP_MINIMUM = "26.3"
"""The oldest pip Kiln is tested with (its CI lock); pyproject.toml's `pip>=` floor says the same."""


def pip_argv(*args: str) -> list[str]:
    """`python -m pip ARGS…` for the interpreter running Kiln, once that pip is known to be new enough."""
    require_pip()
    return [sys.executable, "-m", "pip", *args]


def require_pip() -> None:
    """Raise one clear KilnError when the pip beside Kiln is missing or older than PIP_MINIMUM.

    An older pip fails in ways that look like problems of the user's app (Python 3.11's own pip 23.2.1 refuses
    `--platform` without `--target`): say what is wrong, and the command that fixes it, before running it.
    """
    upgrade = f"{sys.executable} -m pip install --upgrade 'pip>={PIP_MINIMUM}'"
    try:
        installed = metadata.version("pip")
    except metadata.PackageNotFoundError:
        raise KilnError("pip is not installed beside Kiln; Kiln runs pip to install the app's dependencies",
                        hint=f"{sys.executable} -m ensurepip, then {upgrade}") from None
    try:
        too_old = Version(installed) < Version(PIP_MINIMUM)
    except InvalidVersion:
        return  # a development build of pip: let it try
    if too_old:
        raise KilnError(f"pip {installed} is too old for Kiln, which needs pip {PIP_MINIMUM} or newer",
                        hint=upgrade)
