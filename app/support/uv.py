"""uv, the resolver Kiln asks for another platform's dependencies: where its binary is and how it is run.

uv is a dependency of Kiln (a wheel that carries the binary). It runs through kiln.support.tools like every
other command, with its cache under Kiln's cache, no Python downloads (it builds source distributions with the
interpreter running Kiln) and no progress bars in the build log. uv does not read pip's configuration
(pip.conf, PIP_* variables): the project's [dependencies] index settings are passed to it explicitly.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kiln.support.errors import KilnError

UV_CACHE = "uv"
"""uv's cache folder inside Kiln's cache (package metadata, downloaded and built distributions)."""


def uv_binary() -> str:
    """The uv executable installed with Kiln."""
    try:
        from uv import find_uv_bin
    except ImportError:
        raise KilnError("uv is not installed beside Kiln; Kiln resolves each platform's dependencies with it",
                        hint=f"{sys.executable} -m pip install uv") from None
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        raise KilnError("the uv package is installed but its program is missing",
                        hint=f"{sys.executable} -m pip install --force-reinstall uv") from None


def uv_env(cache_dir: Path) -> dict[str, str]:
    """The environment overlay of every uv run: Kiln's cache, no downloads of Python, plain output."""
    return {"UV_CACHE_DIR": str(cache_dir / UV_CACHE), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1",
            "NO_COLOR": "1"}
