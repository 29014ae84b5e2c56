"""The command line of the wizard's "Try it": run an entry point from the source tree, as the bundle will start it.

Pure (no Qt, no process started here) so the exact argv is tested by equality.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kiln.model.project import EntrySection, is_todo

# `-c` program for `package.module:function`: import the module, follow the attribute path, exit with the result.
_CALL_FUNCTION = (
    "import importlib, sys\n"
    "target = importlib.import_module({module!r})\n"
    "for name in {attributes!r}:\n"
    "    target = getattr(target, name)\n"
    "sys.exit(target())\n"
)


class TryRunError(ValueError):
    """The entry point cannot be tried as it is; the message says what to fix."""


@dataclass(frozen=True)
class TryCommand:
    """What to start: argv, working folder (the source root) and the complete environment."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]


def try_command(
    entry: EntrySection,
    source_root: Path,
    python: str,
    args: Sequence[str] = (),
    base_env: Mapping[str, str] | None = None,
    paths: Sequence[Path] = (),
) -> TryCommand:
    """The command that runs `entry` from `source_root` with `python`, passing `args` to the app.

    - `package.module:function` imports the module and calls the function (its return value is the exit code);
    - `package` or `package.module` runs like `python -m package`;
    - `script` runs the file like `python script.py`.
    """
    if entry.script and not is_todo(entry.script):
        script = PurePosixPath(entry.script.replace("\\", "/"))
        if script.is_absolute() or ".." in script.parts:
            raise TryRunError(f"the script '{entry.script}' must be inside the source folder")
        program = [str(source_root / script)]
    elif entry.module and not is_todo(entry.module):
        module, _, function = entry.module.partition(":")
        if function:
            code = _CALL_FUNCTION.format(module=module, attributes=function.split("."))
            program = ["-c", code]
        else:
            program = ["-m", module]
    else:
        raise TryRunError("choose an entry point first (a module like 'myapp.main:run' or a script like 'main.py')")
    return TryCommand(argv=[python, *program, *args], cwd=source_root, env=try_env(source_root, base_env, paths))


def try_env(source_root: Path, base_env: Mapping[str, str] | None = None, paths: Sequence[Path] = ()
            ) -> dict[str, str]:
    """The child's environment: the source root (or `paths`) first on the import path, live output, no
    __pycache__ litter."""
    env = dict(os.environ if base_env is None else base_env)
    existing = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in paths or [source_root]), *([existing] if existing else [])])
    env["PYTHONUNBUFFERED"] = "1"  # output shows up as it is printed, not when the buffer fills
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # trying an app must not change the user's source tree
    return env
