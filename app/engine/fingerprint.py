"""No-op rebuilds: a build whose inputs did not change since the last successful one publishes nothing.

The inputs are everything that decides an artifact's bytes: the project file and Kiln's locks (by content), the
files of the project folder and of the source root (kiln.source.tree: by path, size and modification time, as
make and PyInstaller judge sources), files the project names outside its folder (icon, requirements file, a runtime
archive), the runtimes in Kiln's cache, the interpreter a host runtime is made from, Kiln's own version and
code, the installers asked for, and the environment variables that swap Kiln's prebuilt launchers or fix
timestamps. After a successful build their digest is stored beside the artifacts
(`<output_dir>/.kiln-fingerprint.json`) with each artifact's size, sha256 and modification time. The next
build computes the digest first; when it matches and every artifact is still there, untouched, the build ends
at once and says so, leaving the artifacts as they are.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln import __version__
from kiln.kinds.contract import Artifact
from kiln.model.events import Event, Reporter
from kiln.model.project_file import ProjectFile
from kiln.model.pylock import lock_files
from kiln.runtimes.cache import MARKER, runtimes_root
from kiln.source.tree import update_digest

STATE_NAME = ".kiln-fingerprint.json"
FORMAT = 2
ENVIRONMENT = ("KILN_APPIMAGE_RUNTIME", "KILN_WINDOWS_LAUNCHERS", "KILN_MACOS_LAUNCHERS", "SOURCE_DATE_EPOCH")
"""Environment variables that change what a build produces."""
def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _kiln_code() -> str:
    """Kiln's own files (a development checkout changes without a version bump)."""
    import kiln.resources
    import kiln.runtimes

    digest = hashlib.sha256(__version__.encode())
    for package in (kiln, kiln.runtimes, kiln.resources):
        if package.__file__:
            update_digest(digest, Path(package.__file__).parent)
    return digest.hexdigest()


def inputs(project_file: ProjectFile, output_dir: Path, kinds: list[str], cache_dir: Path) -> dict[str, str]:
    """Digest per input group; equal dictionaries mean an equal build."""
    project, base = project_file.project, project_file.base_dir
    # The project file and Kiln's locks count by content (a build may rewrite them with the same content).
    locks = lock_files(project_file.path.parent)
    skip = {output_dir.resolve(), output_dir, project_file.path, *locks}
    sources = hashlib.sha256()
    update_digest(sources, base, skip)
    root = (base / project.source.root).resolve()
    if not root.is_relative_to(base.resolve()):
        update_digest(sources, root, skip)
    outside = hashlib.sha256()
    named = [project.icon.path, project.dependencies.requirements_file, project.python.source,
             *project.dependencies.find_links]
    for value in named:
        path = (base / value).resolve() if value else None
        if path is not None and path.exists() and not path.is_relative_to(base.resolve()):
            if path.is_dir():
                update_digest(outside, path, skip)
            else:
                info = path.stat()
                outside.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    executable = Path(sys.executable).resolve()
    host = executable.stat()
    environment = {name: os.environ.get(name, "") for name in ENVIRONMENT}
    for name, value in environment.items():
        if value and Path(value).exists():
            info = Path(value).stat()
            environment[name] = f"{value}\0{info.st_size}\0{info.st_mtime_ns}"
    # A runtime added to (or removed from) Kiln's cache can change which runtime a build picks.
    runtimes = hashlib.sha256()
    for marker in sorted(runtimes_root(cache_dir).glob(f"*/*/{MARKER}")):
        with contextlib.suppress(OSError):
            runtimes.update(f"{marker.relative_to(cache_dir)}\0{marker.stat().st_mtime_ns}\n".encode())
    return {
        "format": str(FORMAT),
        "runtimes": runtimes.hexdigest(),
        "kiln": _kiln_code(),
        "project": _file_digest(project_file.path),
        "lock": json.dumps([_file_digest(path) for path in locks]),
        "sources": sources.hexdigest(),
        "outside": outside.hexdigest(),
        "host_python": f"{sys.version}\0{executable}\0{host.st_size}\0{host.st_mtime_ns}",
        "kinds": json.dumps(sorted(kinds)),
        "environment": json.dumps(environment, sort_keys=True),
    }


