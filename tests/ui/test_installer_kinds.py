"""The Installers page is drawn from the registry: a kind registered from outside shows up with its options,
and its options are checked by the kind's own model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kit import toy_kind
from kit.projects import example_data, write_project

from kiln.kinds import registry
from kiln.source.detect import detect
from kiln.ui.page_ids import PageId
from kiln.ui.pages.installers import InstallersPage


@pytest.fixture
def toy() -> Iterator[None]:
    registry.load("kit.toy_kind")  # the one line a kind from outside Kiln needs
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


def test_build_page_runs_the_artifact_of_a_kind_that_runs_here(toy: None, driver: Any, hello: Path) -> None:
    """The Build page names no kind: Run takes the first built kind that runs here, through the kind's own hook."""
    project = write_project(hello, {**example_data("hello"), "installer": [{"kind": "toy"}]})
    artifact = hello / "dist" / "hello-1.0.0-linux-x86_64.toy.txt"
    artifact.parent.mkdir()
    artifact.write_text("hi from the toy\nkiln_boot.py\n", encoding="utf-8")
    outcome = {"kind": "toy", "platform": "linux-x86_64", "status": "ok", "artifact": str(artifact)}
    report = {"status": "ok", "installers": [outcome],
              "artifacts": [{"kind": "toy", "path": str(artifact), "size": artifact.stat().st_size, "sha256": "0"}]}
    (hello / "dist" / "hello-report.json").write_text(json.dumps(report), encoding="utf-8")
    driver.open_project(project)
    driver.go_to(PageId.BUILD)
    page = driver.page(PageId.BUILD)
    runnable = page.runnable()
    assert (runnable.kind, runnable.path) == ("toy", artifact)
    row = page.results.row_for("toy")
    assert row.run_button.isVisible() and row.run_button.isEnabled()
    driver.click(row.run_button)
    driver.qtbot.waitUntil(lambda: "— the app exited with code 0 —" in page.run_output.toPlainText())
    assert "hi from the toy" in page.run_output.toPlainText()
