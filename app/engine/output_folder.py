"""The output folder of one build: checked before anything is written, locked for the build, swept of leftovers.

- Checked first: a folder outside the project that the file did not give as an absolute path, a system
  folder, a file in the way, a read-only or forbidden folder are refused before Kiln creates anything.
- Locked: builds writing into one output folder (two `kiln build` of one project, two projects sharing a
  `dist/`) take turns, so no build's log or report overwrites another's half-way; the second build says it
  waits and starts when the first ends.
- Swept: `.kiln-partial-*` folders and Kiln work folders in the system temp folder left by killed builds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from kiln.model.events import Event, Reporter
from kiln.model.paths import output_dir_problems
from kiln.model.project_file import ProjectFile
from kiln.support import sweep
from kiln.support.errors import KilnError, ProjectInvalid
from kiln.support.locks import FileLock
from kiln.support.oserrors import user_error

log = logging.getLogger("kiln")

LOCK_NAME = ".kiln-build.lock"


@dataclass
class OutputFolder:
    path: Path
    lock: FileLock
    log_path: Path

    def release(self) -> None:
        self.lock.release()


def open_output_folder(project_file: ProjectFile, output_dir: Path, reporter: Reporter) -> OutputFolder:
    """Check, create and lock the output folder and sweep leftovers; raises KilnError for every user problem."""
    # A build log on a disk that fills up must not print logging's own tracebacks ("--- Logging error ---"):
    # the build reports the full disk itself.
    logging.raiseExceptions = False
    problems = output_dir_problems(project_file.base_dir, project_file.project.build.output_dir)
    if problems:
        raise ProjectInvalid(str(project_file.path), problems)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(output_dir / LOCK_NAME)
        if not lock.acquire(blocking=False):
            reporter.emit(Event("warning", f"another build is writing into {output_dir}; waiting for it to finish",
                                stage="validate"))
            lock.acquire()
    except OSError as e:
        raise user_error(e) or KilnError(f"{output_dir}: cannot use it as the output folder ({e.strerror})",
                                         hint="check build.output_dir") from None
    freed = sweep.remove(sweep.output_leftovers(output_dir) + sweep.temp_leftovers())
    if freed:
        log.info("removed leftovers of killed builds (%d bytes)", freed)
    return OutputFolder(output_dir, lock, output_dir / f"{project_file.project.app.name}-build.log")


def refuse(reporter: Reporter, error: KilnError) -> None:
    """Report a build that could not start (its output folder is unusable): `error` and `done` events."""
    data: dict[str, object] = {"hint": error.hint} if error.hint else {}
    if isinstance(error, ProjectInvalid):
        data = {"problems": [str(p) for p in error.problems]}
    reporter.emit(Event("error", error.message, data=data))
    reporter.emit(Event("done", "build failed", data={"status": "failed", "log": "", "installers": []}))
