"""Wheels and sdists made by tests, so that resolution and installs run offline against a find_links folder."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

NATIVE_TAGS = {
    "windows-x86_64": "cp312-cp312-win_amd64",
    "macos-arm64": "cp312-cp312-macosx_11_0_arm64",
    "linux-x86_64": "cp312-cp312-manylinux_2_28_x86_64",
}


def make_wheel(
    folder: Path, name: str, version: str, tag: str, files: dict[str, bytes], requires: tuple[str, ...] = ()
) -> Path:
    """A valid wheel (METADATA, WHEEL, RECORD with hashes), byte-identical for identical inputs."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    pure = tag.endswith("-none-any")
    wheel = f"Wheel-Version: 1.0\nGenerator: kiln-tests\nRoot-Is-Purelib: {str(pure).lower()}\nTag: {tag}\n"
    entries = {**files, f"{info}/METADATA": metadata.encode(), f"{info}/WHEEL": wheel.encode()}
    record = []
    for path, data in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    entries[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    target = folder / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(target, "w") as zf:
        for path, data in entries.items():
            zf.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
    return target


def module_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A pure wheel whose module says its version: `<name>/__init__.py` holds `VERSION = '<version>'`."""
    module = name.replace("-", "_")
    return make_wheel(folder, name, version, "py3-none-any",
                      {f"{module}/__init__.py": f"VERSION = {version!r}\n".encode()}, requires)


BACKEND = textwrap.dedent('''
    """A tiny PEP 517 backend (no build requirements, so pip's isolated build works offline)."""
    import base64, hashlib, os, zipfile

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        name = "demo_sdist-1.0-py3-none-any.whl"
        info = "demo_sdist-1.0.dist-info"
        files = {
            "demo_sdist/__init__.py": b"BUILT = True\\n",
            info + "/METADATA": b"Metadata-Version: 2.1\\nName: demo-sdist\\nVersion: 1.0\\n",
            info + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
        }
        lines = []
        for path, data in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            lines.append(f"{path},sha256={digest},{len(data)}")
        files[info + "/RECORD"] = ("\\n".join(lines + [info + "/RECORD,,"]) + "\\n").encode()
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
            for path, data in files.items():
                zf.writestr(path, data)
        return name
''')
PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'


def make_sdist(folder: Path, name: str, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        pkg_info = f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 1.0\n"
        for rel, text in {**files, "PKG-INFO": pkg_info}.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-1.0/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def isolate_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip and uv see only what the test gives them: no user/site config, no index or find-links from the
    environment."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    for name in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "PIP_REQUIRE_HASHES",
                 "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS", "UV_INDEX", "UV_DEFAULT_INDEX"):
        monkeypatch.delenv(name, raising=False)


MARKER_WHEELS = (("colorama", "0.4.6"), ("shtab", "1.7.1"), ("humanize", "4.9.0"), ("humanize", "4.17.0"))
"""A find-links folder's worth for per-target resolution: a Windows-only and a not-Windows dependency (by marker),
and two releases of one package (a developer's lock pins the older)."""


def marker_wheels(folder: Path) -> Path:
    """`folder` (made) with the MARKER_WHEELS as small pure wheels."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, version in MARKER_WHEELS:
        module_wheel(folder, name, version)
    return folder
