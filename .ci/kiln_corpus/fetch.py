"""A project's own source tree, as its authors published it: the sdist from the package index, unpacked safely."""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from kiln_corpus import proc

MAX_MEMBERS = 100_000
MAX_BYTES = 2 * 1024**3


class FetchError(Exception):
    pass


def download_sdist(requirement: str, name: str, folder: Path, logs: Path, timeout: float) -> Path:
    """`pip download --no-deps --no-binary NAME NAME==VERSION`: the sdist only (pip's own cache keeps it).

    `--no-binary NAME`, not `:all:`: pip prepares the sdist's metadata in an isolated build environment, and `:all:`
    would build the backend's own build dependencies from source too (thonny's needs maturin, a Rust build that
    fetches crates: not reachable here)."""
    ran = proc.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name,
                    "--disable-pip-version-check", "--no-input", "-d", folder, requirement], timeout=timeout, logs=logs)
    if ran.returncode != 0:
        reason = f"timed out after {ran.seconds:.0f} s" if ran.timed_out else proc.first_error_line(ran.stderr)
        raise FetchError(f"pip download failed: {reason}")
    found = [p for p in folder.iterdir() if p.name.endswith((".tar.gz", ".zip", ".tar.bz2", ".tgz"))]
    if len(found) != 1:
        raise FetchError(f"pip download gave {[p.name for p in folder.iterdir()]}, not one sdist")
    return found[0]


def _check_member(name: str, size: int, total: list[int]) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        raise FetchError(f"the sdist holds an unsafe path: {name!r}")
    total[0] += size
    if total[0] > MAX_BYTES:
        raise FetchError(f"the sdist unpacks to more than {MAX_BYTES // 1024**3} GiB")


def unpack(sdist: Path, dest: Path) -> Path:
    """Unpack `sdist` into `dest` (no path outside it, no links out, no devices, bounded in size and count) and
    return its one top folder: the project's source tree."""
    dest.mkdir(parents=True, exist_ok=True)
    total = [0]
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise FetchError(f"the sdist has more than {MAX_MEMBERS} files")
            for info in infos:
                _check_member(info.filename, info.file_size, total)
            archive.extractall(dest)
    else:
        with tarfile.open(sdist) as archive:
            members = archive.getmembers()
            if len(members) > MAX_MEMBERS:
                raise FetchError(f"the sdist has more than {MAX_MEMBERS} files")
            for member in members:
                _check_member(member.name, member.size, total)
            archive.extractall(dest, filter="data")  # refuses links out of dest, devices; drops odd modes
    tops = [p for p in dest.iterdir()]
    if len(tops) != 1 or not tops[0].is_dir():
        raise FetchError(f"the sdist does not hold one top folder: {sorted(p.name for p in tops)}")
    return tops[0]
