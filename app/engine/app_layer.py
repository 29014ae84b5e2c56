"""The app's own wheel goes into the bundle's `app/` folder, apart from its dependencies in `packages/`.

The compressed bases (kiln.support.layers) hold everything but `app/`: with the app's wheel among the dependencies,
every change to its code changed the base and a rebuild compressed the runtime and the dependencies again. pip
installs the wheel with the dependencies (it resolves the app's own requirements); its files are then taken out of
`packages/`, and the wheel is unpacked into `app/` as pip would install it (the `.data` scripts, headers and data
aside, which an installed app does not import from), with no install records, as in `packages/`.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name

from kiln.support.errors import KilnError

_RECORDS = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "RECORD.jws", "RECORD.p7s"}
_LIBRARY = ("purelib", "platlib")


def unpack_app_wheel(wheel: Path, app_dir: Path) -> None:
    """Install `wheel` into `app_dir` (made if needed): its importable files and its .dist-info."""
    app_dir.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                relative = _installed_path(info.filename)
                if info.is_dir() or relative is None:
                    continue
                parts = PurePosixPath(relative).parts
                if parts[0].endswith(".dist-info") and len(parts) == 2 and parts[1] in _RECORDS:
                    continue
                dest = app_dir.joinpath(*parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, dest.open("wb") as out:
                    shutil.copyfileobj(source, out)
                dest.chmod(0o755 if (info.external_attr >> 16) & 0o111 else 0o644)
    except (OSError, zipfile.BadZipFile) as e:
        raise KilnError(f"cannot unpack the app's wheel {wheel.name}: {e}", hint="build the app again") from None


def _installed_path(name: str) -> str | None:
    """Where a wheel member goes, relative to the site folder; None for what is not installed there."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise KilnError(f"the app's wheel holds an unsafe path: {name!r}", hint="check the project's build backend")
    if path.parts[0].endswith(".data"):
        if len(path.parts) > 2 and path.parts[1] in _LIBRARY:
            return PurePosixPath(*path.parts[2:]).as_posix()
        return None
    return path.as_posix()


def remove_distribution(packages: Path, name: str) -> None:
    """Take distribution `name` (pip installed it into `packages`) out again: the files its RECORD lists, the
    folders that leaves empty, and its .dist-info."""
    wanted = canonicalize_name(name)
    for dist_info in packages.glob("*.dist-info"):
        if canonicalize_name(dist_info.name.split("-")[0]) != wanted:
            continue
        record = dist_info / "RECORD"
        lines = record.read_text(encoding="utf-8").splitlines() if record.is_file() else []
        root = packages.resolve()
        folders: set[Path] = set()
        for line in lines:
            relative = line.rsplit(",", 2)[0].strip('"')
            path = (packages / relative).resolve() if relative else root
            if path == root or root not in path.parents or path.is_relative_to(dist_info.resolve()):
                continue
            path.unlink(missing_ok=True)
            folders.update(p for p in path.parents if root in p.parents)
        shutil.rmtree(dist_info, ignore_errors=True)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            pycache = folder / "__pycache__"
            if pycache.is_dir() and not any(pycache.iterdir()):
                pycache.rmdir()
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
