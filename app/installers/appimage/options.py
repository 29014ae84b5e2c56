"""The `[[installer]]` table of kind = "appimage"."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from kiln.kinds.options import InstallerOptions
from kiln.support.errors import Problem
from kiln.support.targets import PlatformName

if TYPE_CHECKING:
    from kiln.model.project import Project


class AppImageOptions(InstallerOptions):
    kind: Literal["appimage"] = "appimage"
    categories: list[str] = Field(default_factory=lambda: ["Utility"])
    """freedesktop.org menu categories: at least one main category (Utility, Development, Office…), and additional
    ones with a related main category (Office; WordProcessor, Utility; TextEditor)."""
    terminal: bool | None = None
    """Open a terminal when started from a menu. Empty: yes for console apps, no for GUI apps."""
    update_url: str = ""
    """Folder (http/https URL) where new versions are published: the AppImage says it updates from
    `zsync|<update_url><file name>.zsync`, and the build writes that .zsync beside it. Empty: no updates."""
    update_information: str = ""
    """Update information written verbatim instead of the one update_url makes, e.g.
    "gh-releases-zsync|user|repo|latest|App-*x86_64.AppImage.zsync"."""
    start_cache: bool = True
    """After the first start, keep an extracted copy of the app in the user's cache folder
    (~/.cache/kiln-appimage) and start from it, as fast as an installed app; copies unused for 30 days are
    removed. Off: every start mounts the AppImage (slower: about 1.5-2x for a console app)."""

    @field_validator("update_url")
    @classmethod
    def _update_url(cls, value: str) -> str:
        from kiln.installers.appimage.update import check_update_url

        return check_update_url(value)

    @field_validator("update_information")
    @classmethod
    def _update_information(cls, value: str) -> str:
        from kiln.installers.appimage.update import check_update_information

        return check_update_information(value)

    @model_validator(mode="after")
    def _one_update_source(self) -> AppImageOptions:
        if self.update_url and self.update_information:
            raise ValueError("set update_url or update_information, not both (update_information wins otherwise)")
        return self

    @field_validator("categories")
    @classmethod
    def _some_category(cls, value: list[str]) -> list[str]:
        from kiln.installers.appimage.categories import normalize_categories

        if not value:
            raise ValueError("enter at least one menu category, e.g. Utility")
        normalize_categories(value)  # raises ValueError naming the accepted categories
        if any(c != c.strip() for c in value):
            raise ValueError("a category has spaces around it; write it as e.g. \"Utility\"")
        return value

    @property
    def platform(self) -> PlatformName:
        return "linux-x86_64"

    def problems(self, project: Project, base_dir: Path, where: str) -> list[Problem]:
        from kiln.installers.appimage.desktop_entry import icon_name_problem

        problem = None if project.todo_fields() else icon_name_problem(project.app.name)
        if problem is None:
            return []
        return [Problem("app.name", problem, "leave the ending out, e.g. name = \"my-app\"")]
