"""A script's inline metadata (PEP 723): the `# /// script` comment block with its dependencies and requires-python.

The block is TOML in comments; uv and pip run such scripts, and the developer's declarations there are what the
script needs. Read as text, never imported.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

# The reference expression of PEP 723 (https://peps.python.org/pep-0723/#reference-implementation).
_BLOCK_RE = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
MAX_BYTES = 1 << 20
"""A script larger than this is not read for metadata (a generated file, not a beginner's script)."""


@dataclass
class InlineMetadata:
    """What a script's `# /// script` block declares."""

    dependencies: list[str] = field(default_factory=list)
    requires_python: str = ""
    problems: list[str] = field(default_factory=list)
    """What could not be used, for the user to read (invalid TOML, requirements, specifiers)."""


def read_inline_metadata(path: Path) -> InlineMetadata | None:
    """The script's `script` block, or None when it has none (or cannot be read as UTF-8 text)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return parse_inline_metadata(text, path.name)


def parse_inline_metadata(text: str, name: str = "the script") -> InlineMetadata | None:
    """The `script` block of `text` (the script's source), or None when it has none."""
    blocks = [m for m in _BLOCK_RE.finditer(text) if m.group("type") == "script"]
    if not blocks:
        return None
    found = InlineMetadata()
    if len(blocks) > 1:  # PEP 723: tools must refuse more than one block of the same type
        found.problems.append(f"{name} has {len(blocks)} '# /// script' blocks; PEP 723 allows one: none was read")
        return found
    content = "".join(line[2:] if line.startswith("# ") else line[1:]
                      for line in blocks[0].group("content").splitlines(keepends=True))
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as e:
        found.problems.append(f"{name}: its '# /// script' block is not valid TOML ({e}); nothing was read from it")
        return found
    dependencies = data.get("dependencies", [])
    for item in dependencies if isinstance(dependencies, list) else [dependencies]:
        try:
            Requirement(str(item))
            found.dependencies.append(str(item))
        except InvalidRequirement:
            found.problems.append(f"{name}: dependency {item!r} of its '# /// script' block is not valid PEP 508; "
                                  "left out")
    requires = data.get("requires-python", "")
    if requires:
        try:
            SpecifierSet(str(requires))
            found.requires_python = str(requires)
        except InvalidSpecifier:
            found.problems.append(f"{name}: requires-python {requires!r} of its '# /// script' block is not a "
                                  "version specifier; left out")
    return found


def undeclared(script: Path, requirements: list[str]) -> list[str]:
    """The dependencies `script`'s block declares that `requirements` (the project's) does not list as they are:
    the script changed since `kiln new` copied them, and the build would ship what the script no longer asks for."""
    metadata = read_inline_metadata(script)
    if metadata is None:
        return []
    listed = set()
    for text in requirements:
        try:
            listed.add(str(Requirement(text)))
        except InvalidRequirement:
            continue
    return [d for d in metadata.dependencies if str(Requirement(d)) not in listed]
