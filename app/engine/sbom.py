"""The bill of materials of a staged bundle (CycloneDX 1.6): what each installer kind places in its artifact.

Made once per target, after staging, from the bundle itself and the build report:
- the app (the document's subject), with its own files (app/, and its wheel's files when it is a distribution);
- the Python runtime: CPython's version, where it came from (the archive's name, URL and sha256), its files;
- every distribution in packages/: name, version, purl, licence from its METADATA, the sha256 of the wheel it was
  installed from (the report's `dependencies`), its files, and the SBOMs it carries itself (PEP 770:
  `.dist-info/sboms/`) as references; the Qt libraries a Qt binding ships, kept after pruning, as components of it;
- Kiln's boot code; the kinds add their launchers (kiln.kinds.sbom).
The dependency graph follows each distribution's Requires-Dist, evaluated for the target.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.metadata import RawMetadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from kiln import __version__
from kiln.engine.dependencies import read_requirements
from kiln.engine.payload import BUNDLE_SITE_MODULE
from kiln.engine.report import BuildReport
from kiln.kinds.contract import StagedApp
from kiln.kinds.sbom import BundleSbom
from kiln.model.project import Project
from kiln.support.cyclonedx import Component, ExternalReference, license_choices, purl
from kiln.support.errors import KilnError
from kiln.support.hashing import file_sha256
from kiln.support.targets import Target

APP_REF, RUNTIME_REF, BOOT_REF = "app", "runtime", "kiln-boot"
_BOOT_FILES = {f"{BUNDLE_SITE_MODULE}.py", "kiln-bundle.pth"}
"""What Kiln adds to the runtime's site-packages (kiln.engine.payload.write_bundle_site)."""
# A Qt library as each platform's wheels ship it: libQt6Core.so.6, Qt6Core.dll, QtCore.framework/Versions/A/QtCore.
_QT_LIBRARY = re.compile(r"(?:^|/)(?:lib(Qt6\w+)\.so[.\d]*|(Qt6\w+)\.dll|(Qt\w+)\.framework/(?:Versions/\w+/)?\3)$")
_MARKER_PLATFORMS = {"linux": ("linux", "Linux", "posix"), "windows": ("win32", "Windows", "nt"),
                     "macos": ("darwin", "Darwin", "posix")}


@dataclass
class _Distribution:
    owner: str
    """The name part of its .dist-info folder: the key of kiln.engine.payload.file_owners."""
    folder: str
    metadata: RawMetadata

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.metadata.get("name", self.owner))


def bundle_sbom(project: Project, base_dir: Path, staged: StagedApp, report: BuildReport) -> BundleSbom:
    """The bundle's bill of materials, ready for each installer of its target to place."""
    target = staged.target
    runtime_info = report.runtimes.get(target.name, {})
    installed = {canonicalize_name(str(e["name"])): e for e in
                 report.dependencies.get(target.name, {}).get("installed", [])}
    distributions = _read_distributions(staged.packages_dir)
    own = {d.name for d in distributions if installed.get(d.name, {}).get("built")}
    subject = _subject(project, next((d for d in distributions if d.name in own), None))
    runtime = _runtime(runtime_info)
    boot = Component("library", "kiln-boot", __version__, bom_ref=BOOT_REF, licenses=[{"expression": "MIT"}],
                     description="Kiln's boot code: runs the app's entry point (kiln_boot.py) and puts the bundle's "
                                 "folders on sys.path for every start of its Python (_kiln_bundle.py, kiln-bundle.pth)")
    libraries = [_library(d, installed.get(d.name, {}), staged) for d in distributions if d.name not in own]
    refs = {d.owner: (APP_REF if d.name in own else _ref(d)) for d in distributions}
    qt_refs = {f"packages/{path}": f"{refs.get(owner, APP_REF)}#{match}" for path, owner in staged.package_files.items()
               if (match := _qt_library(path))}
    _link(subject, libraries, distributions, own, _direct(project, base_dir), staged, runtime_info)

    composed = {unicodedata.normalize("NFC", path): owner for path, owner in staged.package_files.items()}

    def attribute(relative: str) -> str:
        top, _, rest = relative.partition("/")
        if top == "packages":  # a kind may have renamed files since staging (the DMG: decomposed HFS+ names)
            owner = staged.package_files.get(rest) or composed.get(unicodedata.normalize("NFC", rest), "")
            return qt_refs.get(relative) or refs.get(owner, APP_REF)
        if top == "runtime":
            return BOOT_REF if rest.rsplit("/", 1)[-1] in _BOOT_FILES and "site-packages/" in rest else RUNTIME_REF
        return BOOT_REF if relative == "kiln_boot.py" else APP_REF

    properties = [("kiln:target", target.name), ("kiln:python", runtime_info.get("full_version", ""))]
    return BundleSbom(subject, [runtime, boot, *sorted(libraries, key=lambda c: c.name.lower())], attribute,
                      __version__, properties)


