"""Kiln's commands as a user runs them: `kiln new` on the project's tree, `kiln check`, `kiln build --kind K`."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln_corpus import proc
from kiln_corpus.results import Step


def kiln_argv(*args: str | Path) -> list[str]:
    # -P: nothing in the working folder can be imported in Kiln's place (as the wizard starts the engine)
    return [sys.executable, "-P", "-m", "kiln", *map(str, args)]


def kiln_env(cache_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    if cache_dir is not None:
        env["KILN_CACHE_DIR"] = str(cache_dir)
    return env


def todo_fields(document: Any, path: str = "") -> list[str]:
    """Dotted paths of the values `kiln new` left as TODO placeholders."""
    if isinstance(document, dict):
        return [p for key, value in document.items() for p in todo_fields(value, f"{path}.{key}" if path else key)]
    if isinstance(document, list):
        return [p for i, value in enumerate(document) for p in todo_fields(value, f"{path}[{i}]")]
    return [path] if isinstance(document, str) and document.strip().upper().startswith("TODO") else []


@dataclass
class NewResult:
    step: Step
    project: Path | None = None
    kinds: tuple[str, ...] = ()
    """The installer kinds the generated kiln.toml has a table for."""
    entry: str = ""
    python: str = ""


def kiln_new(tree: Path, logs: Path, timeout: float) -> NewResult:
    """`kiln new TREE`, then what the file holds (TODOs, tables) and what `kiln check` says of it."""
    ran = proc.run(kiln_argv("new", tree), timeout=timeout, logs=logs / "new", env=kiln_env(None), cwd=tree.parent)
    project = tree / "kiln.toml"
    if ran.returncode != 0 or not project.is_file():
        reason = "timed out" if ran.timed_out else proc.first_error_line(ran.output)
        return NewResult(Step("failed", f"kiln new: {reason}", ran.seconds))
    document = tomllib.loads(project.read_text(encoding="utf-8"))
    kinds = tuple(str(t.get("kind")) for t in document.get("installer", []) if isinstance(t, dict))
    entry = document.get("entry", {})
    entry_text = entry.get("module") or entry.get("script") or "?"
    entry_text += f" ({entry.get('kind', '?')})"
    python = str(document.get("python", {}).get("version", ""))
    todos = todo_fields(document)
    checked = proc.run(kiln_argv("check", project), timeout=timeout, logs=logs / "check", env=kiln_env(None),
                       cwd=tree.parent)
    seconds = ran.seconds + checked.seconds
    if todos:
        step = Step("todo", "TODO: " + ", ".join(todos), seconds)
    elif checked.returncode != 0:
        problems = check_problems(checked.output)
        first = _first_of(problems) if problems else proc.first_error_line(checked.output)
        step = Step("problems", f"kiln check: {first}", seconds)
    else:
        step = Step("ok", "", seconds)
    return NewResult(step, project, kinds, entry_text, python)


def check_problems(output: str) -> list[str]:
    """The problems `kiln check` lists (each on a line indented by two spaces, its fix below it, further in)."""
    return [line.strip() for line in output.splitlines() if line.startswith("  ") and not line.startswith("   ")]


def _first_of(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return proc.one_line(problems[0], 300) + more


@dataclass
class Built:
    step: Step
    artifact: Path | None = None
    warnings: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def _events(text: str) -> list[dict[str, Any]]:
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def build(project: Path, kind: str, logs: Path, timeout: float, cache_dir: Path | None) -> Built:
    """`kiln build kiln.toml --kind KIND --events jsonl`: built, refused (Kiln's reason and fix) or failed."""
    ran = proc.run(kiln_argv("build", project, "--kind", kind, "--events", "jsonl"), timeout=timeout,
                   logs=logs / f"build-{kind}", env=kiln_env(cache_dir), cwd=project.parent)
    events = _events(ran.stdout)
    warnings = [proc.one_line(str(e.get("message", "")), 400) for e in events if e.get("kind") == "warning"]
    if ran.timed_out:
        return Built(Step("failed", f"timed out after {ran.seconds:.0f} s", ran.seconds), warnings=warnings)
    done = next((e for e in reversed(events) if e.get("kind") == "done"), None)
    if done is None:
        return Built(Step("failed", f"exit {ran.returncode}: {proc.first_error_line(ran.stderr)}", ran.seconds),
                     warnings=warnings)
    data = done.get("data", {})
    report: dict[str, Any] = {}
    if data.get("report"):
        report_path = project.parent / data["report"]
        if report_path.is_file():
            report = json.loads(report_path.read_text(encoding="utf-8"))
    outcome = next((o for o in data.get("installers", []) if o.get("kind") == kind), None)
    if outcome is None:  # the build stopped before any installer (the project, the runtime, the dependencies)
        error = next((e for e in events if e.get("kind") == "error"), {})
        problems = error.get("data", {}).get("problems", [])
        if problems:  # the project file is invalid: Kiln's reasons, each with its fix
            return Built(Step("refused", _first_of(problems), ran.seconds), None, warnings, report)
        message = str(error.get("message", done.get("message", "")))
        return Built(_failure(message, error.get("data", {}).get("hint", ""), ran.seconds), None, warnings, report)
    if outcome.get("status") == "ok":
        artifact = project.parent / outcome["artifact"]
        return Built(Step("built", "", ran.seconds), artifact, warnings, report)
    return Built(_failure(outcome.get("message", ""), outcome.get("hint", ""), ran.seconds), None, warnings, report)


def _failure(message: str, hint: str, seconds: float) -> Step:
    """Refused: Kiln stopped with its own reason and a fix. Failed: an internal error, or no fix offered."""
    reason = proc.one_line(message.splitlines()[0] if message else "no reason given")
    if message.startswith("internal error") or not hint or hint == "see the build log":
        return Step("failed", reason, seconds, hint=proc.one_line(hint))
    return Step("refused", reason, seconds, hint=proc.one_line(hint))


def add_runtime(archive: Path, platform: str, cache_dir: Path, logs: Path) -> str:
    """`kiln runtimes add ARCHIVE --platform P` into `cache_dir`; an error line, or "" when it worked."""
    ran = proc.run(kiln_argv("runtimes", "add", archive, "--platform", platform), timeout=300,
                   logs=logs / f"runtimes-add-{platform}", env=kiln_env(cache_dir))
    return "" if ran.returncode == 0 else proc.first_error_line(ran.output) or f"exit {ran.returncode}"
