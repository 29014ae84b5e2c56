"""Kiln's error types: one base with a hint, so every failure reaches the user as a message, not a traceback."""

from __future__ import annotations

from dataclasses import dataclass, field


class KilnError(Exception):
    """An error the user can act on. The CLI prints `message` and `hint` and exits with code 1."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


@dataclass(frozen=True)
class Problem:
    """One problem in a project file: where (a dotted field path or `line N`), what is wrong, how to fix it."""

    location: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return text if not self.hint else f"{text} ({self.hint})"


@dataclass
class ProjectInvalid(KilnError):
    """A project file with one or more problems, all collected before raising."""

    path: str
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        lines = [f"{self.path}: {len(self.problems)} problem(s)"] + [f"  - {p}" for p in self.problems]
        KilnError.__init__(self, "\n".join(lines), hint=None)


class ToolMissing(KilnError):
    """An external command is not installed."""


class ToolFailed(KilnError):
    """An external command ran and failed."""


class TimedOut(KilnError):
    """A stage ran past its time limit (`[build] timeout`); the command it was running was stopped.

    Not a ToolFailed: code that turns a tool's failure into its own message must not hide the limit's hint."""


class BuildCancelled(KilnError):
    """The user cancelled the build (SIGTERM/SIGINT)."""
