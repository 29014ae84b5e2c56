"""The build: plans stages per target, runs them, emits events, honours cancel, publishes artifacts atomically.

Each installer succeeds or fails on its own: a target whose runtime cannot be had fails its installers only,
an installer that fails leaves the others to be built and published. The `done` event and the report carry
one status per installer; the build's status is "ok" only when every installer was built.

Independent stages run side by side, two at a time (the machines Kiln is built for have few cores, and the tools
it runs use several): a target's runtime while its dependencies are installed, and the installers of one target.
Stages still start in the planned order; events go out one at a time, and the overall progress only moves on.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from kiln import __version__
from kiln.engine import fingerprint
from kiln.engine.bundle_check import BundleCheckFailed
from kiln.engine.lock_convert import finish as finish_conversion
from kiln.engine.output_folder import open_output_folder, refuse
from kiln.engine.report import BuildReport
from kiln.engine.sbom import bundle_sbom
from kiln.engine.staging import stage_app
from kiln.kinds.contract import Artifact, BuildContext, Installer, StagedApp
from kiln.kinds.registry import make_installer
from kiln.kinds.sbom import BundleSbom, layout_under
from kiln.model.events import Event, Reporter
from kiln.model.project_file import ProjectFile
from kiln.source.checks import check_project
from kiln.support import sweep, tools
from kiln.support.atomic import atomic_write_text
from kiln.support.errors import BuildCancelled, KilnError, ProjectInvalid
from kiln.support.hashing import file_sha256
from kiln.support.oserrors import user_error
from kiln.support.targets import TARGETS, Target

log = logging.getLogger("kiln")
SBOM_SUFFIX = ".cdx.json"
"""Each artifact's bill of materials is published beside it as `<artifact>.cdx.json`."""

# Relative weight of each stage in the overall progress bar (installers dominate, validation is instant).
_WEIGHTS = {"validate": 1.0, "runtime": 3.0, "dependencies": 3.0, "payload": 2.0, "check": 1.0, "installer": 4.0,
            "report": 0.5}
_TARGET_STEPS = ("runtime", "dependencies", "payload", "check")
WORKERS = 2
"""Stages run at once at most: the tools inside them (mksquashfs, zstd, pip) use more than one core already."""


def default_cache_dir() -> Path:
    """Kiln's cache; KILN_CACHE_DIR overrides it (tests, CI caches)."""
    override = os.environ.get("KILN_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("kiln"))


@dataclass
class _Stage:
    name: str
    weight: float


@dataclass
class InstallerOutcome:
    """How one installer of the build ended."""

    kind: str
    platform: str
    status: str
    """"ok" or "failed"."""
    message: str = ""
    hint: str = ""
    artifact: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    """What the bundle check found in this installer's bundle (kiln.engine.check_stage), errors and warnings."""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "platform": self.platform, "status": self.status, "message": self.message,
                "hint": self.hint, "artifact": self.artifact, "findings": self.findings}


@dataclass
class BuildResult:
    status: str
    artifacts: list[Artifact] = field(default_factory=list)
    report_path: Path | None = None
    installers: list[InstallerOutcome] = field(default_factory=list)


class _OneAtATime:
    """A reporter that passes on one event at a time, whichever stage's thread emits it."""

    def __init__(self, reporter: Reporter) -> None:
        self._reporter, self._lock = reporter, threading.Lock()

    def emit(self, event: Event) -> None:
        with self._lock:
            self._reporter.emit(event)


class _StageReporter:
    """What a stage sees: progress within the stage, turned into overall progress events."""

    def __init__(self, engine: Engine, stage: str) -> None:
        self._engine, self._stage = engine, stage

    def progress(self, fraction: float, message: str = "") -> None:
        self._engine._progress(self._stage, fraction, message)

    def log(self, message: str) -> None:
        log.info(message)
        self._engine.reporter.emit(Event("log", message, stage=self._stage))

    def warn(self, message: str, data: dict[str, Any] | None = None) -> None:
        """A warning; `data` carries it as data too (a bundle check finding: kiln.engine.bundle_check.Finding)."""
        log.warning(message)
        self._engine.report.warnings.append(message)  # the report keeps what the user was warned about
        self._engine.reporter.emit(Event("warning", message, stage=self._stage, data=data or {}))

    def note(self, message: str) -> None:
        """A line the build output shows as it is (a log line the terminal and the wizard print)."""
        log.info(message)
        self._engine.reporter.emit(Event("log", message, stage=self._stage, data={"note": True}))