def _read_distributions(packages: Path) -> list[_Distribution]:
    found = []
    for folder in sorted(packages.glob("*.dist-info")):
        try:
            raw, _unparsed = parse_email((folder / "METADATA").read_bytes())
        except OSError as e:
            raise KilnError(f"cannot read {folder.name}/METADATA in the bundle ({e.strerror})",
                            hint="see the build log; `kiln cache clean` and build again") from None
        found.append(_Distribution(folder.name.split("-")[0], folder.name, raw))
    return found


def _subject(project: Project, wheel: _Distribution | None) -> Component:
    """The app: the project's own words first, its wheel's metadata where the project says nothing."""
    app = project.app
    metadata: RawMetadata = wheel.metadata if wheel else {}
    licenses = license_choices(text=app.license) if app.license else _licenses(metadata)
    homepage = app.homepage or _homepage(metadata)
    return Component("application", app.name, app.version, bom_ref=APP_REF, publisher=app.publisher,
                     description=app.description or str(metadata.get("summary", "")), licenses=licenses,
                     references=[ExternalReference("website", homepage)] if _is_url(homepage) else [],
                     properties=[("kiln:title", app.title)])


def _runtime(info: dict[str, Any]) -> Component:
    version = str(info.get("full_version", ""))
    archive: dict[str, str] = info.get("archive") or {}
    sha256, url, name = archive.get("sha256", ""), archive.get("url", ""), archive.get("name", "")
    source = str(info.get("source", ""))
    if source.startswith("host "):  # the path of the build machine's Python is not the user's business
        source = "host: relocated from the CPython that ran Kiln"
    references = [ExternalReference("distribution", url, sha256, f"the archive {name}")] if url else []
    properties = [("kiln:runtime-source", source)] + ([("kiln:runtime-archive", name)] if name else [])
    return Component(
        "platform", "CPython", version, bom_ref=RUNTIME_REF, description=f"The Python runtime ({source})",
        publisher="Python Software Foundation", licenses=[{"expression": "Python-2.0"}],
        cpe=f"cpe:2.3:a:python:python:{version}:*:*:*:*:*:*:*" if version else "",
        purl=purl("generic", "cpython", version, {"download_url": url, "checksum": f"sha256:{sha256}" if sha256
                                                   else ""}),
        sha256=sha256, references=references, properties=properties)


def _ref(distribution: _Distribution) -> str:
    return f"dist:{distribution.name}"


def _library(distribution: _Distribution, installed: dict[str, Any], staged: StagedApp) -> Component:
    metadata = distribution.metadata
    version = str(metadata.get("version", ""))
    wheel = str(installed.get("wheel", ""))
    references = []
    if installed.get("url"):
        references.append(ExternalReference("distribution", str(installed["url"]), str(installed.get("sha256", ""))))
    homepage = _homepage(metadata)
    if _is_url(homepage):
        references.append(ExternalReference("website", homepage))
    for sbom in sorted((staged.packages_dir / distribution.folder / "sboms").rglob("*")):
        if sbom.is_file() and not sbom.is_symlink():
            relative = sbom.relative_to(staged.bundle).as_posix()
            references.append(ExternalReference("bom", quote(relative), file_sha256(sbom),
                                                "an SBOM this distribution carries (PEP 770)"))
    ref = _ref(distribution)
    # The marker that chose it for this target. (Where the version came from is the report's: a rebuild from the
    # lock the first build wrote says "kiln-lock" where that one said "resolved", for the same bytes.)
    properties = [("kiln:marker", str(installed["marker"]))] if installed.get("marker") else []
    qt = sorted({m for path, owner in staged.package_files.items() if owner == distribution.owner
                 and (m := _qt_library(path))})
    return Component(
        "library", str(metadata.get("name", distribution.owner)), version, bom_ref=ref,
        description=str(metadata.get("summary", "")), licenses=_licenses(metadata),
        purl=purl("pypi", distribution.name, version, {"file_name": wheel}),
        sha256=str(installed.get("sha256", "")), references=references, properties=properties,
        components=[_qt_component(name, version, ref, metadata) for name in qt])


