"""The bundle's bill of materials (kiln.engine.sbom, kiln.kinds.sbom) on a staged bundle made by hand: what each
distribution's metadata says becomes its component, every file is attributed and hashed, the document validates
against the CycloneDX 1.6 schema, and the same bundle gives the same bytes."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from kit import sbom as sbom_kit

from kiln.engine.payload import drop_install_records, file_owners
from kiln.engine.report import BuildReport
from kiln.engine.sbom import bundle_sbom
from kiln.kinds.contract import StagedApp
from kiln.kinds.sbom import BundleSbom, kiln_part, layout_under
from kiln.model.project import Project
from kiln.support.cyclonedx import license_choices, purl
from kiln.support.targets import TARGETS

MIT_TEXT = "Copyright (c) Somebody\n\nPermission is hereby granted, free of charge, ..."
WHEEL_SHA = {"alpha": "a" * 64, "beta": "b" * 64, "gamma": "c" * 64, "PySide6_Essentials": "d" * 64}
ARCHIVE_SHA = "e" * 64
URL = "https://example.org/cpython-3.11.9+20240726-x86_64-unknown-linux-gnu-install_only.tar.gz"


def dist(packages: Path, name: str, version: str, metadata: str, files: dict[str, bytes]) -> None:
    """An installed distribution as pip leaves it: its files, METADATA and a RECORD listing them."""
    info = packages / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n{metadata}",
                                   encoding="utf-8")
    for relative, data in files.items():
        (packages / relative).parent.mkdir(parents=True, exist_ok=True)
        (packages / relative).write_bytes(data)
    listed = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{p},,\n" for p in listed), encoding="utf-8")


def staged_bundle(root: Path, platform: str = "linux-x86_64") -> StagedApp:
    bundle = root / "bundle"
    site = bundle / "runtime" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (bundle / "runtime" / "bin").mkdir()
    (bundle / "runtime" / "bin" / "python3.11").write_bytes(b"\x7fELF python")
    (bundle / "runtime" / "bin" / "python3").symlink_to("python3.11")  # a link is not a file of its own
    (bundle / "runtime" / "lib" / "python3.11" / "os.pyc").write_bytes(b"os")
    (site / "_kiln_bundle.py").write_text("# Kiln's\n")
    (site / "kiln-bundle.pth").write_text("import _kiln_bundle\n")
    (bundle / "app" / "hello").mkdir(parents=True)
    (bundle / "app" / "hello" / "__init__.pyc").write_bytes(b"app")
    (bundle / "app" / "hello" / "données ☕.txt").write_text("data", encoding="utf-8")
    (bundle / "kiln_boot.py").write_text("# boot\n")
    packages = bundle / "packages"
    dist(packages, "alpha", "1.0", "License-Expression: mit OR Apache-2.0\nHome-page: https://alpha.example\n"
         "Requires-Dist: beta>=1\nRequires-Dist: gamma; sys_platform == 'win32'\n"
         "Requires-Dist: delta; extra == 'fast'\n", {"alpha/__init__.pyc": b"alpha", "alpha/core.so": b"\x7fELF",
                                                      "alpha/données.pyc": b"data"})
    dist(packages, "beta", "2.0+local.1", f"License: {MIT_TEXT.replace(chr(10), chr(10) + '        ')}\n"
         "Classifier: License :: OSI Approved :: MIT License\n", {"beta.pyc": b"beta"})
    (packages / "beta-2.0+local.1.dist-info" / "sboms").mkdir()
    (packages / "beta-2.0+local.1.dist-info" / "sboms" / "beta tool.cdx.json").write_text("{}")
    dist(packages, "gamma", "3", "Classifier: License :: OSI Approved :: BSD License\n"
         "Project-URL: Homepage, https://gamma.example/{docs}|\"x\"\n", {"gamma/__init__.pyc": b"g"})
    dist(packages, "PySide6_Essentials", "6.8.0", "License: LGPL\n", {
        "PySide6/Qt/lib/libQt6Core.so.6": b"core", "PySide6/Qt/lib/libQt6Gui.so.6": b"gui",
        "PySide6/QtCore.abi3.so": b"binding", "PySide6/Qt/plugins/platforms/libqxcb.so": b"xcb"})
    owners = file_owners(packages)  # as staging does, before it drops RECORD
    drop_install_records(packages)
    project = Project.model_validate({
        "app": {"name": "hello", "version": "1.0", "display_name": "Hellö & <Co>", "license": "GPL-3.0-or-later",
                "publisher": "Example & Co", "homepage": "https://hello.example"},
        "entry": {"module": "hello:main"}, "dependencies": {"requirements": ["alpha"]}})
    return StagedApp(bundle, TARGETS[platform], "3.11", project.app, project.entry, None, package_files=owners)


def report_for(staged: StagedApp) -> BuildReport:
    report = BuildReport(project="kiln.toml", kiln_version="0")
    report.runtimes[staged.target.name] = {
        "source": "download python-build-standalone 20240726 CPython 3.11.9", "full_version": "3.11.9",
        "archive": {"name": URL.rsplit("/", 1)[1], "sha256": ARCHIVE_SHA, "url": URL}}
    report.dependencies[staged.target.name] = {"installed": [
        {"name": name, "version": "?", "wheel": f"{name}-x-py3-none-any.whl", "sha256": sha, "built": False,
         "source": "developer-lock", "marker": "sys_platform == 'linux'" if name == "alpha" else "",
         "url": f"https://files.example/{name}-x-py3-none-any.whl"} for name, sha in WHEEL_SHA.items()]}
    return report


def project_of(staged: StagedApp) -> Project:
    return Project.model_validate({"app": staged.app.model_dump(), "entry": staged.entry.model_dump(),
                                   "dependencies": {"requirements": ["alpha"]}})


@pytest.fixture
def staged(tmp_path: Path) -> StagedApp:
    return staged_bundle(tmp_path)


def placed(staged: StagedApp, tmp_path: Path, prefix: str = "top") -> tuple[BundleSbom, dict[str, Any]]:
    bom = bundle_sbom(project_of(staged), tmp_path, staged, report_for(staged))
    launcher = staged.bundle.parent / "launcher"
    launcher.write_bytes(b"#!/bin/sh\n")
    part = kiln_part("kiln-launcher", "Kiln launcher", "starts it", [bom.file(f"{prefix}/hello", launcher)],
                     made_from=("launcher-template", "f" * 64), notes="icon written in")
    inside = tmp_path / "inside.cdx.json"
    bom.place(staged.bundle, layout_under(prefix), inside, paths="the test's folder", extra=[part])
    beside = tmp_path / "beside.cdx.json"
    beside.write_bytes(bom.placed or b"")
    files = sbom_kit.read_tree(staged.bundle, f"{prefix}/") | {f"{prefix}/hello": launcher.read_bytes()}
    document = sbom_kit.check(beside, inside.read_bytes(), files, [prefix],
                              report_for(staged).dependencies[staged.target.name]["installed"])
    return bom, document


def test_every_file_is_attributed_and_hashed(staged: StagedApp, tmp_path: Path) -> None:
    _, document = placed(staged, tmp_path)
    refs = sbom_kit.by_ref(document)

    def names(ref: str) -> set[str]:
        return {c["name"] for c in refs[ref].get("components", []) if c["type"] == "file"}

    assert names("app") == {"top/app/hello/__init__.pyc", "top/app/hello/données ☕.txt"}
    assert names("kiln-boot") == {"top/kiln_boot.py", "top/runtime/lib/python3.11/site-packages/_kiln_bundle.py",
                                  "top/runtime/lib/python3.11/site-packages/kiln-bundle.pth"}
    assert names("runtime") == {"top/runtime/bin/python3.11", "top/runtime/lib/python3.11/os.pyc"}
    assert names("dist:alpha") == {"top/packages/alpha/__init__.pyc", "top/packages/alpha/core.so",
                                   "top/packages/alpha/données.pyc", "top/packages/alpha-1.0.dist-info/METADATA"}
    assert "top/packages/beta-2.0+local.1.dist-info/sboms/beta tool.cdx.json" in names("dist:beta")
    assert names("kiln-launcher") == {"top/hello"}
    # The Qt libraries a binding ships are components of their own inside it; the rest stays the binding's.
    assert names("dist:pyside6-essentials#Qt6Core") == {"top/packages/PySide6/Qt/lib/libQt6Core.so.6"}
    assert names("dist:pyside6-essentials") == {"top/packages/PySide6/QtCore.abi3.so",
                                                "top/packages/PySide6/Qt/plugins/platforms/libqxcb.so",
                                                "top/packages/PySide6_Essentials-6.8.0.dist-info/METADATA"}
    assert document["metadata"]["properties"][-1] == {"name": "kiln:paths", "value": "the test's folder"}


def test_a_file_renamed_to_its_decomposed_name_keeps_its_owner(staged: StagedApp, tmp_path: Path) -> None:
    """The DMG gives every file its HFS+ (decomposed) name before it places the SBOM."""
    composed = staged.packages_dir / "alpha" / "données.pyc"
    composed.rename(composed.with_name(unicodedata.normalize("NFD", composed.name)))
    _, document = placed(staged, tmp_path)
    alpha = {c["name"] for c in sbom_kit.by_ref(document)["dist:alpha"]["components"]}
    assert unicodedata.normalize("NFD", "top/packages/alpha/données.pyc") in alpha


def test_what_the_metadata_says_becomes_the_component(staged: StagedApp, tmp_path: Path) -> None:
    _, document = placed(staged, tmp_path)
    refs = sbom_kit.by_ref(document)
    alpha, beta, gamma = refs["dist:alpha"], refs["dist:beta"], refs["dist:gamma"]
    assert alpha["licenses"] == [{"expression": "MIT OR Apache-2.0"}]  # canonical SPDX
    assert alpha["purl"] == "pkg:pypi/alpha@1.0?file_name=alpha-x-py3-none-any.whl"
    assert alpha["hashes"] == [{"alg": "SHA-256", "content": WHEEL_SHA["alpha"]}]
    assert alpha["externalReferences"] == [
        {"type": "distribution", "url": "https://files.example/alpha-x-py3-none-any.whl",
         "hashes": [{"alg": "SHA-256", "content": WHEEL_SHA["alpha"]}]},
        {"type": "website", "url": "https://alpha.example"}]
    assert alpha["properties"] == [{"name": "kiln:marker", "value": "sys_platform == 'linux'"}]
    assert beta["licenses"] == [{"license": {"name": "Copyright (c) Somebody", "text": {"content": MIT_TEXT}}}]
    assert beta["purl"].startswith("pkg:pypi/beta@2.0%2Blocal.1?")
    (own,) = [r for r in beta["externalReferences"] if r["type"] == "bom"]  # PEP 770: named where it ships
    assert own["url"] == "top/packages/beta-2.0%2Blocal.1.dist-info/sboms/beta%20tool.cdx.json"
    assert own["hashes"][0]["content"] == sbom_kit.listed_files(document)[
        "top/packages/beta-2.0+local.1.dist-info/sboms/beta tool.cdx.json"]
    assert gamma["licenses"] == [{"license": {"name": "BSD License"}}]
    assert gamma["externalReferences"][1] == (  # what an IRI cannot hold, encoded (the schema checks the format)
        {"type": "website", "url": "https://gamma.example/%7Bdocs%7D%7C%22x%22"})
    qt = refs["dist:pyside6-essentials#Qt6Core"]
    assert (qt["name"], qt["version"], qt["cpe"]) == ("Qt6Core", "6.8.0", "cpe:2.3:a:qt:qt:6.8.0:*:*:*:*:*:*:*")
    assert qt["licenses"] == [{"license": {"name": "LGPL"}}]  # the wheel's words: "LGPL" is no SPDX identifier
    app = document["metadata"]["component"]
    assert (app["name"], app["version"], app["publisher"]) == ("hello", "1.0", "Example & Co")
    assert app["licenses"] == [{"expression": "GPL-3.0-or-later"}]
    launcher = refs["kiln-launcher"]
    assert launcher["pedigree"] == {"ancestors": [{"type": "application", "name": "launcher-template",
                                                   "version": launcher["version"],
                                                   "hashes": [{"alg": "SHA-256", "content": "f" * 64}]}],
                                    "notes": "icon written in"}


def test_the_runtime_says_where_it_came_from(staged: StagedApp, tmp_path: Path) -> None:
    _, document = placed(staged, tmp_path)
    runtime = sbom_kit.by_ref(document)["runtime"]
    assert (runtime["version"], runtime["cpe"]) == ("3.11.9", "cpe:2.3:a:python:python:3.11.9:*:*:*:*:*:*:*")
    assert runtime["hashes"] == [{"alg": "SHA-256", "content": ARCHIVE_SHA}]
    (download,) = runtime["externalReferences"]
    assert (download["type"], download["url"], download["hashes"][0]["content"]) == ("distribution", URL, ARCHIVE_SHA)
    assert runtime["purl"] == purl("generic", "cpython", "3.11.9", {"download_url": URL,
                                                                    "checksum": f"sha256:{ARCHIVE_SHA}"})


def test_the_dependency_graph_follows_requires_dist_for_the_target(tmp_path: Path) -> None:
    for platform, gamma in (("linux-x86_64", False), ("windows-x86_64", True)):
        staged = staged_bundle(tmp_path / platform, platform)
        _, document = placed(staged, tmp_path / platform)
        graph = {d["ref"]: d["dependsOn"] for d in document["dependencies"]}
        assert graph["app"] == ["dist:alpha", "kiln-boot", "kiln-launcher", "runtime"]
        assert graph["dist:alpha"] == (["dist:beta", "dist:gamma"] if gamma else ["dist:beta"]), platform
        refs = set(graph) | {r for targets in graph.values() for r in targets}
        assert refs <= set(sbom_kit.by_ref(document)), "every reference names a component"


def test_same_bundle_same_bytes_and_no_timestamp(staged: StagedApp, tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first, document = placed(staged, tmp_path / "one")
    second, _ = placed(staged, tmp_path / "two")
    assert first.placed == second.placed
    assert "timestamp" not in json.dumps(document["metadata"])
    (staged.bundle / "app" / "hello" / "__init__.pyc").write_bytes(b"changed")
    changed, again = placed(staged, tmp_path / "two")
    assert changed.placed != first.placed and again["serialNumber"] != document["serialNumber"]


def test_the_apps_own_wheel_belongs_to_the_app(staged: StagedApp, tmp_path: Path) -> None:
    report = report_for(staged)
    for entry in report.dependencies[staged.target.name]["installed"]:
        entry["built"] = entry["name"] == "alpha"  # as if alpha were the app, built from the project folder
    bom = bundle_sbom(project_of(staged), tmp_path, staged, report)
    document = sbom_kit.validate(bom.place(staged.bundle, layout_under(""), None, paths="the bundle"))
    refs = sbom_kit.by_ref(document)
    assert "dist:alpha" not in refs
    assert "packages/alpha/core.so" in {c["name"] for c in refs["app"]["components"]}
    graph = {d["ref"]: d["dependsOn"] for d in document["dependencies"]}
    assert graph["app"] == ["dist:beta", "kiln-boot", "runtime"]  # alpha's own Requires-Dist, for this target


@pytest.mark.parametrize(("expression", "text", "classifiers", "expected"), [
    pytest.param("Apache-2.0", "", [], [{"expression": "Apache-2.0"}], id="expression"),
    pytest.param("", "bsd-3-clause", [], [{"expression": "BSD-3-Clause"}], id="license-field-is-spdx"),
    pytest.param("", "BSD-like", ["License :: OSI Approved :: BSD License"], [{"license": {"name": "BSD-like"}}],
                 id="named"),
    pytest.param("", "UNKNOWN", ["License :: OSI Approved :: MIT License"], [{"license": {"name": "MIT License"}}],
                 id="classifier"),
    pytest.param("", "", [], [], id="nothing-declared"),
])
def test_license_choices(expression: str, text: str, classifiers: list[str], expected: list[dict[str, Any]]) -> None:
    assert license_choices(expression, text, classifiers) == expected
