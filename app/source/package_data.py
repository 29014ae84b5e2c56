"""Files inside the app's own packages that its wheel left out, added back (and said so).

A wheel built by the project's own backend holds what the backend's configuration declares. setuptools without
MANIFEST.in or package-data ships no `pkg/data/note.txt`, no `pkg/templates/*.txt`: the app runs from its folder
and dies installed. Kiln compares each package folder of the project with the wheel and adds every non-Python file
the wheel lacks, so the bundle holds what the folder held, and tells the developer how to declare those files for
their backend (a plain `pip install .` of the project loses them too).

What is never added: Python files and compiled or build-input files (`.py`, `.pyc`, `.so`, `.c`, ...), hidden
files and folders, folders named `tests` or `test`, the folders no app owns (kiln.source.tree), and what the
project excludes on purpose (MANIFEST.in `exclude`, `global-exclude`, `recursive-exclude`, `prune`; setuptools'
`exclude-package-data`; hatch's `exclude`).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import shutil
import tomllib
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from kiln.source.source_tree import compile_patterns
from kiln.source.tree import skipped_dir
from kiln.support.atomic import atomic_path

NOT_DATA_SUFFIXES = frozenset({
    ".py", ".pyc", ".pyo", ".pyi", ".pyd", ".so", ".dylib", ".dll", ".o", ".obj", ".a", ".lib",
    ".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".pyx", ".pxd", ".pxi", ".swp", ".orig", ".rej",
})
"""Code, compiled code and its build inputs, editor leftovers: the backend's business, never added."""
TEST_FOLDERS = frozenset({"tests", "test"})
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # reproducible entries, as backends honouring SOURCE_DATE_EPOCH write them


@dataclass
class AddedFiles:
    """What `complete_wheel` added to a wheel."""

    files: list[str] = field(default_factory=list)
    """Paths inside the wheel (`pkg/data/note.txt`), sorted."""
    backend: str = ""
    """The project's build backend (`setuptools.build_meta`, `hatchling.build`, ...)."""

    def advice(self) -> str:
        """How to declare the added files for the project's backend."""
        return declaration_advice(self.backend, self.files)

    def summary(self, limit: int = 6) -> str:
        shown = ", ".join(self.files[:limit])
        more = f" and {len(self.files) - limit} more (all in the build report)" if len(self.files) > limit else ""
        return (f"added {len(self.files)} file{'s' if len(self.files) != 1 else ''} of the app's packages that its "
                f"wheel left out: {shown}{more}. {self.advice()}")


def complete_wheel(wheel: Path, project: Path) -> AddedFiles:
    """Add to `wheel` (in place, atomically) the non-Python files of its packages' folders in `project` that it
    lacks; returns what was added."""
    added = AddedFiles(backend=build_backend(project))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        contents = {name: archive.read(name) for name in names if name.endswith(".py")}
    excluded = _Exclusions(project)
    missing: dict[str, Path] = {}
    for package in sorted(_top_level_packages(names)):
        folder = _source_folder(project, package, contents)
        if folder is None:
            continue
        for path in _data_files(folder):
            relative = path.relative_to(folder).as_posix()
            inside = f"{package}/{relative}"
            if inside not in names and not excluded.excludes(path.relative_to(project).as_posix(), package, relative):
                missing[inside] = path
    if missing:
        _add_to_wheel(wheel, missing)
    added.files = sorted(missing)
    return added


def build_backend(project: Path) -> str:
    """The project's `[build-system] build-backend` (setuptools' legacy backend when there is none)."""
    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    system = data.get("build-system")
    backend = system.get("build-backend") if isinstance(system, dict) else None
    return backend if isinstance(backend, str) and backend else "setuptools.build_meta:__legacy__"


def declaration_advice(backend: str, files: list[str]) -> str:
    """One sentence (with a snippet) that declares `files` for `backend`."""
    patterns: dict[str, list[str]] = defaultdict(list)
    for name in files:
        package, _, rest = name.partition("/")
        folder, _, file_name = rest.rpartition("/")
        suffix = PurePosixPath(file_name).suffix
        pattern = f"{folder}/*{suffix}" if folder else f"*{suffix}"
        if pattern not in patterns[package]:
            patterns[package].append(pattern)
    root = backend.split(":")[0].split(".")[0]
    if root == "setuptools":
        tables = "; ".join(f'{package} = {patterns[package]!r}'.replace("'", '"') for package in sorted(patterns))
        return ("Declare them so every install of the project has them: in pyproject.toml "
                f"[tool.setuptools.package-data] {tables} (or list them in MANIFEST.in, e.g. "
                f"`recursive-include {sorted(patterns)[0]} *`)")
    paths = [f"{package}/{pattern}" for package in sorted(patterns) for pattern in patterns[package]]
    listed = ", ".join(f'"{p}"' for p in paths)
    if root == "hatchling":
        return ("hatch leaves out files that .gitignore or an exclude names: declare them in pyproject.toml "
                f"[tool.hatch.build.targets.wheel] artifacts = [{listed}]")
    if root == "poetry":
        return f"Declare them in pyproject.toml [tool.poetry] include = [{listed}]"
    if root == "pdm":
        return f"Declare them in pyproject.toml [tool.pdm.build] includes = [{listed}]"
    return f"Declare them as package data in the configuration of the build backend {backend}: {listed}"


