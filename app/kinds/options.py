"""What every `[[installer]]` table shares, and the hooks through which a kind adds its own rules.

Each kind's options model lives in its package (`kiln.installers.<kind>.options`) and subclasses
`InstallerOptions`; the project model, `kiln check`, the engine and the wizard only use these hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import field_validator, model_validator

from kiln.support.section import Section
from kiln.support.targets import PlatformName

if TYPE_CHECKING:
    from kiln.model.project import Project
    from kiln.support.errors import Problem


class InstallerOptions(Section):
    kind: str = ""
    """Which installer this table builds (each kind narrows it to its own name and default)."""
    enabled: bool = True
    """`false`: the table is kept (with values generated once, such as the MSI upgrade code) but not built."""
    output_name: str = ""
    """Artifact file name without extension (a plain name: no folders); empty: `<name>-<version>-<platform>`."""

    @field_validator("output_name")
    @classmethod
    def _output_name(cls, value: str) -> str:
        from kiln.support.path_text import file_name_problem

        problem = file_name_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _always_write_kind(self) -> InstallerOptions:
        self.model_fields_set.add("kind")  # the file must say which kind each table is
        return self

    if TYPE_CHECKING:
        # Each kind provides it, as a field (the user picks) or a property (fixed); declared for type checkers
        # only, because a pydantic field may not shadow a base-class attribute.
        @property
        def platform(self) -> PlatformName:
            """The platform the artifact is for."""

    def problems(self, project: Project, base_dir: Path, where: str) -> list[Problem]:
        """Kind-specific problems for `kiln check`; `where` is this table's path, e.g. 'installer[1]'."""
        return []

    def generated_fields(self) -> dict[str, str]:
        """Fields generated once when the file lacks them, which must then be saved and never regenerated.

        Maps the field name to a note for the user, e.g. {"upgrade_code": "an MSI upgrade code: keep it, ..."}.
        """
        return {}
