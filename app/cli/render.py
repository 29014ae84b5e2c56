"""Shows build events in a terminal with rich: one progress bar, a line per finished stage, the artifacts.

The bar's line says what the running stage is doing, how long it has been running (counting up between events,
so a long compression visibly moves on) and how long the build has taken so far.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TaskProgressColumn, TextColumn
from rich.table import Table
from rich.text import Text

from kiln.model.events import Event
from kiln.support.sizes import human_size


def make_console(stderr: bool = False) -> Console:
    """A Console that wraps lines only on a terminal: piped output keeps each message on one line, unbroken."""
    stream = sys.stderr if stderr else sys.stdout
    on_terminal = hasattr(stream, "isatty") and stream.isatty()
    return Console(highlight=False, stderr=stderr, soft_wrap=not on_terminal)


def hms(seconds: float) -> str:
    """0:01:05, as rich shows elapsed time."""
    return str(timedelta(seconds=max(0, int(seconds))))


class ElapsedColumn(ProgressColumn):
    """`stage 0:00:42  total 0:03:10`: the running stage's time (from the task's `stage_started` field) and the
    build's, both read from the Progress clock at each refresh, so they count up while no event arrives."""

    def render(self, task: Task) -> Text:
        total = hms(task.elapsed) if task.elapsed is not None else "-:--:--"
        started = task.fields.get("stage_started")
        stage = f"stage {hms(task.get_time() - started)}  " if started is not None else ""
        return Text(f"{stage}total {total}", style="progress.elapsed")


class RichRenderer:
    """A Reporter for terminals. `clock` is the time source (monotonic seconds) for the elapsed columns."""

    def __init__(self, console: Console | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console or make_console()
        self._clock = clock
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), ElapsedColumn(),
            console=self.console, transient=True, get_time=clock,
        )
        self._task: TaskID | None = None
        self._artifacts: list[Event] = []

    def __enter__(self) -> RichRenderer:
        self._progress.start()
        self._task = self._progress.add_task("starting", total=1.0, stage_started=None)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()

    def emit(self, event: Event) -> None:
        assert self._task is not None
        if event.fraction is not None:
            self._progress.update(self._task, completed=event.fraction)
        if event.kind == "stage-start":
            self._progress.update(self._task, stage_started=self._clock())
        if event.kind == "stage-start" or (event.kind == "progress" and event.message):
            self._progress.update(self._task, description=f"{event.stage}: {escape(event.message)}")
        elif event.kind == "stage-end":
            self._progress.update(self._task, stage_started=None)
            self.console.print(f"[green]✓[/] {escape(event.stage or '')}  {event.data.get('seconds', 0):.1f} s")
        elif event.kind == "warning":
            self.console.print(f"[yellow]warning:[/] {escape(event.message)}")
        elif event.kind == "log" and event.data.get("note"):  # shown, e.g. where the versions came from
            self.console.print(f"  {escape(event.message)}")
        elif event.kind == "artifact":
            self._artifacts.append(event)
        elif event.kind == "error":
            problems = event.data.get("problems", [])
            # A ProjectInvalid message already lists its problems below its first line: print them once.
            message = event.message.splitlines()[0] if problems and event.message else event.message
            self.console.print(f"[red]error:[/] {escape(message)}")
            for problem in problems:
                self.console.print(f"  - {escape(problem)}")
            if event.data.get("hint"):
                self.console.print(f"  hint: {escape(event.data['hint'])}")
        elif event.kind == "done":
            self._done(event)
        if event.kind in ("stage-start", "progress"):
            self._progress.refresh()  # show the new stage and fraction now, not at the next tick

    def _done(self, event: Event) -> None:
        self._progress.stop()
        if event.data.get("up_to_date"):  # kiln.engine.fingerprint: a rebuild with nothing to do
            self.console.print("nothing changed since the last build: the artifacts are up to date, left as they are")
        if self._artifacts:
            table = Table("kind", "artifact", "size", "sha256", box=None)
            for artifact in self._artifacts:
                data = artifact.data
                table.add_row(data["kind"], escape(data["path"]), human_size(data["size"]), data["sha256"][:16] + "…")
            self.console.print(table)
        for outcome in event.data.get("installers", []):
            where = escape(f"{outcome.get('kind')} ({outcome.get('platform')})")
            if outcome.get("status") == "ok":
                self.console.print(f"[green]✓ {where}[/]")
                continue
            self.console.print(f"[red]✗ {where} failed:[/] {escape(str(outcome.get('message', '')))}")
            if outcome.get("hint"):
                self.console.print(f"  hint: {escape(str(outcome['hint']))}")
        status = event.data.get("status")
        colour = {"ok": "green", "cancelled": "yellow"}.get(str(status), "red")
        self.console.print(f"[{colour}]build {status}[/]  log: {escape(str(event.data.get('log', '')))}")
