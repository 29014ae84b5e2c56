"""The Installers page is drawn from the registry: a kind registered from outside shows up with its options,
and its options are checked by the kind's own model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import toy_kind

from kiln.kinds import registry
from kiln.source.detect import detect
from kiln.ui.page_ids import PageId
from kiln.ui.pages.installers import InstallersPage


@pytest.fixture
def toy() -> Iterator[None]:
    registry.register(toy_kind.SPEC)
    yield
    registry.unregister("toy")


def test_page_shows_every_registered_kind(toy: None, driver: Any, hello: Path) -> None:
    driver.wizard.start_new(hello, detect(hello))
    driver.wizard.setStartId(PageId.INSTALLERS)
    driver.wizard.restart()
    page: InstallersPage = driver.page(PageId.INSTALLERS)
    at = driver
    assert list(page.enabled) == [*registry.BUILTIN_KINDS, "toy"]
    assert page.enabled["toy"].text() == toy_kind.SPEC.title
    at.tick(page.enabled["toy"])
    greeting = page.option("toy", "greeting")
    at.type(greeting, " ")
    assert any("write a greeting" in p.message for p in page.checks())
    at.type(greeting, "hi")
    patch = page.patch()
    assert {"kind": "toy", "greeting": "hi"} in patch["installer"]