def _qt_library(path: str) -> str:
    match = _QT_LIBRARY.search(path)
    return next((g for g in match.groups() if g), "") if match else ""


def _qt_component(name: str, version: str, owner_ref: str, metadata: RawMetadata) -> Component:
    """A Qt library a binding's wheel ships (kept by pruning): Qt's own version is the binding's (PySide6 and the
    PyQt6-Qt6 wheels follow Qt's releases), its licence the wheel's."""
    return Component("library", name, version, bom_ref=f"{owner_ref}#{name}", publisher="The Qt Company",
                     description=f"Qt library, as the {metadata.get('name', '')} wheel ships it",
                     licenses=_licenses(metadata), cpe=f"cpe:2.3:a:qt:qt:{version}:*:*:*:*:*:*:*")


def _licenses(metadata: RawMetadata) -> list[dict[str, Any]]:
    return license_choices(str(metadata.get("license_expression", "")), str(metadata.get("license", "")),
                           list(metadata.get("classifiers", [])))


def _homepage(metadata: RawMetadata) -> str:
    urls = {k.lower().replace(" ", "").replace("-", ""): v for k, v in (metadata.get("project_urls") or {}).items()}
    return str(metadata.get("home_page") or urls.get("homepage") or "")


def _is_url(text: str) -> bool:
    return bool(re.fullmatch(r"https?://\S+", text))


# -- the dependency graph -------------------------------------------------------------------------------------


def _direct(project: Project, base_dir: Path) -> list[Requirement]:
    """What the project itself asks for ([dependencies]); the app's wheel adds its own Requires-Dist."""
    found = []
    for text in read_requirements(project.dependencies, base_dir):
        try:
            found.append(Requirement(text))
        except InvalidRequirement:
            continue
    return found


def _link(subject: Component, libraries: list[Component], distributions: list[_Distribution],
          own: set[NormalizedName], direct: list[Requirement], staged: StagedApp, runtime_info: dict[str, Any]) -> None:
    """Fill `depends_on`: the app needs the runtime, Kiln's boot code and what it requires; each distribution what
    its Requires-Dist names for this target (markers evaluated; extras only when the extra's package shipped)."""
    shipped = {d.name: _ref(d) for d in distributions if d.name not in own}
    environment = _marker_environment(staged.target, str(runtime_info.get("full_version", "")) or
                                      staged.python_version)
    by_ref = {c.bom_ref: c for c in libraries}
    subject.depends_on += [RUNTIME_REF, BOOT_REF]
    for distribution in distributions:
        requirements = _requires(distribution.metadata)
        if distribution.name in own:
            component, requirements = subject, [*requirements, *direct]
        else:
            component = by_ref[_ref(distribution)]
        component.depends_on += [shipped[canonicalize_name(r.name)] for r in requirements
                                 if canonicalize_name(r.name) in shipped and _applies(r, environment)]
    if not own:
        subject.depends_on += [shipped[canonicalize_name(r.name)] for r in direct
                               if canonicalize_name(r.name) in shipped and _applies(r, environment)]


def _requires(metadata: RawMetadata) -> list[Requirement]:
    found = []
    for text in metadata.get("requires_dist", []):
        try:
            found.append(Requirement(text))
        except InvalidRequirement:
            continue
    return found


def _marker_environment(target: Target, python: str) -> dict[str, str]:
    sys_platform, system, os_name = _MARKER_PLATFORMS[target.os]
    machine = {("windows", "x86_64"): "AMD64"}.get((target.os, target.arch), target.arch)
    return {"sys_platform": sys_platform, "platform_system": system, "os_name": os_name, "platform_machine": machine,
            "python_version": ".".join(python.split(".")[:2]), "python_full_version": python,
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "platform_release": "", "platform_version": "", "implementation_version": python}


def _applies(requirement: Requirement, environment: dict[str, str]) -> bool:
    """Whether a requirement holds on the target; one behind an extra is kept (its package shipped, so something
    asked for the extra), as is one whose marker cannot be decided."""
    if requirement.marker is None:
        return True
    try:
        return requirement.marker.evaluate({**environment, "extra": ""}) or "extra" in str(requirement.marker)
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return True
