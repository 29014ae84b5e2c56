"""Which runtime source serves a project: the host interpreter only where it fits, downloads otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

from kiln.engine.staging import runtime_provider
from kiln.model.project import AppSection, EntrySection, Project, PythonSection
from kiln.runtimes.host import HostRuntimeProvider
from kiln.runtimes.select import AutoRuntimeProvider

HOST = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER = "3.12" if HOST != "3.12" else "3.13"


def _project(version: str, source: str) -> Project:
    return Project(app=AppSection(name="a"), entry=EntrySection(module="a"),
                   python=PythonSection(version=version, source=source))


def test_auto_uses_the_host_for_linux_only_when_the_versions_match(tmp_path: Path) -> None:
    same = runtime_provider(_project(HOST, "auto"), tmp_path)
    assert isinstance(same, AutoRuntimeProvider) and same.host_platforms == ("linux-x86_64",)
    other = runtime_provider(_project(OTHER, "auto"), tmp_path)
    assert isinstance(other, AutoRuntimeProvider) and other.host_platforms == ()


def test_host_is_the_host_provider(tmp_path: Path) -> None:
    assert isinstance(runtime_provider(_project(HOST, "host"), tmp_path), HostRuntimeProvider)
