"""The bundled Python follows the app's requires-python: the default when it fits, else the nearest that does."""

from __future__ import annotations

import pytest

from kiln.source.requires_python import DEFAULT, pick_python


@pytest.mark.parametrize(("requires", "picked"), [
    (">=3.9", DEFAULT), ("", DEFAULT), (">=3.11.4", "3.11"), (">=3.12", "3.12"), ("<3.10", "3.9"),
    ("==3.10.*", "3.10"), ("~=3.13.0", "3.13"), (">=3.8,<3.11", "3.10"), ("!=3.11.*", "3.12"),
    (">=4", None), ("<3.8", None), ("three", None),
])
def test_pick_python(requires: str, picked: str | None) -> None:
    assert DEFAULT == "3.11"
    assert pick_python(requires) == picked


def test_another_preferred_version() -> None:
    assert pick_python(">=3.9", preferred="3.13") == "3.13"
    assert pick_python("<3.12", preferred="3.13") == "3.11"
