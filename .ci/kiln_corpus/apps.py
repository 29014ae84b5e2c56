"""The list of apps (.ci/corpus-apps.txt): one line per app, what to run and what its results must be."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("appimage", "portable", "msi", "dmg")
DISPLAYS = ("none", "xvfb", "offscreen")
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")


class ListError(Exception):
    """A line of the list that cannot be read."""


@dataclass(frozen=True)
class Expected:
    """What one installer kind must come to: built and then run ok; refused with a reason containing words; or
    built, with a run that fails here for a reason of this machine, its error containing words."""

    refused: str = ""
    run_fails: str = ""

    def describe(self) -> str:
        if self.refused:
            return f"refused ({self.refused})"
        return f"built, run fails here ({self.run_fails})" if self.run_fails else "built and working"


@dataclass(frozen=True)
class App:
    name: str
    version: str
    command: tuple[str, ...]
    """The project's own command and its arguments, as a user types them."""
    expect: str = ""
    """Text its output must contain (console apps); empty for GUI apps, which must still be running after a while."""
    display: str = "none"
    kinds: dict[str, Expected] = field(default_factory=dict)
    windows_has: tuple[str, ...] = ()
    """Distributions that must be inside the installed MSI (Windows-only dependencies)."""
    new_todo: bool = False
    """`kiln new` is expected to leave TODOs (else a TODO is a finding)."""
    home_file: tuple[str, str] | None = None
    """(path under the home folder, text): a returning user's settings, written before the Linux runs start (a
    first-run dialog would otherwise keep a GUI app from doing what is checked)."""
    gui_running: str = ""
    """Words of the command line of a process the GUI app must still have running at the end of the wait (a
    backend it starts, say): proof that it got past its start."""

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def gui(self) -> bool:
        return self.display != "none"

    def expected(self, kind: str) -> Expected:
        return self.kinds.get(kind, Expected())


def parse_line(line: str, where: str) -> App | None:
    """One line: `NAME==VERSION key=value ...` (shell quoting). Keys: run= (required), expect=, display=,
    windows_has= (comma-separated), new=todo, home_file=PATH:TEXT, gui_running=WORDS, KIND=refused:WORDS for an
    expected refusal and KIND_run=fails:WORDS for a run that cannot work here (the list's header says more)."""
    tokens = shlex.split(line, comments=True)
    if not tokens:
        return None
    match = _REQUIREMENT.match(tokens[0])
    if not match:
        raise ListError(f"{where}: the line must start with NAME==VERSION, not {tokens[0]!r}")
    values: dict[str, str] = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep or key in values:
            raise ListError(f"{where}: expected key=value (each key once), got {token!r}")
        values[key] = value
    command = tuple(shlex.split(values.pop("run", "")))
    if not command:
        raise ListError(f"{where}: run= names the command to run and its arguments")
    display = values.pop("display", "none")
    if display not in DISPLAYS:
        raise ListError(f"{where}: display= is one of {', '.join(DISPLAYS)}, not {display!r}")
    kinds: dict[str, Expected] = {}
    for kind in KINDS:
        if kind in values:
            state, _, words = values.pop(kind).partition(":")
            if state != "refused" or not words:
                raise ListError(f"{where}: {kind}= takes refused:WORDS (words of Kiln's reason)")
            kinds[kind] = Expected(refused=words)
        if f"{kind}_run" in values:
            state, _, words = values.pop(f"{kind}_run").partition(":")
            if state != "fails" or not words or kind in kinds:
                raise ListError(f"{where}: {kind}_run= takes fails:WORDS (words of the error), for a kind not refused")
            kinds[kind] = Expected(run_fails=words)
    new = values.pop("new", "")
    if new not in ("", "todo"):
        raise ListError(f"{where}: new= takes only 'todo'")
    home_file = None
    if "home_file" in values:
        path, sep, text = values.pop("home_file").partition(":")
        if not sep or path.startswith("/") or ".." in Path(path).parts:
            raise ListError(f"{where}: home_file= takes PATH:TEXT, PATH relative to the home folder")
        home_file = (path, text.replace("\\n", "\n"))
    app = App(name=match[1], version=match[2], command=command, expect=values.pop("expect", ""), display=display,
              kinds=kinds, windows_has=tuple(n for n in values.pop("windows_has", "").split(",") if n),
              new_todo=new == "todo", home_file=home_file, gui_running=values.pop("gui_running", ""))
    if values:
        raise ListError(f"{where}: unknown key {sorted(values)[0]!r}")
    if not app.gui and not app.expect:
        raise ListError(f"{where}: a console app needs expect= (what its output must contain)")
    return app


def read_list(path: Path) -> list[App]:
    """Every app of the list; a line that starts with white space continues the line above."""
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line[:1].isspace() and line.strip() and lines:
            lines[-1] = (lines[-1][0], f"{lines[-1][1]} {line.strip()}")
        elif not line.lstrip().startswith("#"):
            lines.append((number, line))
    apps = []
    for number, line in lines:
        app = parse_line(line, f"{path.name}:{number}")
        if app is not None:
            apps.append(app)
    return apps
