"""The reference documentation names every setting of the project file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pydantic import BaseModel

from kiln.kinds import registry
from kiln.model import associations, project

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "project-file.md").read_text(encoding="utf-8")


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


def test_ci_md_shows_the_workflow_file_as_it_is() -> None:
    """docs/ci.md quotes docs/ci/installers.yml (without its header comment): one cannot drift from the other."""
    workflow = (REPO / "docs" / "ci" / "installers.yml").read_text(encoding="utf-8")
    body = workflow[workflow.index("name: installers"):]
    guide = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    assert f"```yaml\n{body}```" in guide


def test_the_ci_recipe_refuses_to_guess_which_kiln_to_install(tmp_path: Path) -> None:
    """The end-to-end run of the script is in tests/app/engine/test_partial_builds.py; here, what it says before
    it installs anything."""
    script = REPO / "docs" / "ci" / "build-installers.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    project = tmp_path / "kiln.toml"
    project.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "KILN_REQUIREMENT"}
    missing = subprocess.run(["bash", str(script), str(project)], env=env, capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "set KILN_REQUIREMENT" in missing.stderr
    usage = subprocess.run(["bash", str(script), str(tmp_path / "nothing.toml")], env=env, capture_output=True,
                           text=True, check=False)
    assert usage.returncode == 2 and usage.stderr.startswith("usage:")
