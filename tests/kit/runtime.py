"""Stand-in python-build-standalone archives for Windows and macOS (no such CPython is obtainable here)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from kit.testing import REPO


def standin_archive(folder: Path, platform: str, version: str = "3.11.4") -> Path:
    """An install_only archive of Python `version` for windows-x86_64 or macos-arm64, named like the real ones.

    Its interpreter is never run: any PE serves as python.exe, a Mach-O header as bin/python3.X."""
    minor = ".".join(version.split(".")[:2])
    header = f'#define PY_VERSION "{version}"\n'.encode()
    if platform == "windows-x86_64":
        pe = (REPO / "resources" / "launchers" / "windows" / "launcher-console.exe").read_bytes()
        tag = minor.replace(".", "")
        files = {"python/python.exe": pe, "python/pythonw.exe": pe, f"python/python{tag}.dll": pe,
                 "python/Lib/os.py": b"# os\n", "python/Lib/site-packages/README.txt": b"",
                 "python/include/patchlevel.h": header}
        name = f"cpython-{version}+20230726-x86_64-pc-windows-msvc-install_only.tar.gz"
    else:
        files = {f"python/bin/python{minor}": b"\xcf\xfa\xed\xfe\x0c\x00\x00\x01" + bytes(64),
                 f"python/lib/libpython{minor}.dylib": b"\xcf\xfa\xed\xfe",
                 f"python/lib/python{minor}/os.py": b"# os\n",
                 f"python/lib/python{minor}/site-packages/README.txt": b"",
                 f"python/include/python{minor}/patchlevel.h": header}
        name = f"cpython-{version}+20230726-aarch64-apple-darwin-install_only.tar.gz"
    path = folder / name
    with tarfile.open(path, "w:gz") as tar:
        for entry, data in files.items():
            info = tarfile.TarInfo(entry)
            info.size, info.mode = len(data), 0o755 if "/bin/" in entry or entry.endswith(".exe") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return path