# -- the wheel's packages and their folders -------------------------------------------------------------------
def _top_level_packages(names: set[str]) -> set[str]:
    """Top-level folders of the wheel holding Python code (not .dist-info, not .data)."""
    return {name.split("/", 1)[0] for name in names
            if "/" in name and name.endswith(".py") and not name.split("/", 1)[0].endswith((".dist-info", ".data"))}


def _source_folder(project: Path, package: str, contents: dict[str, bytes]) -> Path | None:
    """The folder of `project` the wheel's `package` was built from: a folder of that name holding the most of the
    wheel's Python files with the same bytes (src/ and flat layouts alike, whatever the package-dir settings)."""
    files = {name.split("/", 1)[1]: data for name, data in contents.items() if name.startswith(f"{package}/")}
    best, best_score = None, 0
    for folder, dirs, _files in os.walk(project):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not skipped_dir(here / d, project) and not d.startswith("."))
        if here.name != package or here == project:
            continue
        score = sum(1 for relative, data in files.items() if _same_bytes(here / relative, data))
        if score > best_score:
            best, best_score = here, score
    return best


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _data_files(folder: Path) -> list[Path]:
    """The files below a package folder that are data: not code, not hidden, not in tests/ or skipped folders."""
    found = []
    for current, dirs, files in os.walk(folder):
        here = Path(current)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in TEST_FOLDERS
                         and not skipped_dir(here / d, folder))
        for name in sorted(files):
            path = here / name
            if name.startswith(".") or name.endswith("~") or path.suffix.lower() in NOT_DATA_SUFFIXES:
                continue
            if path.is_file():
                found.append(path)
    return found


# -- what the project excludes on purpose ---------------------------------------------------------------------
class _Exclusions:
    """MANIFEST.in's exclusions, setuptools' exclude-package-data and hatch's exclude patterns."""

    def __init__(self, project: Path) -> None:
        self.project_patterns: list[str] = []
        """Globs on paths relative to the project."""
        self.package_patterns: dict[str, list[str]] = {}
        """setuptools' exclude-package-data: package -> globs on paths relative to the package."""
        self._read_manifest(project / "MANIFEST.in")
        self._read_pyproject(project / "pyproject.toml")
        self.project_regex = compile_patterns(self.project_patterns)

    def excludes(self, in_project: str, package: str, in_package: str) -> bool:
        if self.project_regex.match(in_project):
            return True
        patterns = self.package_patterns.get(package, []) + self.package_patterns.get("*", [])
        return any(compile_patterns([p, f"**/{p}"]).match(in_package) for p in patterns)

    def _read_manifest(self, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return
        for line in lines:
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            command, args = words[0], words[1:]
            if command == "exclude":
                self.project_patterns += args
            elif command == "global-exclude":
                self.project_patterns += [f"**/{a}" for a in args]
            elif command == "recursive-exclude" and args:
                self.project_patterns += [f"{args[0].strip('/')}/**/{a}" for a in args[1:]]
            elif command == "prune" and args:
                self.project_patterns.append(f"{args[0].strip('/')}/**")

    def _read_pyproject(self, path: Path) -> None:
        try:
            tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return
        setuptools = tool.get("setuptools", {}) if isinstance(tool, dict) else {}
        exclude_data = setuptools.get("exclude-package-data", {}) if isinstance(setuptools, dict) else {}
        if isinstance(exclude_data, dict):
            self.package_patterns = {str(k): [str(p) for p in v] for k, v in exclude_data.items()
                                     if isinstance(v, list)}
        build = tool.get("hatch", {}).get("build", {}) if isinstance(tool.get("hatch"), dict) else {}
        if isinstance(build, dict):
            wheel = build.get("targets", {}).get("wheel", {}) if isinstance(build.get("targets"), dict) else {}
            for table in (build, wheel if isinstance(wheel, dict) else {}):
                for pattern in table.get("exclude", []) if isinstance(table.get("exclude"), list) else []:
                    self.project_patterns += _gitignore_globs(str(pattern))


def _gitignore_globs(pattern: str) -> list[str]:
    """A gitignore-style pattern (hatch's exclude) as globs on project-relative paths."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    base = body if anchored else f"**/{body}"
    return [base, f"{base}/**"]


# -- writing the wheel ----------------------------------------------------------------------------------------
def _add_to_wheel(wheel: Path, files: dict[str, Path]) -> None:
    """Rewrite `wheel` with `files` added and listed in its RECORD (hash and size), atomically."""
    with zipfile.ZipFile(wheel) as source:
        entries = source.infolist()
        record_name = next((e.filename for e in entries if re.fullmatch(r"[^/]+\.dist-info/RECORD", e.filename)),
                           None)
        with atomic_path(wheel) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as out:
            for entry in entries:
                if entry.filename != record_name:
                    with source.open(entry) as data_in, out.open(entry, "w") as data_out:
                        shutil.copyfileobj(data_in, data_out)
            rows: list[list[str]] = []
            for inside, path in sorted(files.items()):
                data = path.read_bytes()
                out.writestr(_entry(inside), data)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                rows.append([inside, f"sha256={digest}", str(len(data))])
            if record_name is not None:
                record = source.read(record_name).decode("utf-8")
                buffer = io.StringIO()
                buffer.write(record if record.endswith("\n") or not record else record + "\n")
                csv.writer(buffer, lineterminator="\n").writerows(rows)
                out.writestr(_entry(record_name), buffer.getvalue())


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, _ZIP_DATE)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info
