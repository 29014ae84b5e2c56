"""The build report: what was built, from what, how long each stage took and what takes the space."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from kiln.kinds.contract import Artifact


@dataclass
class BuildReport:
    project: str
    kiln_version: str
    status: str = "failed"
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds per stage."""
    runtimes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per target: source, full_version, reused (from cache), notes."""
    dependencies: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per target: locked, reused_wheels, developer_lock, lock, and the installed distributions (name, version,
    wheel, sha256, url, source, marker, built: kiln.engine.dependencies.Installed), as docs/runtimes.md lists them.
    Other tools read it (an SBOM): keep its shape."""
    artifacts: list[Artifact] = field(default_factory=list)
    size_by_component: dict[str, int] = field(default_factory=dict)
    """Bytes per component of the first target's bundle: runtime, stdlib, app, then each dependency."""
    size_by_target: dict[str, dict[str, int]] = field(default_factory=dict)
    qt: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per target, when Qt was pruned (kiln.engine.qt_prune): kept modules and plugins, dropped paths, and
    bytes per distribution before and after."""
    added: dict[str, str] = field(default_factory=dict)
    """What ships although the project's own file choice left it out -> why: files of the app's packages that its
    wheel lacked (kiln.source.package_data), folders beside the scripts and paths the code names
    (kiln.source.companions)."""
    sources_kept: dict[str, str] = field(default_factory=dict)
    """Dependencies whose code names one of their own .py files -> where (their sources ship: kiln.engine.sources)."""
    findings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per target, what the bundle check found (kiln.engine.bundle_check.Finding.data), errors and warnings."""
    warnings: list[str] = field(default_factory=list)
    installers: list[dict[str, Any]] = field(default_factory=list)
    """One entry per installer: kind, platform, status ("ok" or "failed"), message, hint, artifact path, and the
    findings of the bundle check for its target."""

    def to_json(self) -> str:
        data = asdict(self)
        data["artifacts"] = [{**asdict(a), "path": str(a.path), "sbom": str(a.sbom) if a.sbom else ""}
                             for a in self.artifacts]
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
