"""A smoke start of the bundle built for this machine: its own interpreter imports the app's entry module.

Static checks cannot see what happens when the code runs: a module imported by a name built at run time, a data
file read at import, a library that fails to load. For the build machine's own target the bundled interpreter can
run here, so Kiln starts it (isolated, in an empty folder, without a display, through kiln.support.tools with a time
limit) and imports what the app's start imports first: the entry module (`pkg.cli` of `pkg.cli:main`; the package
itself of `python -m pkg`) and the modules its entry function imports (pyzo's `start()` imports `pyzo._start`,
which imports Qt), or the modules a script imports at its top. Nothing of the app is called.

An ImportError naming a module, or a missing file inside the bundle, fails the installers like the static check
does; anything else the app does when imported without a display or a user (a TclError, a SystemExit, a time
limit) is a warning: the app may well run on a desktop. `[build] smoke_start = false` turns the start off.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from kiln.engine.bundle_check import Finding, ImportCheck
from kiln.model.project import EntrySection
from kiln.support.errors import ToolFailed
from kiln.support.sweep import temp_prefix
from kiln.support.tools import run

TIME_LIMIT = 60.0
"""Seconds the import may take (Qt and scientific stacks import in a few seconds)."""
MARK = "KILN-SMOKE "

# Runs in the bundle's interpreter (-I: the runtime's .pth puts app/ and packages/ on sys.path, as at every start;
# -B: nothing is written into the bundle that is about to be packed).
_SCRIPT = r"""
import importlib, json, os, sys, traceback
first, modules = sys.argv[1], json.loads(sys.argv[2])
if first:
    sys.path.insert(0, first)
result = {"ok": True}
for name in modules:
    try:
        importlib.import_module(name)
    except BaseException as error:
        frames = [(f.filename, f.lineno) for f in traceback.extract_tb(error.__traceback__)]
        result = {"ok": False, "module": name, "type": type(error).__name__, "message": str(error)[:400],
                  "missing": getattr(error, "name", None) if isinstance(error, ImportError) else None,
                  "path": getattr(error, "filename", None) if isinstance(error, OSError) else None,
                  "frames": frames[-8:]}
        break
sys.stdout.write("KILN-SMOKE " + json.dumps(result) + "\n")
sys.stdout.flush()
os._exit(0)
"""


def modules_to_import(entry: EntrySection, check: ImportCheck) -> tuple[str, list[str]]:
    """(the folder to put first on sys.path, the modules to import) for the entry."""
    if entry.module:
        module = entry.module.split(":", 1)[0]
        return "", [module, *(m for m in check.entry_imports if m != module)]
    script = check.index.bundle / "app" / entry.script
    return str(script.parent), check.top_level_imports(script)


def smoke_start(python: Path, first: str, modules: list[str], check: ImportCheck) -> list[Finding]:
    """Import `modules` in the bundle's interpreter `python`; what went wrong, as findings."""
    if not modules:
        return []
    with tempfile.TemporaryDirectory(prefix=temp_prefix("kiln-smoke-")) as folder:
        env = {"HOME": folder, "TMPDIR": folder, "XDG_CONFIG_HOME": folder, "XDG_CACHE_HOME": folder,
               "XDG_DATA_HOME": folder, "DISPLAY": "", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": "offscreen",
               "MPLBACKEND": "Agg", "PYTHONIOENCODING": "utf-8", "LANG": "C.UTF-8"}
        try:
            result = run([python, "-I", "-B", "-c", _SCRIPT, first, json.dumps(modules)], cwd=Path(folder), env=env,
                         timeout=TIME_LIMIT, check=False, what=f"importing {', '.join(modules)} in the built bundle")
        except ToolFailed as e:  # the time limit
            return [Finding("smoke-start", "warning", f"importing {', '.join(modules)} in the built bundle did not "
                            f"finish: {e.message}", fix="if the app starts working when imported, that is fine; "
                            "else set [build] smoke_start = false to skip this check")]
    output = result.stdout.decode("utf-8", "replace")
    line = next((ln for ln in output.splitlines() if ln.startswith(MARK)), None)
    if line is None:
        tail = (result.stderr or result.stdout).decode("utf-8", "replace").strip().splitlines()[-3:]
        return [Finding("smoke-start", "warning", f"importing {', '.join(modules)} in the built bundle stopped "
                        f"(exit {result.returncode}) without a result: {' | '.join(tail) or 'no output'}")]
    outcome = json.loads(line[len(MARK):])
    return [] if outcome.get("ok") else [_finding(outcome, check)]


def _finding(outcome: dict[str, object], check: ImportCheck) -> Finding:
    bundle = check.index.bundle
    shown, number = "", 0
    frames = outcome.get("frames")
    for file_name, line in reversed(frames if isinstance(frames, list) else []):
        frame = Path(str(file_name))
        for folder in (bundle / "app", bundle / "packages"):
            if folder in frame.parents:
                shown, number = frame.relative_to(folder).as_posix(), int(line)
                break
        if shown:
            break
    where = f" ({shown}:{number})" if shown else ""
    kind, message, module = str(outcome.get("type")), str(outcome.get("message")), str(outcome.get("module"))
    missing, path = outcome.get("missing"), outcome.get("path")
    said = f"importing {module} in the built {check.target.name} bundle raised {kind}: {message}{where}"
    if isinstance(missing, str) and missing:
        fix, action = check.fix_for(missing)
        return Finding("smoke-start", "error", said, missing, shown, number, fix, action)
    if isinstance(path, str) and Path(path).is_absolute() and bundle in Path(path).parents:
        inside = Path(path).relative_to(bundle).as_posix()
        return Finding("smoke-start", "error", said, "", shown, number,
                       f"the app reads {inside}, which is not in the bundle: add it to [source] include (or declare "
                       "it as package data of the project)")
    return Finding("smoke-start", "warning", said, "", shown, number,
                   "Kiln imported the app's start without a display, a user or a setting: if the app needs one "
                   "there, this is fine; else fix the error (set [build] smoke_start = false to skip this check)")
