"""`kiln inspect FILE`: describes a built artifact with the reader of the kind that makes such files."""

from __future__ import annotations

import json
from pathlib import Path

from kiln.engine.qt_prune import describe_pruning
from kiln.kinds import registry
from kiln.support.errors import KilnError
from kiln.support.hashing import file_sha256


def inspect_artifact(path: Path) -> str:
    if not path.is_file():
        raise KilnError(f"{path}: no such file")
    describe = registry.reader_for(path)
    if describe is None:
        raise KilnError(f"{path.name}: not an artifact Kiln knows",
                        hint=f"kiln inspect reads {', '.join(registry.artifact_endings())}")
    text = describe(path)
    pruned = _qt_pruning(path)
    return "\n".join([text.rstrip("\n"), *pruned]) if pruned else text


def _qt_pruning(path: Path) -> list[str]:
    """What Qt pruning dropped: the artifact holds only what was kept, so this comes from the build report beside
    it, when that report lists this very file (same sha256)."""
    digest = None
    for report_path in sorted(path.parent.glob("*-report.json")):
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
            artifacts = {Path(a["path"]).name: a["sha256"] for a in report.get("artifacts", [])}
            platforms = {Path(i["artifact"]).name: i["platform"] for i in report.get("installers", [])
                         if i.get("artifact")}
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if path.name not in artifacts:
            continue
        digest = digest or file_sha256(path)
        qt = report.get("qt", {}).get(platforms.get(path.name, ""))
        if artifacts[path.name] == digest and qt:
            return describe_pruning(qt, f"from {report_path.name}")
    return []
