"""What an installer kind is given and what it implements: the staged app, the build context, the artifact, and the
`Installer` base class with the one naming rule of artifacts.

Installers are the only code that needs more than the kind's data (kiln.kinds.spec): each kind's `installer.py`
subclasses `Installer`; the registry imports it only when a build needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from kiln.kinds import registry
from kiln.kinds.options import InstallerOptions
from kiln.kinds.sbom import BundleSbom
from kiln.support.targets import TARGETS, Target

if TYPE_CHECKING:
    from kiln.model.project import AppSection, EntrySection, Project


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
    sbom: BundleSbom | None = None
    """The bundle's bill of materials: the installer places it in its artifact (`BundleSbom.place`) once its tree is
    final. None when the build keeps no SBOM (installer tests that build without the engine)."""


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
    package_files: dict[str, str] = field(default_factory=dict)
    """Each file under packages/ (a relative POSIX path) -> the distribution it belongs to (the name part of its
    .dist-info folder), from the RECORDs staging read before it dropped them (kiln.engine.payload.file_owners)."""
    command: str = ""
    """The app's command (kiln.source.command): the launcher's and the Windows .exe's name, the macOS executable,
    the AppImage's Exec. Empty when made: app.name."""

    def __post_init__(self) -> None:
        self.command = self.command or self.app.name

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
    sbom: Path | None = None
    """Its bill of materials (CycloneDX JSON), published beside it: `<artifact>.cdx.json`."""


@dataclass(frozen=True)
class RunHere:
    """How the wizard's Run button starts a built artifact on this machine (a kind's `run_here` hook says)."""

    program: Path
    env: dict[str, str] = field(default_factory=dict)
    """Added to the wizard's own environment."""


OptionsT = TypeVar("OptionsT", bound=InstallerOptions, covariant=True)


class Installer(Generic[OptionsT]):
    """One installer kind's builder, made from one `[[installer]]` table. Subclasses set `kind` and implement
    `build`; they override `target` and `required_tools` when the defaults do not fit."""

    kind: ClassVar[str]

    def __init__(self, options: OptionsT) -> None:
        self.options = options

    @property
    def target(self) -> Target:
        return TARGETS[self.options.platform]

    @property
    def ending(self) -> str:
        """The artifact's file-name ending, e.g. '.AppImage' (declared once, in the kind's SPEC)."""
        return registry.spec(self.kind).ending

    def required_tools(self) -> list[str]:
        """External commands this kind needs (checked before the slow stages start)."""
        return []

    def artifact_name(self, staged: StagedApp) -> str:
        """`<name>-<version>-<platform>` and the ending, e.g. hello-1.0.0-linux-x86_64.AppImage; or the table's
        `output_name` and the ending."""
        stem = self.options.output_name or f"{staged.app.name}-{staged.app.version}-{self.target.name}"
        return stem + self.ending

    def build(self, ctx: BuildContext, staged: StagedApp, out: Path) -> None:
        """Write the artifact to `out` (a temporary name; the engine renames it when complete)."""
        raise NotImplementedError
