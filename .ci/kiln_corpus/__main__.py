"""`.ci/corpus`: real apps from the package index, packaged with Kiln for every kind, and every artifact checked.

For each app of the list: its sdist (the project's own source tree), `kiln new` on it with no edit to what it writes,
`kiln build --kind K` for each kind, then the AppImage and the portable run in a clean environment, the MSI
installed and run under Wine, the DMG read back. Prints a markdown table; exits 0 when every result is what the list
expects. Everything is written to a scratch folder under $TMPDIR, removed at the end unless --keep."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python .ci/kiln_corpus`: import the package from the folder beside it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field

from kiln_corpus import dmg_check, fetch, kiln_steps, runs, standin
from kiln_corpus.apps import KINDS, App, ListError, read_list
from kiln_corpus.results import RUN_TITLES, AppResult, Step, Table, findings
from kiln_corpus.wine import Wine

LIST = Path(__file__).resolve().parents[1] / "corpus-apps.txt"
DMG_PLATFORM = "macos-arm64"


@dataclass
class Run:
    """What the whole run shares: settings, the scratch folder, the X server, Wine, the DMG's own cache."""

    args: argparse.Namespace
    scratch: Path
    xvfb: runs.Xvfb = field(default_factory=runs.Xvfb)
    wine: Wine | None = None
    dmg_cache: Path | None = None
    dmg_error: str = ""

    def dmg_runtime(self) -> tuple[Path | None, str]:
        """A cache of its own holding the stand-in macOS runtime: Kiln's normal cache never gets a stand-in."""
        if self.dmg_cache is None and not self.dmg_error:
            cache = self.scratch / "dmg-cache"
            (self.scratch / "standin").mkdir(parents=True, exist_ok=True)
            archive = standin.macos_archive(self.scratch / "standin", DMG_PLATFORM)
            self.dmg_error = kiln_steps.add_runtime(archive, DMG_PLATFORM, cache, self.scratch / "logs")
            self.dmg_cache = None if self.dmg_error else cache
        return self.dmg_cache, self.dmg_error


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_artifact(kind: str, artifact: Path, built: kiln_steps.Built, app: App, work: Path, run: Run,
                   result: AppResult) -> Step:
    args = run.args
    if kind == "appimage":
        return runs.appimage(artifact, app, work, run.xvfb, args.run_timeout, args.gui_seconds)
    if kind == "portable":
        step, note = runs.portable(artifact, app, work, run.xvfb, args.run_timeout, args.gui_seconds)
    elif kind == "msi":
        run.wine = run.wine or Wine(run.scratch / "wine")
        step, notes = run.wine.check(artifact, app, work, run.xvfb, args.run_timeout, args.gui_seconds, args.keep)
        note = "; ".join(notes)
    else:
        step, notes = dmg_check.check(artifact, app, built.report, DMG_PLATFORM, work / "logs")
        note = "; ".join(notes)
    if note:
        result.notes.append(note)
    return step


def package(app: App, run: Run) -> AppResult:
    """Every step for one app; a step that fails leaves the later ones skipped, never the other apps."""
    result = AppResult(app, tuple(run.args.kinds))
    start = time.monotonic()
    work = run.scratch / "apps" / app.name
    logs = work / "logs"
    try:
        sdist = fetch.download_sdist(app.requirement, app.name, work / "download", logs / "pip-download",
                                     run.args.build_timeout)
        tree = fetch.unpack(sdist, work / "source")
    except fetch.FetchError as e:
        result.new = Step("failed", str(e))
        return result
    new = kiln_steps.kiln_new(tree, logs, timeout=300)
    result.new, result.entry = new.step, new.entry
    say(f"[{app.name}] kiln new: {new.step.status} {new.step.detail} (entry {new.entry})")
    if new.project is None:
        return result
    for kind in run.args.kinds:
        if kind not in new.kinds:
            result.builds[kind] = Step("no table", "kiln new wrote no [[installer]] table of this kind")
            continue
        cache = run.args.cache_dir
        if kind == "dmg":
            cache, error = run.dmg_runtime()
            if cache is None:
                result.builds[kind] = Step("failed", f"the stand-in macOS runtime could not be added: {error}")
                continue
        built = kiln_steps.build(new.project, kind, logs, run.args.build_timeout, cache)
        result.builds[kind], result.warnings = built.step, result.warnings + built.warnings
        say(f"[{app.name}] {kind}: {built.step.status} in {built.step.seconds:.0f} s {built.step.detail}")
        if built.artifact is not None:
            step = check_artifact(kind, built.artifact, built, app, work, run, result)
            result.runs[kind] = step
            say(f"[{app.name}] {RUN_TITLES[kind]}: {step.status} in {step.seconds or 0:.0f} s {step.detail}")
    result.seconds = time.monotonic() - start
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=".ci/corpus", description=__doc__)
    parser.add_argument("--list", type=Path, default=LIST, help="the list of apps (default: .ci/corpus-apps.txt)")
    parser.add_argument("--only", action="append", metavar="NAME", help="only this app of the list (repeatable)")
    parser.add_argument("--kind", action="append", choices=KINDS, dest="kinds", help="only this kind (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="read the list and say what would run, run nothing")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (sources, artifacts, logs)")
    parser.add_argument("--out", type=Path, help="also write the table and the findings to this file")
    parser.add_argument("--cache-dir", type=Path, help="Kiln's cache for the Linux and Windows builds "
                        "(default: Kiln's normal cache; the DMG builds always use a cache of their own)")
    parser.add_argument("--build-timeout", type=float, default=1800, help="seconds for one download or build")
    parser.add_argument("--run-timeout", type=float, default=180, help="seconds for one run of a console app")
    parser.add_argument("--gui-seconds", type=float, default=20, help="how long a GUI app must keep running")
    args = parser.parse_args(argv)
    args.kinds = [k for k in KINDS if k in (args.kinds or KINDS)]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        apps = read_list(args.list)
    except (OSError, ListError) as e:
        say(f"error: {e}")
        return 2
    if args.only:
        unknown = set(args.only) - {a.name for a in apps}
        if unknown:
            say(f"error: not in the list: {', '.join(sorted(unknown))}")
            return 2
        apps = [a for a in apps if a.name in args.only]
    if args.dry_run:
        for app in apps:
            expected = ", ".join(f"{k}: {app.expected(k).describe()}" for k in args.kinds)
            print(f"{app.requirement}: {' '.join(app.command)} ({app.display}); {expected}")
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="kiln-corpus.", dir=os.environ.get("TMPDIR")))
    run = Run(args, scratch)
    results: list[AppResult] = []
    try:
        for app in apps:
            say(f"[{app.name}] {app.requirement}: {' '.join(app.command)}")
            try:
                results.append(package(app, run))
            except Exception as e:  # a bug of this script: the app's row says so, the others still run
                results.append(AppResult(app, tuple(args.kinds), new=Step("failed", f"corpus script error: {e!r}")))
                traceback.print_exc()
    finally:
        run.xvfb.stop()
        if args.keep:
            say(f"kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    text = Table().render(results) + "\n\n" + findings(results) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    failed = [r.app.name for r in results if r.mismatches()]
    say(f"corpus: {len(results) - len(failed)} of {len(results)} apps as expected"
        + (f"; not: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
