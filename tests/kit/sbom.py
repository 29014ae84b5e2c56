"""Reading an artifact's SBOM back: validated against the CycloneDX 1.6 schema by cyclonedx-python-lib (a reader
independent of Kiln's writer), and every file it lists hashed from the files read out of the artifact."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL
from packaging.utils import canonicalize_name, canonicalize_version


def validate(data: bytes) -> dict[str, Any]:
    """The document, after the official schema (with its formats: IRIs, purls' shape) accepted it."""
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode("utf-8"))
    assert error is None, str(error)[:2000]
    document: dict[str, Any] = json.loads(data)
    return document


def walk(components: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for component in components:
        yield component
        yield from walk(component.get("components", []))


def all_components(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(walk([document["metadata"]["component"], *document["components"]]))


def listed_files(document: dict[str, Any]) -> dict[str, str]:
    """Every file component: its name (a path in the artifact) -> its sha256; no name twice."""
    files = [c for c in all_components(document) if c["type"] == "file"]
    named = {c["name"]: c["hashes"][0]["content"] for c in files}
    assert len(named) == len(files), "a file is listed twice"
    return named


def by_ref(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in all_components(document) if "bom-ref" in c}


def check(beside: Path, inside: bytes | None, files: Mapping[str, bytes], bundle: Sequence[str],
          installed: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """An artifact's SBOM against what the artifact holds (`files`: path in the artifact -> bytes).

    The copy inside the artifact is the document beside it; it validates; every file it names is in the artifact
    with that sha256; every file below the bundle's folders (`bundle`: prefixes in the artifact) is named; there
    is a runtime, and one component per distribution the bundle ships (its .dist-info) with a pypi purl, version
    and the wheel's sha256 from the report's `installed` entries (the app's own wheel excepted).
    """
    data = beside.read_bytes()
    if inside is not None:
        assert inside == data, "the SBOM inside the artifact is not the one beside it"
    document = validate(data)
    named = listed_files(document)
    shipped = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    differ = {n: h for n, h in named.items() if shipped.get(n) != h}
    assert differ == {}, f"listed files differ from the artifact's: {sorted(differ)[:5]}"
    below = {n for n in shipped if any(n == p or n.startswith(p + "/") for p in bundle)}
    assert below - set(named) == set(), "files of the bundle the SBOM does not name"
    refs = by_ref(document)
    runtime = refs["runtime"]
    assert runtime["type"] == "platform" and runtime["name"] == "CPython" and runtime["version"]
    assert [c for c in runtime.get("components", []) if c["type"] == "file"], "the runtime lists no files"
    wheels = {_canonical(e["name"]): e for e in installed}
    # The distributions installed into packages/ (not the ones a package vendors deeper down, e.g. setuptools').
    dist_infos = {n.split("/")[-2] for n in shipped if n.endswith(".dist-info/METADATA") and
                  n.split("/")[-3:-2] == ["packages"] and any(n.startswith(p + "/") for p in bundle)}
    for dist_info in dist_infos:
        name, version = dist_info.removesuffix(".dist-info").split("-")[:2]
        entry = wheels.get(_canonical(name), {})
        if entry.get("built"):  # the app's own wheel: its files are the app's
            continue
        component = refs[f"dist:{_canonical(name)}"]
        purl = PackageURL.from_string(component["purl"])
        assert (purl.type, purl.name, purl.version) == ("pypi", _canonical(name), component["version"]), purl
        assert canonicalize_version(component["version"]) == canonicalize_version(version)
        assert PackageURL.from_string(component["purl"]).to_string() == component["purl"], "not canonically encoded"
        if entry:
            assert component["hashes"] == [{"alg": "SHA-256", "content": entry["sha256"]}]
        assert any(c["type"] == "file" for c in component.get("components", [])), f"{name} lists no files"
    return document


def _canonical(name: str) -> str:
    return str(canonicalize_name(name))


def read_tree(root: Path, prefix: str = "") -> dict[str, bytes]:
    """Every regular file below `root` (symbolic links left out): `prefix` + relative path -> bytes."""
    return {prefix + p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}
