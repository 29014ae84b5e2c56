"""`kiln new | check | build | schema | inspect | runtimes | cache | wizard` — argument parsing and output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from kiln import __version__
from kiln.kinds import registry
from kiln.support.errors import KilnError, ProjectInvalid

Handler = Callable[[argparse.Namespace], int]


def _cmd_new(args: argparse.Namespace) -> int:
    import tomlkit
    from rich.console import Console
    from rich.markup import escape

    from kiln.model.project_file import new_project_file
    from kiln.source.detect import detect, mark_guesses
    from kiln.support.atomic import atomic_write_text

    folder: Path = args.folder
    if not folder.is_dir():
        raise KilnError(f"{folder} is not a folder", hint="pass the folder that holds your app's code")
    path = folder / "kiln.toml"
    if path.exists() and not args.force:
        raise KilnError(f"{path} already exists", hint="edit it, or pass --force to replace it")
    detection = detect(folder)
    project = detection.project()
    header = (
        "Kiln project file: how to package this app. Edit by hand or with `kiln wizard`.\n"
        "Reference: docs/project-file.md. Values marked TODO could not be detected: `kiln check` lists them."
    )
    project_file = new_project_file(path, project, header=header)
    project_file.save()
    if detection.guessed:  # the comments go on the saved values, so the file is saved again with them
        mark_guesses(project_file.document, detection.guessed)
        atomic_write_text(path, tomlkit.dumps(project_file.document))
    console = Console(highlight=False, soft_wrap=True)  # one line per fact, however narrow the terminal
    console.print(f"[green]wrote[/] {path}")
    entry = project.entry.module or project.entry.script
    if detection.lone_script:
        entry = f"your script {detection.lone_script}"
    console.print(f"  app: {escape(project.app.name)} {escape(project.app.version)}   entry: {escape(entry)} "
                  f"({project.entry.kind})")
    dependencies = ", ".join(project.dependencies.requirements)
    if project.dependencies.requirements_file:
        listed = ", ".join(detection.requirements_from_file) or "nothing yet"
        dependencies += f"{'; ' if dependencies else ''}{project.dependencies.requirements_file}: {listed}"
    console.print(f"  dependencies: {escape(dependencies or 'none')}")
    if detection.extras:
        console.print(f"  optional features of the project, not shipped: {escape(', '.join(detection.extras))} "
                      "(to ship some, list them in \\[dependencies] extras)")
    if detection.python_version:
        console.print(f"  python: {project.python.version} (the app requires-python "
                      f"{escape(detection.python_requires)})")
    console.print(f"  installers: {', '.join(i.kind for i in project.installer)} (`kiln preflight` says which "
                  "platforms' Python runtimes can be had)")
    if len(detection.entries) > 1:
        console.print("  entry points found (set \\[entry] to use another):")
        for candidate in detection.entries:
            console.print(f"    {escape(candidate.label)}", markup=True)
    for guess in detection.guessed:
        console.print(f"  [yellow]guessed:[/] {guess} (marked in the file; check it)")
    for warning in detection.warnings:
        console.print(f"  [yellow]warning:[/] {warning}")
    todos = project.todo_fields()
    if todos:
        console.print(f"  [yellow]to fill in:[/] {', '.join(todos)} — then run: kiln check {path}")
    else:
        console.print(f"  next: kiln check {path}   then: kiln build {path}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from kiln.model.project_file import load_project
    from kiln.source.checks import check_project, check_warnings

    project_file = load_project(args.project)
    for warning in check_warnings(project_file):
        Console(highlight=False, stderr=True).print(f"[yellow]warning:[/] {escape(str(warning))}")
    problems = check_project(project_file)
    if problems:
        raise ProjectInvalid(str(args.project), problems)
    from rich.markup import escape as _escape

    from kiln.engine.preflight import project_runtime_issues

    for issue in project_runtime_issues(project_file):  # pre-flight: installers that will get no runtime
        Console(highlight=False, stderr=True).print(f"[yellow]warning:[/] {_escape(str(issue))}\n  hint: "
                                                    f"{_escape(issue.hint)}")
    from kiln.engine.dependencies import check_dependencies
    from kiln.engine.engine import default_cache_dir

    unchecked: list[str] = []
    if getattr(args, "resolve", True):  # each platform resolved: names not on the package index are problems
        problems, unchecked = check_dependencies(project_file, getattr(args, "cache_dir", None) or default_cache_dir())
    for line in unchecked:
        Console(highlight=False, stderr=True).print(f"[yellow]warning:[/] {_escape(line)}")
    if problems:
        raise ProjectInvalid(str(args.project), problems)
    Console(highlight=False).print(f"[green]ok[/] {args.project}: no problems found")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from kiln.engine.engine import Engine
    from kiln.model.events import JsonLinesWriter, Reporter
    from kiln.model.project_file import load_project

    project_file = load_project(args.project)
    renderer: AbstractContextManager[Reporter]
    if args.events == "jsonl":
        renderer = nullcontext(JsonLinesWriter(sys.stdout))
    else:
        from kiln.cli.render import RichRenderer

        renderer = RichRenderer()
    with renderer as reporter:
        result = Engine(project_file, reporter, cache_dir=args.cache_dir, kinds=args.kind).run()
    return {"ok": 0, "cancelled": 130}.get(result.status, 1)


def _cmd_lock(args: argparse.Namespace) -> int:
    import tempfile

    from rich.console import Console
    from rich.markup import escape

    from kiln.engine.dependencies import lock_project
    from kiln.engine.engine import default_cache_dir
    from kiln.engine.lock_convert import finish
    from kiln.model.project_file import load_project
    from kiln.model.pylock import lock_file
    from kiln.source.app_wheel import builds_wheel
    from kiln.support.targets import TARGETS

    project_file = load_project(args.project)
    project = project_file.project
    targets = [TARGETS[name] for name in dict.fromkeys(i.platform for i in project.active_installers())]
    cache_dir = args.cache_dir or default_cache_dir()
    lock_dir = project_file.path.parent
    console = Console(highlight=False)
    with tempfile.TemporaryDirectory(prefix="kiln-lock-") as work:
        root = project_file.base_dir / project.source.root
        lock_project(project.dependencies, project_file.base_dir, targets, project.python.version, lock_dir,
                     cache_dir, Path(work), upgrade=args.upgrade, source_root=root,
                     build_app=builds_wheel(project.source, root),
                     log=lambda line: console.print(escape(line), soft_wrap=True))
    for target in targets:
        if lock_file(lock_dir, target.name).is_file():
            console.print(f"[green]wrote[/] {escape(str(lock_file(lock_dir, target.name)))}", soft_wrap=True)
    converted = finish(lock_dir, [t.name for t in targets])
    if converted:
        console.print(f"[yellow]note:[/] {escape(converted)}", soft_wrap=True)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from kiln.model.project import Project

    print(json.dumps(Project.model_json_schema(), indent=2))
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from kiln.cli.inspect import inspect_artifact

    print(inspect_artifact(args.file))
    return 0


def _cmd_wizard(args: argparse.Namespace) -> int:
    try:
        from kiln.ui.main import run_wizard
    except ImportError as e:
        raise KilnError(
            f"the wizard cannot start: {e}", hint="install Kiln with the gui extra: pip install kiln[gui]"
        ) from None
    return run_wizard(getattr(args, "project", None))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiln", description="Package a Python app as AppImage, MSI and DMG.")
    parser.add_argument("--version", action="version", version=f"kiln {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    new = commands.add_parser("new", help="detect an app in FOLDER and write FOLDER/kiln.toml")
    new.add_argument("folder", type=Path)
    new.add_argument("--force", action="store_true", help="replace an existing kiln.toml")
    new.set_defaults(handler=_cmd_new)

    check = commands.add_parser("check", help="validate a project file and report every problem")
    check.add_argument("project", type=Path)
    check.add_argument("--cache-dir", type=Path, help="Kiln's cache folder (default: the user cache dir)")
    check.add_argument("--no-resolve", dest="resolve", action="store_false",
                       help="do not resolve the requirements for each platform (no package index is asked)")
    check.set_defaults(handler=_cmd_check)

    build = commands.add_parser("build", help="build the project's installers")
    build.add_argument("project", type=Path)
    build.add_argument("--events", choices=["jsonl"], help="print machine-readable events instead of progress")
    build.add_argument("--kind", action="append", choices=registry.kind_names(),
                       help="build only this installer kind (repeatable)")
    build.add_argument("--cache-dir", type=Path, help="Kiln's cache folder (default: the user cache dir)")
    build.set_defaults(handler=_cmd_build)

    lock = commands.add_parser("lock", help="resolve the dependencies of every installer's platform into "
                               "pylock.<platform>.toml files (PEP 751)")
    lock.add_argument("project", type=Path)
    lock.add_argument("--upgrade", action="store_true", help="resolve again, ignoring Kiln's current locks (the "
                      "developer's lock still holds)")
    lock.add_argument("--cache-dir", type=Path, help="Kiln's cache folder (default: the user cache dir)")
    lock.set_defaults(handler=_cmd_lock)

    schema = commands.add_parser("schema", help="print the project file's JSON Schema (for editors)")
    schema.set_defaults(handler=_cmd_schema)

    inspect = commands.add_parser("inspect", help="describe a built artifact (.AppImage, .msi, .dmg, .tar.zst)")
    inspect.add_argument("file", type=Path)
    inspect.set_defaults(handler=_cmd_inspect)

    wizard = commands.add_parser("wizard", help="open the packaging wizard (also: kiln with no arguments)")
    wizard.add_argument("project", type=Path, nargs="?",
                        help="a kiln.toml to open, or an app's folder to start a new project from")
    wizard.set_defaults(handler=_cmd_wizard)

    try:
        from kiln.cli.runtimes import add_subcommands
    except ImportError:
        pass
    else:
        add_subcommands(commands)
    from kiln.cli.tryout import add_subcommands as add_try  # `kiln try`: run the app as it ships

    add_try(commands)
    from kiln.cli.resolve import add_subcommands as add_resolve  # `kiln resolve`: wheels for every platform?

    add_resolve(commands)
    from kiln.cli.preflight import add_subcommands as add_preflight  # `kiln preflight`: runtimes before a build

    add_preflight(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = getattr(args, "handler", _cmd_wizard)
    try:
        return handler(args)
    except KilnError as e:
        _print_error(e)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader of our output went away (`kiln inspect X | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the final flush cannot fail again
        return 141  # 128 + SIGPIPE: what a shell shows for a tool that stopped because its reader did
    except Exception as e:  # the top-level guard: never a raw traceback (kiln.cli.guard)
        from kiln.cli.guard import report_escaped

        return report_escaped(e, _print_error)


def _print_error(error: KilnError) -> None:
    from rich.markup import escape

    from kiln.cli.render import make_console

    console = make_console(stderr=True)
    if isinstance(error, ProjectInvalid):
        console.print(f"[red]error:[/] {escape(error.path)}: {len(error.problems)} problem(s)")
        for problem in error.problems:
            console.print(f"  [bold]{escape(problem.location)}[/]: {escape(problem.message)}", soft_wrap=True)
            if problem.hint:
                console.print(f"      fix: {problem.hint}", soft_wrap=True, markup=False)
        return
    console.print("[red]error:[/] ", end="")
    console.print(error.message, markup=False, soft_wrap=True)
    if error.hint:
        console.print("  hint: ", end="")
        console.print(error.hint, markup=False, soft_wrap=True)
