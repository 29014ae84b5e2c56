"""The `[[installer]]` table of kind = "msi"."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from kiln.kinds.options import InstallerOptions
from kiln.support.errors import KilnError, Problem
from kiln.support.targets import PlatformName

if TYPE_CHECKING:
    from kiln.model.project import Project


class MsiOptions(InstallerOptions):
    kind: Literal["msi"] = "msi"
    upgrade_code: str = Field(default_factory=lambda: str(uuid.uuid4()).upper())
    """Identifies the app across versions so new installers replace old ones. Generated once; never change it."""
    scope: Literal["per-user", "per-machine"] = "per-user"
    start_menu_shortcut: bool = True
    desktop_shortcut: bool = False
    signing_certificate: str = ""
    """Code-signing certificate (PEM or .p12/.pfx), relative to the project file. Empty: not signed."""
    signing_key: str = ""
    """PEM private key for the certificate (not needed for .p12/.pfx)."""
    signing_password_env: str = "KILN_SIGNING_PASSWORD"
    """Environment variable holding the key password; the password itself is never stored in this file."""
    add_to_path: bool | None = None
    """Add the install folder to PATH (the user's, or the system's for per-machine installs), so the app's
    command runs in any terminal; removed at uninstall. Empty: yes for console apps, no for GUI apps."""
    utf8_mode: bool = True
    """Run the app in Python's UTF-8 mode: text printed to pipes and files is UTF-8. Turn off only for an app
    that must use the Windows ANSI code page."""

    @field_validator("upgrade_code")
    @classmethod
    def _upgrade_code(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value)).upper()
        except ValueError:
            raise ValueError("must be a GUID like 6F1E0C7A-8F43-4E2B-9C1D-1A2B3C4D5E6F") from None

    @field_validator("signing_certificate", "signing_key")
    @classmethod
    def _signing_path(cls, value: str) -> str:
        from kiln.support.path_text import path_text_problem

        if problem := path_text_problem(value):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _keep_upgrade_code(self) -> MsiOptions:
        # A generated code counts as set so it is written to the file and never regenerated.
        self.model_fields_set.add("upgrade_code")
        return self

    @property
    def platform(self) -> PlatformName:
        return "windows-x86_64"

    def generated_fields(self) -> dict[str, str]:
        return {"upgrade_code": "an MSI upgrade code: keep it, so new versions of the MSI replace old ones"}

    def problems(self, project: Project, base_dir: Path, where: str) -> list[Problem]:
        from kiln.installers.msi.version import msi_product_version

        problems = [
            Problem(f"{where}.{name}", f"file '{value}' does not exist", "fix the path or clear the value")
            for name, value in (("signing_certificate", self.signing_certificate), ("signing_key", self.signing_key))
            if value and not (base_dir / value).is_file()
        ]
        if not project.todo_fields():
            try:
                msi_product_version(project.app.version)
            except KilnError as e:
                problems.append(Problem("app.version", e.message.removeprefix("app.version: "), e.hint))
            problems += name_problems(project.app.name)
        return problems


def name_problems(app_name: str) -> list[Problem]:
    """app.name names the Windows launcher: the rule the build applies to every file of the MSI, applied first."""
    from kiln.installers.msi.names import launcher_name, windows_name_problem

    problem = windows_name_problem(launcher_name(app_name))
    if problem is None:
        return []
    return [Problem("app.name", f"names the Windows launcher '{launcher_name(app_name)}', which Windows cannot "
                    f"create: {problem}", "choose another name, e.g. \"my-app\"")]
