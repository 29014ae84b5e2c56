"""`kiln try`: stage the same bundle a build ships for this machine (runtime, dependencies, boot), cached, and run it.

What the user tries is what the installers wrap: the bundle comes from the build's own stages (`stage_app`), for
the host's target, with the project's Python version and source. It is kept in Kiln's cache and staged again only
when its inputs change (the project, kiln.lock, or a file under the source folder), so a second try is instant.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln import __version__
from kiln.engine.report import BuildReport
from kiln.engine.staging import stage_app
from kiln.model.events import Event, Reporter
from kiln.model.project_file import ProjectFile
from kiln.model.pylock import lock_files
from kiln.source.tree import update_digest
from kiln.support.targets import Target, host_target

FORMAT = "2"  # bump when the cached bundle's layout or the fingerprint changes
_STEPS = ("runtime", "dependencies", "payload")


@dataclass(frozen=True)
class TryBundle:
    """A staged bundle for this machine and how to start it."""

    bundle: Path
    python: Path
    reused: bool
    command: str
    """The app's command (kiln.source.command), which the launchers name the app: its sys.argv[0]."""

    def argv(self, args: Sequence[str] = ()) -> list[str]:
        """The command the launchers run: the bundled Python, isolated, on the boot script, then the app's args."""
        return [str(self.python), "-I", str(self.bundle / "kiln_boot.py"), *args]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of the run: the caller's, with sys.argv[0] set as a launcher sets it."""
        env = dict(os.environ if base is None else base)
        env["KILN_ARGV0"] = str(self.bundle / self.command)
        env["PYTHONUNBUFFERED"] = "1"  # ignored under -I; output is unbuffered through the boot script's flush
        return env


def fingerprint(project_file: ProjectFile) -> str:
    """What the staged bundle depends on: the project's values, Kiln's locks, and every file of the source folder."""
    project = project_file.project
    digest = hashlib.sha256()
    digest.update(f"{FORMAT}\0{__version__}\0".encode())
    digest.update(json.dumps(project.to_data(), sort_keys=True, default=str).encode())
    for lock in lock_files(project_file.path.parent):
        digest.update(lock.read_bytes() if lock.is_file() else b"no lock")
    root = (project_file.base_dir / project.source.root).resolve()
    output = (project_file.base_dir / project.build.output_dir).resolve()
    # The same files a no-op rebuild looks at (kiln.source.tree), but the project file and the locks: their contents
    # are in the digest already, and saving the project (the wizard does before each try) must not stage again.
    update_digest(digest, root, skip={output, project_file.path.resolve(), *lock_files(project_file.path.parent)})
    return digest.hexdigest()


def try_dir(project_file: ProjectFile, cache_dir: Path) -> Path:
    """One cache folder per project file (a second project never evicts the first one's bundle)."""
    key = hashlib.sha256(str(project_file.path.resolve()).encode()).hexdigest()[:16]
    return cache_dir / "tryout" / key


class _Steps:
    """The `enter(step, message)` the staging stages expect, reporting stage-start/stage-end events."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.done = 0

    @contextmanager
    def __call__(self, step: str, message: str) -> Iterator[Any]:
        total = len(_STEPS)
        self.reporter.emit(Event("stage-start", message, stage=step, fraction=self.done / total))
        started = time.monotonic()
        yield _StepReporter(self.reporter, step, self.done, total)
        self.done += 1
        seconds = time.monotonic() - started
        self.reporter.emit(Event("stage-end", f"{step} done in {seconds:.1f} s", stage=step,
                                 fraction=self.done / total, data={"seconds": round(seconds, 3)}))


@dataclass
class _StepReporter:
    reporter: Reporter
    stage: str
    index: int
    total: int

    def progress(self, fraction: float, message: str = "") -> None:
        overall = (self.index + max(0.0, min(1.0, fraction))) / self.total
        self.reporter.emit(Event("progress", message, stage=self.stage, fraction=overall))

    def log(self, message: str) -> None:
        self.reporter.emit(Event("log", message, stage=self.stage))

    def warn(self, message: str, data: dict[str, Any] | None = None) -> None:
        self.reporter.emit(Event("warning", message, stage=self.stage, data=data or {}))

    def note(self, message: str) -> None:
        self.reporter.emit(Event("log", message, stage=self.stage, data={"note": True}))


def reusable(project_file: ProjectFile, cache_dir: Path, target: Target | None = None) -> TryBundle | None:
    """The bundle of the last try when nothing it depends on changed since (no staging, nothing imported beyond what
    the check needs: the wizard asks this in its own process and starts the app at once), else None."""
    target = target or host_target()
    folder = try_dir(project_file, cache_dir)
    current, marker = folder / "current", folder / "fingerprint"
    python = current / "bundle" / "runtime" / target.python_relpath(project_file.project.python.version)
    if python.exists() and marker.is_file() and marker.read_text(encoding="utf-8") == fingerprint(project_file):
        command = current / "command"
        name = command.read_text(encoding="utf-8") if command.is_file() else project_file.project.app.name
        return TryBundle(current / "bundle", python, reused=True, command=name)
    return None


def prepare(project_file: ProjectFile, reporter: Reporter, cache_dir: Path, target: Target | None = None) -> TryBundle:
    """The bundle for this machine, staged by the build's own stages, or the cached one when nothing changed."""
    target = target or host_target()
    project = project_file.project
    if (cached := reusable(project_file, cache_dir, target)) is not None:
        reporter.emit(Event("log", "nothing changed since the last try: reusing its bundle"))
        return cached
    folder = try_dir(project_file, cache_dir)
    current, staging = folder / "current", folder / "staging"
    python_rel = f"runtime/{target.python_relpath(project.python.version)}"
    marker = folder / "fingerprint"
    shutil.rmtree(staging, ignore_errors=True)  # what an interrupted try left
    staging.mkdir(parents=True)
    report = BuildReport(project=str(project_file.path), kiln_version=__version__)
    staged = stage_app(project, project_file.base_dir, target, staging / "work", cache_dir, _Steps(reporter), report,
                       lock_dir=project_file.path.parent, check=False)  # the user is about to start it anyway
    (staging / "command").write_text(staged.command, encoding="utf-8")
    # Only the bundle is kept (the app's wheel and pip's work folders are not needed to run it).
    (staging / "work" / "bundle").rename(staging / "bundle")
    shutil.rmtree(staging / "work", ignore_errors=True)
    marker.unlink(missing_ok=True)
    shutil.rmtree(current, ignore_errors=True)
    staging.rename(current)
    # Taken after staging, which may have written the lock beside the project: the next try finds it unchanged.
    marker.write_text(fingerprint(project_file), encoding="utf-8")
    return TryBundle(current / "bundle", current / "bundle" / python_rel, reused=False, command=staged.command)
