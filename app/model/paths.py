"""Rules for the paths and names a project file gives: what the text may hold, and where it may point.

Two layers. `path_text_problem` / `file_name_problem` (kiln.support.path_text) look at the text alone (pydantic
validators call them). `containment_problems` looks at the disk (`kiln check` calls it): the output folder and
the source root stay in the project folder unless the file gives an absolute path on purpose, and never name a
system folder, `/` or the home folder, so a typo or a hostile file cannot write or read there.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from kiln.support.errors import Problem
from kiln.support.path_text import path_text_problem

SYSTEM_FOLDERS = (
    "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run",
    "/sbin", "/srv", "/sys", "/usr", "/var", "/opt", "/snap", "/mnt", "/media", "/home",
    "/System", "/Library", "/Applications", "/private", "/Users",
)
"""Folders (and, for the first group, everything below them) a build must never write into or walk."""
_NEVER_BELOW = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin",
                "/sys", "/usr", "/System")
"""System trees: nothing below them is a place for a build's output (/var, /opt, /home… hold user folders)."""


def is_system_folder(path: Path) -> bool:
    """`path` (absolute, resolved) is `/`, a system folder, something inside a system tree, or the home folder."""
    text = path.as_posix()
    home = Path.home().resolve().as_posix() if "HOME" in os.environ or os.name == "posix" else ""
    if text in SYSTEM_FOLDERS or (home and text == home):
        return True
    return any(text.startswith(tree + "/") for tree in _NEVER_BELOW)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def resolved(base: Path, value: str) -> Path:
    """`value` (relative to `base`, or absolute) as an absolute path with `..` and symlinks resolved."""
    return (base / os.path.expanduser(value)).resolve()


def output_dir_problems(base: Path, value: str, where: str = "build.output_dir") -> list[Problem]:
    """The output folder: inside the project unless absolute; never a system folder; a writable folder."""
    if path_text_problem(value):
        return []  # the validator already reported it
    target = resolved(base, value)
    project = base.resolve()
    if not os.path.isabs(os.path.expanduser(value)) and not _inside(target, project):
        return [Problem(where, f"'{value}' leads outside the project folder ({target})",
                        "use a folder inside the project, or an absolute path if you really mean that folder")]
    if is_system_folder(target):
        return [Problem(where, f"'{value}' is a system folder ({target}); Kiln never writes there",
                        "use a folder of your own, e.g. output_dir = \"dist\"")]
    return _writable_folder_problems(target, value, where)


def _writable_folder_problems(target: Path, value: str, where: str) -> list[Problem]:
    existing = target
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link: mkdir would fail on it
            return [Problem(where, f"'{existing}' is a broken symbolic link",
                            "remove it or point output_dir elsewhere")]
        existing = existing.parent
    if not existing.is_dir():
        return [Problem(where, f"'{existing}' is not a folder" + (" (it is a file)" if existing.is_file() else ""),
                        "point output_dir at a folder, or remove the file")]
    try:  # a read-only mount first: os.access says "permission denied" for it too
        read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return [Problem(where, f"'{existing}' is on a read-only file system", "choose a writable folder")]
    if not os.access(existing, os.W_OK | os.X_OK):
        return [Problem(where, f"cannot write into '{existing}' (permission denied)",
                        "choose a folder you can write to")]
    return []


def source_root_problems(base: Path, value: str, where: str = "source.root") -> list[Problem]:
    """The source root: the project folder or below it unless absolute; never `/`, the home or a system folder."""
    if path_text_problem(value):
        return []
    target = resolved(base, value)
    project = base.resolve()
    if is_system_folder(target):
        return [Problem(where, f"'{value}' is {target}, a system or home folder: Kiln would walk all of it",
                        "point source.root at the folder holding your app's code")]
    if not os.path.isabs(os.path.expanduser(value)) and not _inside(target, project):
        return [Problem(where, f"'{value}' leads outside the project folder ({target})",
                        "move kiln.toml next to the code, or give the folder as an absolute path if you mean it")]
    return []


def containment_problems(base: Path, output_dir: str, source_root: str) -> list[Problem]:
    """Every containment problem of a project (see the module docstring)."""
    return output_dir_problems(base, output_dir) + source_root_problems(base, source_root)


def os_error_text(error: OSError) -> str:
    """A short reason for an OSError, for messages that also name the path."""
    names = {errno.ENAMETOOLONG: "a name in the path is too long", errno.ELOOP: "a symbolic link loop"}
    return names.get(error.errno or 0, error.strerror or str(error))
