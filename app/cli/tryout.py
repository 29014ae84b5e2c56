"""`kiln try PROJECT [ARGS...]`: run the app as it ships (the staged bundle for this machine), with ARGS; with
`--from-sources`, run its entry point from the source folder in a cached environment holding its requirements.

With `--events jsonl` (the wizard) it only prepares the bundle (or the environment), reports the stages as events,
and ends with a `done` event whose data holds `argv` and `env` to start it (and `cwd` from sources): the wizard
runs that itself, so it can stop it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from kiln.support.errors import KilnError, ProjectInvalid


def add_subcommands(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "try", help="run the app as it ships: the bundle a build makes for this machine (cached), with ARGS")
    parser.add_argument("project", type=Path)
    parser.add_argument("app_args", nargs=argparse.REMAINDER, metavar="ARGS",
                        help="arguments for the app (put -- before them if one starts with -)")
    parser.add_argument("--events", choices=["jsonl"],
                        help="print machine-readable events and the command to run, instead of running it")
    parser.add_argument("--cache-dir", type=Path, help="Kiln's cache folder (default: the user cache dir)")
    parser.add_argument("--from-sources", action="store_true",
                        help="run the entry point from the source folder, with the requirements installed in a "
                        "virtual environment Kiln keeps (quick, for development: not what the installers ship)")
    parser.set_defaults(handler=cmd_try)


def cmd_try(args: argparse.Namespace) -> int:
    from kiln.engine.engine import default_cache_dir
    from kiln.engine.tryout import prepare
    from kiln.model.events import Event, JsonLinesWriter, Reporter
    from kiln.model.project_file import load_project

    app_args = list(args.app_args)
    if app_args[:1] == ["--"]:
        app_args = app_args[1:]
    cache_dir = args.cache_dir or default_cache_dir()
    if args.from_sources:
        return _from_sources(args.project, app_args, cache_dir, args.events == "jsonl")
    if args.events != "jsonl":
        from kiln.cli.render import RichRenderer

        project_file = load_project(args.project)
        renderer: AbstractContextManager[Reporter] = RichRenderer()
        with renderer as reporter:
            bundle = prepare(project_file, reporter, cache_dir)
        env = bundle.env()
        return subprocess.run(bundle.argv(app_args), env=env, check=False).returncode

    writer = JsonLinesWriter(sys.stdout)
    with nullcontext(writer):
        try:
            project_file = load_project(args.project)
            bundle = prepare(project_file, writer, cache_dir)
        except ProjectInvalid as error:
            writer.emit(Event("error", error.message, data={"problems": [str(p) for p in error.problems]}))
        except KilnError as error:
            writer.emit(Event("error", error.message, data={"hint": error.hint} if error.hint else {}))
        else:
            env = bundle.env(base={})
            writer.emit(Event("done", "ready to run", fraction=1.0, data={
                "status": "ok", "argv": bundle.argv(app_args), "env": env, "reused": bundle.reused,
                "bundle": str(bundle.bundle)}))
            return 0
    writer.emit(Event("done", "could not prepare the app", data={"status": "failed"}))
    return 1


def _from_sources(project: Path, app_args: list[str], cache_dir: Path, events: bool) -> int:
    """Prepare the cached environment (kiln.engine.devenv) and run the entry point from the sources with it."""
    from kiln.engine.devenv import prepare_dev_env, source_paths
    from kiln.model.events import Event, JsonLinesWriter, Reporter
    from kiln.model.project_file import load_project
    from kiln.source.tryout import TryRunError, try_command

    if not events:
        from kiln.cli.render import RichRenderer

        project_file = load_project(project)
        renderer: AbstractContextManager[Reporter] = RichRenderer()
        with renderer as reporter:
            env = prepare_dev_env(project_file, reporter, cache_dir)
        root = (project_file.base_dir / project_file.project.source.root).resolve()
        try:
            command = try_command(project_file.project.entry, root, str(env.python), app_args,
                                  paths=source_paths(root))
        except TryRunError as e:
            raise KilnError(str(e)) from None
        return subprocess.run(command.argv, cwd=command.cwd, env=command.env, check=False).returncode

    writer = JsonLinesWriter(sys.stdout)
    try:
        project_file = load_project(project)
        env = prepare_dev_env(project_file, writer, cache_dir)
        root = (project_file.base_dir / project_file.project.source.root).resolve()
        command = try_command(project_file.project.entry, root, str(env.python), app_args, base_env={},
                              paths=source_paths(root))
    except ProjectInvalid as error:
        writer.emit(Event("error", error.message, data={"problems": [str(p) for p in error.problems]}))
    except KilnError as error:
        writer.emit(Event("error", error.message, data={"hint": error.hint} if error.hint else {}))
    except TryRunError as error:
        writer.emit(Event("error", str(error)))
    else:
        writer.emit(Event("done", "ready to run", fraction=1.0, data={
            "status": "ok", "argv": command.argv, "env": command.env, "cwd": str(command.cwd),
            "reused": env.reused, "python": sys.version.split()[0]}))
        return 0
    writer.emit(Event("done", "could not prepare the app", data={"status": "failed"}))
    return 1
