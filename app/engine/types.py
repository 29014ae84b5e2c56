"""The build's core types: the staged app an installer packs, the build context, the finished artifact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kiln.model.project import AppSection, EntrySection, Project
from kiln.support.targets import Target


class StageReporter(Protocol):
    """How an installer reports progress within its stage (fraction of the stage, 0..1)."""

    def progress(self, fraction: float, message: str = "") -> None: ...

    def log(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...


@dataclass
class BuildContext:
    """Everything a build step may use; passed in so steps do no hidden I/O of their own."""

    project: Project
    base_dir: Path
    """Folder of the project file: relative paths in the project start here."""
    work_dir: Path
    """A private temporary folder for this build, removed at the end."""
    cache_dir: Path
    """Kiln's cache (runtimes, wheels), shared between builds."""
    reporter: StageReporter
    check_cancelled: Callable[[], None] = lambda: None
    """Call at safe points: raises BuildCancelled when the user asked to stop."""


@dataclass
class StagedApp:
    """The app laid out for one target, ready for an installer to wrap.

    bundle/                     everything the app needs at run time
      runtime/                  the Python runtime (bin/python3.X or python.exe, stdlib)
      app/                      the user's code and data files, as bytecode
      packages/                 the dependencies (a site directory)
      kiln_boot.py              sets sys.path and runs the entry point
    """

    bundle: Path
    target: Target
    python_version: str
    """Major.minor, e.g. 3.11."""
    app: AppSection
    entry: EntrySection
    icon_source: Path | None
    """The project's icon file (PNG or SVG), or None for Kiln's default; installers convert it (support.icons)."""
    size_by_component: dict[str, int] = field(default_factory=dict)

    @property
    def runtime_dir(self) -> Path:
        return self.bundle / "runtime"

    @property
    def app_dir(self) -> Path:
        return self.bundle / "app"

    @property
    def packages_dir(self) -> Path:
        return self.bundle / "packages"

    @property
    def boot_script(self) -> Path:
        return self.bundle / "kiln_boot.py"

    @property
    def python_relpath(self) -> str:
        """The interpreter, relative to the bundle."""
        return f"runtime/{self.target.python_relpath(self.python_version)}"


@dataclass(frozen=True)
class Artifact:
    """A finished installer."""

    kind: str
    path: Path
    size: int
    sha256: str
