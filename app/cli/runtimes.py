"""`kiln runtimes list|fetch|add` and `kiln cache list|clean`: the runtime catalog and Kiln's cache from the CLI."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from kiln.runtimes import catalog
from kiln.runtimes.archive import install_archive
from kiln.runtimes.base import ProgressCallback
from kiln.runtimes.cache import cache_root, clean, list_cached, rebuild_roots, uv_cache_root, wheels_root
from kiln.runtimes.downloaded import build_choice, fetch
from kiln.support.errors import KilnError
from kiln.support.sizes import tree_size
from kiln.support.targets import PLATFORMS, TARGETS, host_target

Handler = Callable[[argparse.Namespace], int]
SUPPORTED_MINORS = tuple(f"3.{m}" for m in range(14, 7, -1))
"""The Python versions a project may ask for (see kiln.model.project.PythonSection)."""


def add_subcommands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register `runtimes` and `cache`; each leaf parser sets `handler`, which returns the exit code."""
    runtimes = subparsers.add_parser("runtimes", help="downloadable Python runtimes and the ones in the cache")
    sub = runtimes.add_subparsers(dest="runtimes_command", required=True, metavar="{list,fetch,add}")

    p = _leaf(sub, "list", "Python versions available per platform, and which are cached", cmd_runtimes_list)
    p.add_argument("--platform", choices=PLATFORMS, help="only this platform")

    p = _leaf(sub, "fetch", "download, verify and cache a runtime (instant when cached)", cmd_runtimes_fetch)
    p.add_argument("version", help="Python version, 3.X")
    p.add_argument("--platform", choices=PLATFORMS, action="append", help="repeatable; default: this machine's")

    p = _leaf(sub, "add", "register a local runtime archive (python-build-standalone install_only, or "
              "python.org's Windows embeddable zip): builds use it when the catalog's cannot be downloaded",
              cmd_runtimes_add)
    p.add_argument("archive", type=Path, help="…-install_only.tar.gz (or .tar.zst / .zip)")
    p.add_argument("--platform", choices=PLATFORMS, required=True)
    p.add_argument("--version", help="expected Python version 3.X (checked against the archive)")

    cache = subparsers.add_parser("cache", help="Kiln's cache of runtimes, wheels and rebuild products")
    sub = cache.add_subparsers(dest="cache_command", required=True, metavar="{list,clean}")
    _leaf(sub, "list", "what is cached and how much space it takes", cmd_cache_list)
    p = _leaf(sub, "clean", "delete cached runtimes, wheels and/or rebuild products (default: all)", cmd_cache_clean)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--runtimes", action="store_const", const="runtimes", dest="what")
    group.add_argument("--wheels", action="store_const", const="wheels", dest="what")
    group.add_argument("--rebuilds", action="store_const", const="rebuilds", dest="what",
                       help="installed dependency trees, compressed bases and the app's build environments (they only "
                       "make rebuilds faster)")
    group.add_argument("--all", action="store_const", const="all", dest="what")
    p.set_defaults(what="all")


def _leaf(sub: argparse._SubParsersAction[Any], name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    parser.add_argument("--cache-dir", type=Path, help="Kiln's cache folder (default: $KILN_CACHE_DIR or the user's)")
    parser.set_defaults(handler=handler)
    return parser


def _root(args: argparse.Namespace) -> Path:
    folder: Path | None = getattr(args, "cache_dir", None)
    return folder if folder is not None else cache_root()


def _console() -> Console:
    from kiln.cli.render import make_console

    return make_console()  # wraps only on a terminal


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


@contextmanager
def _progress_bar(console: Console, label: str) -> Iterator[ProgressCallback]:
    """A rich progress bar driven by a provider's (fraction, message) callback."""
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=1.0)

        def update(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=f"{label}: {message}")

        yield update


def cmd_runtimes_list(args: argparse.Namespace) -> int:
    console = _console()
    targets = [TARGETS[args.platform]] if args.platform else [TARGETS[p] for p in PLATFORMS]
    cached = list_cached(_root(args))
    table = Table(title="Python runtimes (python-build-standalone)")
    table.add_column("Python")
    for target in targets:
        table.add_column(target.name)
    newest = {t.name: catalog.newest_by_minor(t) for t in targets}
    for minor in SUPPORTED_MINORS:
        row = [minor]
        for target in targets:
            entry = newest[target.name].get(minor)
            cell = f"{entry.version} ({entry.build})" if entry else "-"
            here = [c for c in cached if c.platform == target.name and c.minor == minor]
            if here:
                cell += "\n" + ", ".join(f"[green]cached {c.full_version}[/] {_mb(tree_size(c.path))}" for c in here)
            if entry or here:
                cell += f"\n[bold]a build uses:[/] {escape(build_choice(_root(args), target, minor))}"
            row.append(cell)
        table.add_row(*row)
    console.print(table)
    mirror = catalog.base_url()
    origin = f"{escape(mirror)} (PBS_INSTALLER_BASE_URL)" if mirror else "python-build-standalone's GitHub releases"
    console.print(f"downloads from: {origin}")
    console.print(f"cache: {escape(str(_root(args)))}")
    return 0