class Engine:
    """Runs one build of one project. Construct, then call `run()` once."""

    def __init__(
        self, project_file: ProjectFile, reporter: Reporter, cache_dir: Path | None = None,
        kinds: list[str] | None = None,
    ) -> None:
        self.project_file = project_file
        self.project = project_file.project
        self.reporter: Reporter = _OneAtATime(reporter)
        self.cache_dir = cache_dir or default_cache_dir()
        self.output_dir = project_file.base_dir / self.project.build.output_dir
        self.kinds = list(kinds or [])
        self.installers: list[Installer[Any]] = [
            make_installer(options) for options in self.project.active_installers()
            if not kinds or options.kind in kinds
        ]
        self._stages: list[_Stage] = []
        self._fractions: dict[str, float] = {}
        """How far each stage is (1.0 when it ended, failed or will not run)."""
        self._shown = 0.0
        self._progress_lock = threading.RLock()
        """Held from computing an event's fraction to emitting it, so fractions go out in order."""
        self.outcomes: list[InstallerOutcome] = []
        self._entered: set[str] = set()
        self.report = BuildReport(project=str(project_file.path), kiln_version=__version__)

    # -- cancellation -------------------------------------------------------------------------------------
    def request_cancel(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Signal handler: only note the request. Raising here could land inside native code (lief, zlib)
        and abort the process before it cleans up; the build stops at its next checkpoint instead, and a
        running external tool is killed by kiln.support.tools within a fraction of a second. Publishing an artifact
        (rename, checksum) has no checkpoint inside, so it is never cut in half."""
        tools.cancel_requested.set()

    def check_cancelled(self) -> None:
        if tools.cancel_requested.is_set():
            raise BuildCancelled("build cancelled")
        tools.check_time()  # the stage's time limit ([build] timeout), between steps as within commands

    @contextmanager
    def _signals(self) -> Iterator[None]:
        tools.cancel_requested.clear()
        previous = {sig: signal.signal(sig, self.request_cancel) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- events -------------------------------------------------------------------------------------------
    def _overall(self, stage: str | None = None, fraction: float = 0.0) -> float:
        """The build's fraction done once `stage` is at `fraction` (stages running side by side each count); it
        never goes back."""
        with self._progress_lock:
            if stage is not None:
                self._fractions[stage] = max(self._fractions.get(stage, 0.0), max(0.0, min(1.0, fraction)))
            total = sum(s.weight for s in self._stages) or 1.0
            done = sum(s.weight * self._fractions.get(s.name, 0.0) for s in self._stages)
            self._shown = max(self._shown, min(1.0, done / total))
            return self._shown

    def _finish(self, names: set[str]) -> None:
        for name in names:
            self._overall(name, 1.0)

    def _progress(self, stage: str, fraction: float, message: str) -> None:
        with self._progress_lock:
            self.reporter.emit(Event("progress", message, stage=stage, fraction=self._overall(stage, fraction)))
        self.check_cancelled()

    @contextmanager
    def _stage(self, name: str, message: str) -> Iterator[_StageReporter]:
        self.check_cancelled()
        self._entered.add(name)
        with self._progress_lock:
            self.reporter.emit(Event("stage-start", message, stage=name, fraction=self._overall(name, 0.0)))
        log.info("stage %s: %s", name, message)
        started = time.monotonic()
        try:
            with tools.time_limit(name, self.project.build.timeout):  # commands past it are stopped
                yield _StageReporter(self, name)
        except BaseException:
            self._finish({name})  # a failed stage still moves the overall progress on
            raise
        seconds = time.monotonic() - started
        self.report.stages[name] = round(seconds, 3)
        with self._progress_lock:
            self.reporter.emit(
                Event("stage-end", f"{name} done in {seconds:.1f} s", stage=name, fraction=self._overall(name, 1.0),
                      data={"seconds": round(seconds, 3)})
            )

    # -- the build ----------------------------------------------------------------------------------------
    def _plan(self) -> dict[str, list[Installer[Any]]]:
        by_target: dict[str, list[Installer[Any]]] = {}
        for installer in self.installers:
            by_target.setdefault(installer.target.name, []).append(installer)
        self._stages = [_Stage("validate", _WEIGHTS["validate"])]
        for target_name, installers in by_target.items():
            suffix = _target_suffix(target_name, by_target)
            self._stages += [_Stage(f"{step}{suffix}", _WEIGHTS[step]) for step in _TARGET_STEPS]
            self._stages += [_Stage(i.kind, _WEIGHTS["installer"]) for i in installers]
        self._stages.append(_Stage("report", _WEIGHTS["report"]))
        return by_target

    def run(self) -> BuildResult:
        """Build every installer; never raises for user errors (they become `error` + `done` events)."""
        try:
            _require_tables(self.project_file, self.kinds)  # `--kind K` never builds nothing and says ok
            # checked, locked against other builds into it, and swept of killed builds' leftovers
            output = open_output_folder(self.project_file, self.output_dir, self.reporter)
        except KilnError as e:
            refuse(self.reporter, e)
            return BuildResult("failed")
        # Nothing changed since the last successful build: publish nothing and say so (kiln.engine.fingerprint).
        inputs_before = fingerprint.inputs(self.project_file, self.output_dir, self._installer_keys(),
                                           self.cache_dir)
        unchanged = fingerprint.check(self.output_dir, inputs_before)
        if unchanged is not None:
            output.release()
            fingerprint.announce(self.reporter, unchanged, {i.kind: i.target.name for i in self.installers},
                                 self.output_dir / f"{self.project.app.name}-build.log")
            return BuildResult("ok", unchanged.artifacts, unchanged.report)
        fingerprint.forget(self.output_dir)
        log_handler = _open_build_log(output.log_path)
        status, artifacts, report_path = "failed", [], None
        work_dir = Path(tempfile.mkdtemp(prefix=sweep.temp_prefix("kiln-build-")))
        publish_dir = Path(tempfile.mkdtemp(prefix=sweep.temp_prefix(sweep.PARTIAL), dir=self.output_dir))
        # The handler stays installed through the clean-up: a second SIGTERM only sets the flag again.
        with self._signals():
            try:
                artifacts = self._build(work_dir, publish_dir)
                with self._stage("report", "writing the build report"):
                    failed = [o for o in self.outcomes if o.status != "ok"]
                    self.report.status = status = "failed" if failed else "ok"
                    self.report.installers = [o.as_dict() for o in self.outcomes]
                    report_path = self._write_report()
                    if status == "ok":
                        fingerprint.record(self.output_dir, inputs_before, fingerprint.inputs(
                            self.project_file, self.output_dir, self._installer_keys(), self.cache_dir), artifacts,
                            report_path)
            except BuildCancelled:
                status = "cancelled"
                log.info("build cancelled")
            except ProjectInvalid as e:
                self.reporter.emit(Event("error", e.message, data={"problems": [str(p) for p in e.problems]}))
            except KilnError as e:
                log.error("%s", e)
                self.reporter.emit(Event("error", e.message, data={"hint": e.hint} if e.hint else {}))
            except Exception as e:  # a bug in Kiln: say so plainly, keep the traceback in the log
                log.exception("internal error")
                known = user_error(e, self._writes_into())  # a full disk, a read-only folder…: not a bug
                self.reporter.emit(
                    Event("error", known.message, data={"hint": known.hint or ""}) if known else
                    Event("error", f"internal error in Kiln: {e!r}", data={"hint": "see the build log"})
                )
            finally:
                shutil.rmtree(work_dir, ignore_errors=True)
                shutil.rmtree(publish_dir, ignore_errors=True)
                logging.getLogger().removeHandler(log_handler)
                log_handler.close()
                output.release()
        done: dict[str, Any] = {"status": status, "log": str(log_handler.baseFilename),
                                "installers": [o.as_dict() for o in self.outcomes]}
        if report_path:
            done["report"] = str(report_path)
        count = sum(o.status != "ok" for o in self.outcomes)
        message = f"build {status}" if not count or status != "failed" else \
            f"build failed: {count} of {len(self.outcomes)} installers failed"
        self.reporter.emit(Event("done", message, fraction=1.0 if status == "ok" else None, data=done))
        return BuildResult(status, artifacts, report_path, list(self.outcomes))

    def _build(self, work_dir: Path, publish_dir: Path) -> list[Artifact]:
        by_target = self._plan()
        with self._stage("validate", "checking the project") as stage:
            problems = check_project(self.project_file)
            if problems:
                raise ProjectInvalid(str(self.project_file.path), problems)
            for note in _save_generated_fields(self.project_file):
                stage.warn(f"generated {note}; it is saved in the project file")
            if not self.installers:
                raise KilnError("no installer of the requested kinds in the project", hint="check --kind")
            for tool in sorted({t for i in self.installers for t in i.required_tools()}):
                tools.require(tool)  # raises naming the package to install
            stage.progress(1.0, "project is valid")
        artifacts: list[Artifact] = []
        for target_name, installers in by_target.items():
            suffix = _target_suffix(target_name, by_target)
            try:
                staged = self._stage_target(TARGETS[target_name], suffix, work_dir / target_name)
                sbom = bundle_sbom(self.project, self.project_file.base_dir, staged, self.report)
            except Exception as e:
                self._failed(installers, e)
                # The overall progress moves past this target's stages that will never run.
                skipped = {f"{step}{suffix}" for step in _TARGET_STEPS}
                self._finish(skipped | {i.kind for i in installers})
                continue
            for installer, outcome in zip(installers, self._build_installers(installers, staged, sbom, work_dir,
                                                                              publish_dir), strict=True):
                if isinstance(outcome, BuildCancelled):
                    raise outcome
                if isinstance(outcome, Exception):
                    self._failed([installer], outcome)
                    continue
                artifacts.append(outcome)
                self.outcomes.append(InstallerOutcome(installer.kind, target_name, "ok", artifact=str(outcome.path),
                                                      findings=self._findings(target_name)))
        # An old kiln.lock whose platforms all have their PEP 751 lock now is set aside (kiln.engine.lock_convert).
        converted = finish_conversion(self.project_file.path.parent,
                                      {i.platform for i in self.project.active_installers()})
        if converted:
            log.warning(converted)
            self.report.warnings.append(converted)
            self.reporter.emit(Event("warning", converted))
        return artifacts

    def _build_installers(self, installers: list[Installer[Any]], staged: StagedApp, sbom: BundleSbom,
                          work_dir: Path, publish_dir: Path) -> list[Artifact | Exception]:
        """Build a target's installers side by side (each compresses the bundle its own way); each one's artifact
        or error, in the planned order. They start one after the other, so their stage-start events keep it."""
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="kiln-installer") as pool:
            pending: list[Future[Artifact]] = []
            for installer in installers:
                started = threading.Event()
                pending.append(pool.submit(self._build_installer, installer, staged, sbom.for_artifact(), work_dir,
                                           publish_dir, started))
                while not started.wait(0.05) and not pending[-1].done():
                    pass
            outcomes: list[Artifact | Exception] = []
            for future in pending:
                try:
                    outcomes.append(tools.result_of(future))
                except Exception as e:  # BuildCancelled too; a KeyboardInterrupt or SystemExit goes on up
                    outcomes.append(e)
        return outcomes

    def _writes_into(self) -> tuple[Path, ...]:
        """The folders a build writes into, for an error that names none (a disk filling up mid-file)."""
        return (self.output_dir, Path(tempfile.gettempdir()), self.cache_dir)

    def _failed(self, installers: list[Installer[Any]], error: Exception) -> None:
        """Record `installers` as failed because of `error`; cancelling stops the whole build instead."""
        if isinstance(error, BuildCancelled):
            raise error
        if isinstance(error, ProjectInvalid):
            message, hint = error.message, "; ".join(str(p) for p in error.problems)
        elif isinstance(error, KilnError):
            message, hint = error.message, error.hint or ""
        elif known := user_error(error, self._writes_into()):  # a full disk, a read-only folder…: not a bug
            log.error("%s", known, exc_info=error)
            message, hint = known.message, known.hint or ""
        else:  # a bug in Kiln: say so plainly, keep the traceback in the log
            log.error("internal error", exc_info=error)
            message, hint = f"internal error in Kiln: {error!r}", "see the build log"
        for installer in installers:
            platform = installer.target.name
            log.error("%s (%s) failed: %s", installer.kind, platform, message)
            findings = self._findings(platform)
            self.outcomes.append(InstallerOutcome(installer.kind, platform, "failed", message, hint, findings=findings))
            data: dict[str, Any] = {"hint": hint} if hint else {}
            if isinstance(error, BundleCheckFailed):  # the check's errors, as data, for the installer's row
                data["findings"] = error.findings
            self.reporter.emit(Event("error", f"{installer.kind} ({platform}) failed: {message}",
                                     stage=installer.kind, data=data))

    def _findings(self, platform: str) -> list[dict[str, Any]]:
        return list(self.report.findings.get(platform, []))

    def _context(self, stage: _StageReporter, work_dir: Path) -> BuildContext:
        return BuildContext(
            project=self.project, base_dir=self.project_file.base_dir, work_dir=work_dir, cache_dir=self.cache_dir,
            reporter=stage, check_cancelled=self.check_cancelled,
        )

    def _stage_target(self, target: Target, suffix: str, work_dir: Path) -> StagedApp:
        work_dir.mkdir(parents=True)

        def enter(step: str, message: str) -> Any:
            return self._stage(f"{step}{suffix}", message)

        kinds = tuple(i.kind for i in self.installers if i.target == target)
        return stage_app(self.project, self.project_file.base_dir, target, work_dir, self.cache_dir, enter,
                         self.report, lock_dir=self.project_file.path.parent, installers=kinds, parallel=True)

    def _build_installer(self, installer: Installer[Any], staged: StagedApp, sbom: BundleSbom, work_dir: Path,
                         publish_dir: Path, started: threading.Event | None = None) -> Artifact:
        with self._stage(installer.kind, f"building the {installer.kind} installer") as stage:
            if started is not None:
                started.set()
            name = installer.artifact_name(staged)
            temp_out = publish_dir / name
            ctx = self._context(stage, work_dir / f"installer-{installer.kind}")
            ctx.sbom = sbom
            installer.build(ctx, staged, temp_out)
            self.check_cancelled()
            document = sbom.placed
            if document is None:  # a kind from outside Kiln that does not place it: the bundle's paths, beside only
                stage.log(f"the {installer.kind} kind does not put an SBOM inside its artifact: {name}.cdx.json "
                          "beside it names the files by their place in the staged bundle")
                document = sbom.place(staged.bundle, layout_under(""), None,
                                      paths=f"the staged bundle (not their place in the {installer.kind} artifact)")
            (publish_dir / f"{name}{SBOM_SUFFIX}").write_bytes(document)
            final = self.output_dir / name
            os.replace(temp_out, final)
            for companion in sorted(publish_dir.glob(glob.escape(name) + ".*")):  # the SBOM, an AppImage's .zsync
                os.replace(companion, self.output_dir / companion.name)
            artifact = Artifact(installer.kind, final, final.stat().st_size, file_sha256(final),
                                self.output_dir / f"{name}{SBOM_SUFFIX}")
            self.report.artifacts.append(artifact)
            self.reporter.emit(Event("artifact", f"{installer.kind}: {final.name}", stage=installer.kind, data={
                "kind": artifact.kind, "path": str(final), "size": artifact.size, "sha256": artifact.sha256,
                "sbom": str(artifact.sbom),
            }))
            return artifact

    def _installer_keys(self) -> list[str]:
        return [f"{i.kind}:{i.target.name}" for i in self.installers]

    def _write_report(self) -> Path:
        path = self.output_dir / f"{self.project.app.name}-report.json"
        atomic_write_text(path, self.report.to_json())
        return path


def _require_tables(project_file: ProjectFile, kinds: list[str]) -> None:
    """Every kind asked for (`kiln build --kind K`) has an [[installer]] table that is switched on."""
    tables = project_file.project.installer
    missing = [k for k in dict.fromkeys(kinds) if all(i.kind != k for i in tables)]
    off = [k for k in dict.fromkeys(kinds) if k not in missing and not any(i.enabled for i in tables if i.kind == k)]
    if missing:
        examples = "\n".join(f'      [[installer]]\n      kind = "{k}"' for k in missing)
        raise KilnError(f"{project_file.path} has no installer of kind {' or '.join(missing)}: nothing to build for "
                        f"--kind {' --kind '.join(missing)}",
                        hint=f"add a table for it to the project file (or tick it on the wizard's Installers page):\n"
                             f"{examples}")
    if off:
        raise KilnError(f"the {' and '.join(off)} installer{'s are' if len(off) > 1 else ' is'} switched off "
                        f"(enabled = false) in {project_file.path}",
                        hint="set enabled = true in its [[installer]] table, or leave out that --kind")


def _target_suffix(target_name: str, by_target: dict[str, list[Installer[Any]]]) -> str:
    """Stage names carry the platform only when a build has more than one."""
    return f" ({target_name})" if len(by_target) > 1 else ""


def _save_generated_fields(project_file: ProjectFile) -> list[str]:
    """Values an installer kind generates once (the MSI upgrade code) must never change: those missing from the
    file are written to it. Returns the kinds' notes about what was saved."""
    tables = project_file.document.get("installer") or []
    notes = [
        note
        for index, options in enumerate(project_file.project.installer)
        for name, note in options.generated_fields().items()
        if index >= len(tables) or name not in tables[index]
    ]
    if notes:
        project_file.save()
    return notes


def _open_build_log(path: Path) -> logging.FileHandler:
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return handler
