"""The `check` stage of each target: the bundle check's findings become warnings, errors and report entries.

The imports are followed in the payload stage, before bytecode replaces the sources they are read from
(`analyse`); the stage itself (`report_and_start`) says what was found, starts the bundle for this machine's own
target (kiln.engine.smoke_start), and fails the target's installers when something the app needs is missing.

Each finding travels as data (Finding.data): on its `warning` event, on the `error` event of each installer it
fails, and in the build report (`findings` per target, and each installer's entry of `installers`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiln.engine.bundle_check import BundleCheckFailed, Finding, ImportCheck, qt_dropped_modules
from kiln.engine.bundle_index import BundleIndex
from kiln.engine.qt_prune import QtPruneResult
from kiln.engine.report import BuildReport
from kiln.engine.smoke_start import modules_to_import, smoke_start
from kiln.model.project import Project
from kiln.runtimes.builtins import builtin_modules
from kiln.support.targets import Target, host_target


def analyse(bundle: Path, target: Target, project: Project, own_tops: frozenset[str],
            qt: QtPruneResult | None) -> tuple[ImportCheck, list[Finding]]:
    """Follow the app's imports through the staged bundle (its sources still in place)."""
    version = project.python.version
    script_dir = (bundle / "app" / project.entry.script).parent if project.entry.script else None
    index = BundleIndex(bundle, target, version, builtin_modules(bundle / "runtime", target, version), script_dir)
    check = ImportCheck(index, target, own_tops, qt_dropped_modules(qt.dropped) if qt is not None else frozenset())
    return check, check.run(project.entry)


def report_and_start(check: ImportCheck, findings: list[Finding], project: Project, python: Path | None,
                     installers: tuple[str, ...], report: BuildReport, stage: Any) -> None:
    """Warn, start the bundle when it can run here, record everything, and raise BundleCheckFailed on errors."""
    target = check.target
    if not check.index.stdlib_known:
        stage.log(f"the {target.name} runtime's standard library could not be read: only the app's own modules and "
                  "its dependencies were checked")
    if python is not None and target == host_target() and project.build.smoke_start and \
            not any(f.severity == "error" for f in findings):
        first, modules = modules_to_import(project.entry, check)
        stage.progress(0.5, f"importing {', '.join(modules)} in the built bundle")
        findings = findings + smoke_start(python, first, modules, check)
    data = [f.data(target.name, installers) for f in findings]
    report.findings[target.name] = data
    for finding, finding_data in zip(findings, data, strict=True):
        if finding.severity == "warning":
            stage.warn(finding.message + (f"; {finding.fix}" if finding.fix else ""), finding_data)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise BundleCheckFailed(errors, [d for d in data if d["severity"] == "error"])
    checked = len(check.checked_modules)
    stage.progress(1.0, f"{checked} module{'s' if checked != 1 else ''} of the app checked against the bundle")
