"""What happened to each app, whether it is what the list expects, and the markdown table of it all."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln_corpus.apps import KINDS, App

RUN_TITLES = {"appimage": "AppImage run", "portable": "portable run", "msi": "MSI under Wine", "dmg": "DMG read back"}


@dataclass
class Step:
    """One step's result. status: ok / todo / problems (kiln new, kiln check) / failed; built / refused / failed /
    no table (builds); ok / mismatch / crash (runs); skipped."""

    status: str
    detail: str = ""
    seconds: float | None = None
    hint: str = ""


@dataclass
class AppResult:
    app: App
    kinds: tuple[str, ...] = KINDS
    """The kinds this run builds (--kind)."""
    new: Step = field(default_factory=lambda: Step("skipped"))
    entry: str = ""
    builds: dict[str, Step] = field(default_factory=dict)
    runs: dict[str, Step] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def listed_failure_came(self, kind: str, run: bool) -> bool:
        """True when the list expects KIND to be refused (run=False) or its run to fail (run=True), and it was."""
        expected = self.app.expected(kind)
        listed, what = (expected.run_fails, RUN_TITLES[kind]) if run else (expected.refused, kind)
        return bool(listed) and not any(m.startswith(f"{what}:") for m in self.mismatches())

    def mismatches(self) -> list[str]:
        """Every result that is not what the list expects (empty: this app matches)."""
        found = []
        if self.new.status != ("todo" if self.app.new_todo else "ok"):
            found.append(f"kiln new: {self.new.status}")
        for kind in self.kinds:
            expected = self.app.expected(kind)
            build = self.builds.get(kind, Step("skipped"))
            if expected.refused:
                text = f"{build.detail} {build.hint}".lower()
                if build.status != "refused" or expected.refused.lower() not in text:
                    found.append(f"{kind}: {build.status}, expected refused ({expected.refused})")
                continue
            run = self.runs.get(kind, Step("skipped"))
            if build.status != "built":
                found.append(f"{kind}: {build.status}")
            elif expected.run_fails:
                if run.status not in ("crash", "mismatch") or expected.run_fails.lower() not in run.detail.lower():
                    found.append(f"{RUN_TITLES[kind]}: {run.status}, expected to fail here ({expected.run_fails})")
            elif run.status != "ok":
                found.append(f"{RUN_TITLES[kind]}: {run.status}")
        return found


def _seconds(step: Step) -> str:
    return f" {step.seconds:.0f} s" if step.seconds is not None else ""


_SYMBOLS = {"ok": "ok", "built": "built", "refused": "REFUSED", "failed": "FAILED", "todo": "TODO",
            "no table": "no table", "problems": "PROBLEMS", "mismatch": "MISMATCH", "crash": "CRASH", "skipped": "—"}


class Table:
    """Cells short, with numbered notes below for every reason, error line and finding."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def cell(self, step: Step, what: str, expected: bool = False) -> str:
        text = _SYMBOLS.get(step.status, step.status) + (_seconds(step) if step.status != "skipped" else "")
        text += " (as expected)" if expected else ""
        if step.detail:
            self.notes.append(f"{what}: {step.status}: {step.detail}" + (f" (fix: {step.hint})" if step.hint else ""))
            text += f" [{len(self.notes)}]"
        return text

    def render(self, results: list[AppResult]) -> str:
        head = ["app", "version", "kiln new", *KINDS, *(RUN_TITLES[k] for k in KINDS), "total", "as expected"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for result in results:
            app = result.app
            row = [app.name, app.version, self.cell(result.new, f"{app.name}: kiln new")]
            mismatches = result.mismatches()
            row += [self.cell(result.builds.get(k, Step("skipped")), f"{app.name}: {k}",
                              result.listed_failure_came(k, run=False)) for k in KINDS]
            row += [self.cell(result.runs.get(k, Step("skipped")), f"{app.name}: {RUN_TITLES[k]}",
                              result.listed_failure_came(k, run=True)) for k in KINDS]
            row += [f"{result.seconds:.0f} s", "yes" if not mismatches else "NO"]
            lines.append("| " + " | ".join(_escape(c) for c in row) + " |")
        out = "\n".join(lines)
        if self.notes:
            out += "\n\n" + "\n".join(f"{i}. {_escape(note)}" for i, note in enumerate(self.notes, 1))
        return out


def findings(results: list[AppResult]) -> str:
    """Per app: the entry `kiln new` chose, what the list expects and did not get, notes, and Kiln's warnings (those
    it gave for every app, such as a runtime it could not download, once at the top)."""
    warned = [set(r.warnings) for r in results if r.warnings]
    common = set.intersection(*warned) if len(warned) > 1 else set()
    parts = [f"- Kiln warned, for every app: {w}" for w in dict.fromkeys(w for r in results for w in r.warnings)
             if w in common]
    for result in results:
        lines = [f"- **{result.app.name} {result.app.version}**: entry {result.entry or '?'}"]
        lines += [f"  - not as expected: {m}" for m in result.mismatches()]
        lines += [f"  - {note}" for note in result.notes]
        lines += [f"  - Kiln warned: {w}" for w in dict.fromkeys(result.warnings) if w not in common]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
