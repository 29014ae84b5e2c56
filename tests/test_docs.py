"""The reference documentation names every setting of the project file."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from kiln.kinds import registry
from kiln.model import associations, project

DOC = (Path(__file__).resolve().parents[1] / "docs" / "project-file.md").read_text(encoding="utf-8")


def test_every_project_field_is_documented() -> None:
    models: list[type[BaseModel]] = [
        project.Project, project.AppSection, project.EntrySection, project.SourceSection,
        project.DependenciesSection, project.PythonSection, project.IconSection, project.BuildSection,
        associations.Association,
        *(entry.options for entry in registry.kinds()),
    ]
    def documented(name: str) -> bool:
        return f"`{name}`" in DOC or f"[{name}]" in DOC

    missing = [f"{m.__name__}.{name}" for m in models for name in m.model_fields if not documented(name)]
    assert missing == []
