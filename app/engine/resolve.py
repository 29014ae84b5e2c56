"""Whether a project's requirements resolve to wheels for each target, asked of pip's resolver (nothing installed).

The Dependencies page's background check and `kiln resolve`: for every platform the installers target, pip
resolves the requirements for that platform and Python version with `install --dry-run --only-binary=:all:`,
exactly the wheel selection the build uses, and reports what it would install or the reason it cannot.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kiln.engine.dependencies import target_args
from kiln.support.errors import ToolFailed
from kiln.support.pip import pip_argv
from kiln.support.targets import TARGETS
from kiln.support.tools import run

TIMEOUT_S = 300


@dataclass
class TargetResolution:
    platform: str
    ok: bool
    packages: list[str] = field(default_factory=list)
    """`name version` of everything pip would install."""
    reason: str = ""
    """Why not (pip's own words), when not ok."""

    def as_dict(self) -> dict[str, object]:
        return {"platform": self.platform, "ok": self.ok, "packages": self.packages, "reason": self.reason}


def resolve_argv(requirements: list[str], platform: str, python_version: str, index: list[str],
                 report: Path) -> list[str]:
    """pip's command line for one platform (pure: tested by equality)."""
    return [*pip_argv(), "install", "--dry-run", "--ignore-installed", "--disable-pip-version-check",
            "--no-input", "--quiet", "--report", str(report), *target_args(TARGETS[platform], python_version),
            *index, "--", *requirements]


def resolve_for(requirements: list[str], platform: str, python_version: str, index: list[str]) -> TargetResolution:
    if not requirements:
        return TargetResolution(platform, True)
    with tempfile.TemporaryDirectory(prefix="kiln-resolve-") as work:
        report = Path(work) / "report.json"
        try:  # through tools.run: a timeout or a cancel ends pip and any build backend it started
            done = run(resolve_argv(requirements, platform, python_version, index, report), timeout=TIMEOUT_S,
                       check=False, what="pip's resolver")
        except ToolFailed:
            return TargetResolution(platform, False, reason=f"pip did not answer within {TIMEOUT_S} s")
        if done.returncode != 0 or not report.is_file():
            stderr = done.stderr.decode(errors="replace")
            errors = [line.removeprefix("ERROR: ") for line in stderr.splitlines() if line.startswith("ERROR:")]
            return TargetResolution(platform, False, reason=errors[0] if errors else stderr.strip()[-300:])
        installs = json.loads(report.read_text(encoding="utf-8")).get("install", [])
        packages = [f"{i['metadata']['name']} {i['metadata']['version']}" for i in installs]
        return TargetResolution(platform, True, packages=packages)


def resolve_all(requirements: list[str], platforms: list[str], python_version: str,
                index: list[str]) -> list[TargetResolution]:
    return [resolve_for(requirements, p, python_version, index) for p in sorted(set(platforms))]