@dataclass
class Unchanged:
    """A build that had nothing to do: the artifacts of the last one, and its report."""

    artifacts: list[Artifact]
    report: Path | None


def _state_path(output_dir: Path) -> Path:
    return output_dir / STATE_NAME


def check(output_dir: Path, current: dict[str, str]) -> Unchanged | None:
    """The last build's artifacts when `current` equals its inputs and every artifact is still as it left it."""
    try:
        state = json.loads(_state_path(output_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("inputs") != current:
        return None
    artifacts = []
    for entry in state.get("artifacts", []):
        path = output_dir / entry["name"]
        try:
            info = path.stat()
        except OSError:
            return None
        if info.st_size != entry["size"] or info.st_mtime_ns != entry["mtime_ns"]:
            return None
        sbom = output_dir / entry["sbom"] if entry.get("sbom") else None
        if sbom is not None and not sbom.is_file():
            return None
        artifacts.append(Artifact(entry["kind"], path, entry["size"], entry["sha256"], sbom))
    report = output_dir / state["report"] if state.get("report") else None
    if not artifacts or (report is not None and not report.is_file()):
        return None
    return Unchanged(artifacts, report)


def record(output_dir: Path, before: dict[str, str], after: dict[str, str], artifacts: list[Artifact],
           report: Path | None) -> bool:
    """Store the inputs of a successful build. The build itself may rewrite kiln.lock and the project file
    (generated fields): `after` is stored. If the sources or anything else changed while it ran, nothing is
    stored, so the next build builds again."""
    path = _state_path(output_dir)
    moved = {k for k in before if before[k] != after.get(k)} - {"lock", "project"}
    if moved or not artifacts:
        path.unlink(missing_ok=True)
        return False
    state = {
        "inputs": after,
        "artifacts": [{"kind": a.kind, "name": a.path.name, "size": a.size, "sha256": a.sha256,
                       "mtime_ns": a.path.stat().st_mtime_ns, "sbom": a.sbom.name if a.sbom else ""}
                      for a in artifacts],
        "report": report.name if report is not None else "",
    }
    temp = path.with_name(f"{path.name}.{os.getpid()}")
    temp.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    os.replace(temp, path)
    return True


def forget(output_dir: Path) -> None:
    """A build that did not end well leaves no fingerprint: the next one builds."""
    _state_path(output_dir).unlink(missing_ok=True)


def announce(reporter: Reporter, unchanged: Unchanged, platforms: dict[str, str], build_log: Path) -> None:
    """The events of a build that had nothing to do: a log line, the artifacts as they are, `done`."""
    reporter.emit(Event("log", "nothing changed since the last build (project, lock, sources, runtime, Kiln, "
                               "options): the artifacts are up to date and were left as they are"))
    installers = []
    for artifact in unchanged.artifacts:
        reporter.emit(Event("artifact", f"{artifact.kind}: {artifact.path.name} (up to date)", stage=artifact.kind,
                            data={"kind": artifact.kind, "path": str(artifact.path), "size": artifact.size,
                                  "sha256": artifact.sha256, "unchanged": True,
                                  "sbom": str(artifact.sbom) if artifact.sbom else ""}))
        installers.append({"kind": artifact.kind, "platform": platforms.get(artifact.kind, ""), "status": "ok",
                           "message": "up to date", "hint": "", "artifact": str(artifact.path)})
    data: dict[str, Any] = {"status": "ok", "up_to_date": True, "installers": installers, "log": str(build_log)}
    if unchanged.report is not None:
        data["report"] = str(unchanged.report)
    reporter.emit(Event("done", "build ok: nothing changed, artifacts up to date", fraction=1.0, data=data))