def cmd_runtimes_fetch(args: argparse.Namespace) -> int:
    console = _console()
    platforms = args.platform or [host_target().name]
    for platform in dict.fromkeys(platforms):
        target = TARGETS[platform]
        notices: list[str] = []
        with _progress_bar(console, f"Python {args.version} for {platform}") as update:
            cached, reused, _entry = fetch(target, args.version, _root(args), update, warn=notices.append)
        for line in notices:
            console.print(f"[yellow]warning:[/] {escape(line)}")
        state = "already cached" if reused else "downloaded, verified and cached"
        size = _mb(tree_size(cached.path))
        where = escape(str(cached.python_root))
        console.print(f"Python {cached.full_version} for {platform}: {state} ({size}) at {where}")
    return 0


def cmd_runtimes_add(args: argparse.Namespace) -> int:
    console = _console()
    archive: Path = args.archive
    if not archive.is_file():
        raise KilnError(f"{archive} does not exist or is not a file")
    target = TARGETS[args.platform]
    with _progress_bar(console, f"adding {archive.name}") as update:
        notices: list[str] = []
        cached, reused = install_archive(
            archive, target, _root(args), minor=args.version, progress=update, source=f"added {archive.name}",
            warn=notices.append,
        )
    for line in notices:
        console.print(f"[yellow]warning:[/] {escape(line)}")
    state = "was already in the cache" if reused else "added to the cache"
    console.print(f"Python {cached.full_version} for {args.platform} {state}: {escape(str(cached.python_root))}")
    console.print(f"sha256 {cached.sha256}")
    return 0


def cmd_cache_list(args: argparse.Namespace) -> int:
    console = _console()
    root = _root(args)
    console.print(f"cache: {escape(str(root))}")
    table = Table(title="Cached runtimes")
    for column in ("platform", "Python", "build", "size", "source"):
        table.add_column(column)
    for c in list_cached(root):
        table.add_row(c.platform, c.full_version, c.build, _mb(tree_size(c.path)), escape(c.source))
    console.print(table)
    wheels = wheels_root(root)
    table = Table(title="Cached wheels")
    for column in ("target", "wheels", "size"):
        table.add_column(column)
    for folder in sorted(p for p in wheels.iterdir() if p.is_dir()) if wheels.is_dir() else []:
        table.add_row(folder.name, str(len(list(folder.rglob("*.whl")))), _mb(tree_size(folder)))
    if uv_cache_root(root).is_dir():
        table.add_row("uv's cache (resolutions)", "", _mb(tree_size(uv_cache_root(root))))
    console.print(table)
    table = Table(title="Kept for rebuilds (remade by any build when missing)")
    for column in ("what", "entries", "size"):
        table.add_column(column)
    installed, bases, build_envs = rebuild_roots(root)
    entries = [p for p in installed.iterdir() if p.is_dir() and not p.name.startswith(".")] \
        if installed.is_dir() else []
    table.add_row("installed dependencies (one per lock and target)", str(len(entries)), _mb(tree_size(installed)))
    for kind in sorted(p for p in bases.iterdir() if p.is_dir()) if bases.is_dir() else []:
        count = sum(1 for p in kind.iterdir() if p.is_dir() and not p.name.startswith("."))
        table.add_row(f"compressed bases for {kind.name}", str(count), _mb(tree_size(kind)))
    envs = [p for p in build_envs.iterdir() if p.is_dir() and not p.name.startswith(".")] \
        if build_envs.is_dir() else []
    if envs:
        table.add_row("the app's build environments (one per [build-system])", str(len(envs)),
                      _mb(tree_size(build_envs)))
    console.print(table)
    return 0


def report_leftovers(console: Console, root: Path) -> None:
    """Remove and list the temp folders of killed builds (system temp folder, beside cache entries)."""
    from kiln.support import sweep

    leftovers = sweep.temp_leftovers() + sweep.cache_leftovers(root)
    for leftover in leftovers:
        console.print(f"removed a killed build's leftover: {escape(str(leftover.path))} ({_mb(leftover.size)})")
    if leftovers:
        console.print(f"leftovers of killed builds: {_mb(sweep.remove(leftovers))} freed")


def cmd_cache_clean(args: argparse.Namespace) -> int:
    what = args.what
    freed = clean(_root(args), runtimes=what in ("runtimes", "all"), wheels=what in ("wheels", "all"),
                  rebuilds=what in ("rebuilds", "all"))
    rebuilds = "installed dependencies, compressed bases and build environments"
    label = {"runtimes": "runtimes", "wheels": "wheels", "rebuilds": rebuilds,
             "all": f"runtimes, wheels, {rebuilds}"}[what]
    _console().print(f"removed cached {label}: {_mb(freed)} freed")
    report_leftovers(_console(), _root(args))  # kiln.support.sweep: what killed builds left behind
    return 0
