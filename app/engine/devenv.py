"""The development environment of "Run from sources" (`kiln try --from-sources`): a virtual environment with the
app's requirements, made once and kept in Kiln's cache until what it holds changes — like `briefcase dev`. The app
runs from its source folder (first on the import path), so edits show at the next run.

A Python project is also installed, from the wheel its own backend builds in a copy of the folder (as the build
does): its metadata, version and entry points are then there, and nothing is written into the user's folder (an
editable install would leave an *.egg-info in it). It uses the Python that runs Kiln (not the runtime the
installers ship: "Try it" runs that one), and Kiln's own pip (`pip --python`), so the environment needs no pip.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kiln import __version__
from kiln.engine.dependencies import index_args, read_requirements
from kiln.model.events import Event, Reporter
from kiln.model.project_file import ProjectFile
from kiln.source.app_wheel import build_app_wheel, is_python_project
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.pip import pip_argv
from kiln.support.tools import run

FORMAT = "1"  # bump when the environment's layout or its key changes
_PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
"""What an editable install reads: its dependencies and entry points (a change means installing again)."""
INSTALL_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class DevEnv:
    folder: Path
    python: Path
    reused: bool


def env_key(project_file: ProjectFile) -> str:
    """What the environment holds: Kiln's format, this Python, the requirements and index options, and (for a
    Python project) its metadata files."""
    project = project_file.project
    base, root = project_file.base_dir, (project_file.base_dir / project.source.root).resolve()
    digest = hashlib.sha256()
    parts = {
        "format": FORMAT, "kiln": __version__, "python": sys.version,
        "base": getattr(sys, "_base_executable", sys.executable),
        "requirements": read_requirements(project.dependencies, base),
        "index": index_args(project.dependencies, base),
        "project": str(root) if is_python_project(root) else "",
    }
    digest.update(json.dumps(parts, sort_keys=True).encode())
    for name in _PROJECT_FILES if parts["project"] else ():
        path = root / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-") + b"\0")
    return digest.hexdigest()


def prepare_dev_env(project_file: ProjectFile, reporter: Reporter, cache_dir: Path) -> DevEnv:
    """The environment for the project, made now or the cached one when nothing it holds changed."""
    project = project_file.project
    root = (project_file.base_dir / project.source.root).resolve()
    folder = cache_dir / "devenv" / env_key(project_file)[:16]
    python = folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    ready = folder / "kiln-ready"
    if ready.is_file() and python.exists():
        reporter.emit(Event("log", "requirements unchanged since the last run: reusing its environment"))
        return DevEnv(folder, python, reused=True)
    shutil.rmtree(folder, ignore_errors=True)  # what an interrupted run left
    requirements = read_requirements(project.dependencies, project_file.base_dir)
    steps = 1 + bool(requirements) + is_python_project(root)
    reporter.emit(Event("stage-start", f"making an environment with Python {sys.version.split()[0]}",
                        stage="environment", fraction=0.0))
    run([sys.executable, "-m", "venv", "--without-pip", str(folder)], what="making the virtual environment")
    install = [*pip_argv("--python", str(python), "install", "--disable-pip-version-check", "--no-input"),
               *index_args(project.dependencies, project_file.base_dir)]
    done = 1
    try:
        if requirements:
            reporter.emit(Event("stage-start", f"installing {len(requirements)} requirement(s): "
                                f"{', '.join(requirements[:4])}{' …' if len(requirements) > 4 else ''}",
                                stage="requirements", fraction=done / steps))
            run([*install, "--", *requirements], timeout=INSTALL_TIMEOUT_S, what="installing the requirements")
            done += 1
        if is_python_project(root):
            reporter.emit(Event("stage-start", f"installing {root.name} itself (its metadata and entry points; the "
                                "code runs from your folder)", stage="project", fraction=done / steps))
            with tempfile.TemporaryDirectory(prefix="kiln-devenv-") as temp:
                wheel = build_app_wheel(root, Path(temp), index_args(project.dependencies, project_file.base_dir))
                run([*install, str(wheel)], timeout=INSTALL_TIMEOUT_S, what=f"installing {root.name}")
    except ToolFailed as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise KilnError(f"could not install what the app needs to run from its sources: {e.message}",
                        hint="check the requirements on the Dependencies page and the network") from None
    ready.write_text(env_key(project_file), encoding="utf-8")
    return DevEnv(folder, python, reused=False)


def source_paths(root: Path) -> list[Path]:
    """The folders the app's own code is imported from, first on the import path: src/ (a src layout) and the root."""
    return [folder for folder in (root / "src", root) if folder.is_dir()]
