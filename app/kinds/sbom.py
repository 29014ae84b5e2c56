"""The bill of materials of one staged bundle, for each installer kind to place in its artifact.

The engine makes one per target (kiln.engine.sbom): what the bundle holds, by component (the runtime, Kiln's boot
code, every distribution, the Qt libraries), and which component each of the bundle's files belongs to. An
installer calls `place` once, when its tree is final: with where the bundle's parts sit in its artifact, the folder
to read them from (the files that really ship: after signing or thinning), where the document goes inside the
artifact, and its own components (launchers). `place` hashes every file, names it by its path in the artifact, and
writes the document; the engine puts the same bytes beside the artifact (`<artifact>.cdx.json`).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from kiln import __version__
from kiln.support.atomic import atomic_write_bytes
from kiln.support.cyclonedx import Component, Document, FileEntry
from kiln.support.hashing import file_sha256

BUNDLE_PARTS = ("runtime", "packages", "app", "kiln_boot.py")
"""The staged bundle's top-level entries (kiln.kinds.contract.StagedApp)."""
FILE_NAME = "sbom.cdx.json"
"""The document's name inside every artifact."""


def layout_under(prefix: str) -> dict[str, str]:
    """Each bundle part at `prefix/<part>` in the artifact (the whole bundle in one folder); "" for the top."""
    return {part: f"{prefix}/{part}" if prefix else part for part in BUNDLE_PARTS}


def kiln_part(ref: str, name: str, description: str, files: Sequence[FileEntry] = (), *, sha256: str = "",
              made_from: tuple[str, str] | None = None, notes: str = "") -> Component:
    """One of Kiln's own parts in an artifact (a launcher, the AppImage runtime): `made_from` is the (name, sha256) of
    the prebuilt file Kiln ships, when the artifact holds a changed copy of it (icon and version resources written
    in, sections filled), and `notes` says what changed."""
    ancestors = [Component("application", made_from[0], __version__, sha256=made_from[1])] if made_from else []
    return Component("application", name, __version__, bom_ref=ref, description=description, sha256=sha256,
                     licenses=[{"expression": "MIT"}], files=list(files), ancestors=ancestors, pedigree_notes=notes)


class BundleSbom:
    """What one bundle holds; `place` turns it into the CycloneDX document of one artifact."""

    def __init__(self, subject: Component, components: list[Component], attribute: Callable[[str], str],
                 tool_version: str, properties: Sequence[tuple[str, str]] = ()) -> None:
        self._subject, self._components = subject, components
        self._attribute = attribute  # a bundle-relative file path -> the bom-ref of the component it belongs to
        self._tool_version = tool_version
        self._properties = list(properties)
        self._hashes: dict[tuple[int, int, int, int], str] = {}
        self.placed: bytes | None = None
        """The last document `place` wrote (the engine publishes it beside the artifact)."""

    def for_artifact(self) -> BundleSbom:
        """A fresh copy for one installer (nothing placed yet), sharing the hashes already computed."""
        fresh = copy.copy(self)
        fresh.placed = None
        return fresh

    def sha256(self, path: Path) -> str:
        """A file's sha256, computed once for all the kinds of a target (their trees link the same files)."""
        info = path.stat()
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = file_sha256(path)
        return self._hashes[key]

    def file(self, name: str, path: Path) -> FileEntry:
        """A file of a kind's own component: `name` in the artifact, hashed from `path`."""
        return FileEntry(name, self.sha256(path))

    def place(self, source: Path, layout: Mapping[str, str], inside: Path | None, *, paths: str,
              extra: Sequence[Component] = ()) -> bytes:
        """Write the artifact's document to `inside` (None: only beside it) and return its bytes.

        `source` holds the bundle's parts as the artifact ships them; `layout` maps each part to its path in the
        artifact (parts left out are not in this artifact); `paths` says what file names are relative to (for the
        reader: "the AppImage's root", "the install folder"); `extra` are the kind's own components.
        """
        subject, components = copy.deepcopy(self._subject), copy.deepcopy(self._components)
        extra = copy.deepcopy(list(extra))
        by_ref = {c.bom_ref: c for top in [subject, *components, *extra] for c in top.walk() if c.bom_ref}
        for part, where in layout.items():
            for relative, path in _files(source, part):
                owner = by_ref.get(self._attribute(relative), subject)
                owner.files.append(FileEntry(where + relative[len(part):], self.sha256(path)))
        for component in by_ref.values():  # a distribution's own SBOM (PEP 770): named by its path in the artifact
            component.references = [replace(r, url=_relocate(r.url, layout)) if r.type == "bom" else r
                                    for r in component.references]
        subject.depends_on += [c.bom_ref for c in extra if c.bom_ref]
        document = Document(subject, [*components, *extra], self._tool_version,
                            [*self._properties, ("kiln:paths", paths)])
        data = document.render()
        if inside is not None:
            atomic_write_bytes(inside, data, mode=0o644)
        self.placed = data
        return data


def _relocate(url: str, layout: Mapping[str, str]) -> str:
    """A bundle-relative reference (packages/…) as the path in the artifact."""
    part, _, rest = url.partition("/")
    return f"{quote(layout[part], safe='/')}/{rest}" if part in layout and rest else url


def _files(source: Path, part: str) -> list[tuple[str, Path]]:
    """(bundle-relative path, file) of every regular file of one part; symbolic links are not files of their own."""
    root = source / part
    if root.is_symlink():
        return []
    if root.is_file():
        return [(part, root)]
    found = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder, name)
            if not path.is_symlink() and path.is_file():
                found.append((path.relative_to(source).as_posix(), path))
    return found
