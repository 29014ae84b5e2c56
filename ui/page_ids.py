"""The wizard's pages, in order: their ids are also the QWizard page ids."""

from __future__ import annotations

from enum import IntEnum


class PageId(IntEnum):
    START = 0
    APPLICATION = 1
    ENTRY = 2
    DEPENDENCIES = 3
    ICON = 4
    INSTALLERS = 5
    BUILD = 6

    @property
    def label(self) -> str:
        """The page's name as the user sees it in messages."""
        return self.name.capitalize()
