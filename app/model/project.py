"""The project file (`kiln.toml`): pydantic models of every section, validation with field paths."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version
from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo

from kiln.kinds import registry
from kiln.kinds.options import InstallerOptions
from kiln.model.associations import Association, duplicate_extensions
from kiln.support.section import Section

SCHEMA_VERSION = 1
TODO = "TODO"

# Matched with fullmatch: `$` would also match before a trailing newline ("hello\n" must not pass).
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_IDENTIFIER_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z0-9][A-Za-z0-9-]*)+")
_MODULE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_.]*)?")
_EXTRA_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")
PYTHON_VERSIONS = tuple(f"3.{minor}" for minor in range(8, 15))
"""The CPython versions a project may bundle ([python] version)."""
NAME_MAX_CHARS = 64
"""app.name ends up in file names with the version and platform (`<name>-<version>-<platform>.AppImage`)."""
VERSION_MAX_CHARS = 64
IDENTIFIER_MAX_CHARS = 155
"""Reverse-DNS ids are at most 155 characters (Apple's CFBundleIdentifier; also `<id>.desktop` fits NAME_MAX)."""
DISPLAY_NAME_MAX_CHARS = 80
"""The display name names the macOS .app folder: 80 characters of up to 3 UTF-8 bytes stay within 255 bytes."""
PATTERNS_MAX = 256
PATTERN_MAX_CHARS = 256
"""source.include / exclude: each pattern is compiled and matched against every file, so both are bounded."""
TEXT_MAX_CHARS = 4000
"""publisher, description, license, homepage: free text, bounded so no file format field overflows."""
PROJECT_FILE_MAX_BYTES = 1 << 20
"""A project file is refused unread past 1 MiB: a real one is a few KB (the biggest, with every option and a long
description, stays under 20 KB), and TOML parsing takes seconds and hundreds of MB per 10 MB."""
INSTALLERS_MAX = 32
"""`[[installer]]` tables: four kinds for up to four platforms each, with room for variants."""
ASSOCIATIONS_MAX = 256
"""`[[association]]` tables: file types one app opens (an office suite registers a few dozen)."""
REQUIREMENTS_MAX = 2000
"""`dependencies.requirements` entries: a large application pins a few hundred."""
STAGE_TIMEOUT_S = 30 * 60
"""`[build] timeout`'s default: a stage (one pip run, one installer) that takes half an hour on a slow machine is
far past normal (a large Qt app's whole build takes minutes), so it is most likely waiting forever: a build
backend asking for input, a hung download. Without a limit, an unattended CI build would wait until killed."""
STAGE_TIMEOUT_MAX_S = 24 * 60 * 60
"""The most `[build] timeout` accepts: a stage of over a day is a hang, whatever the project."""


def _path_field(value: str) -> str:
    """A path the project file gives: usable text (no control characters, no over-long names)."""
    from kiln.support.path_text import path_text_problem

    problem = path_text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _bounded(value: str, limit: int) -> None:
    if len(value) > limit:
        raise ValueError(f"is {len(value)} characters long; the limit is {limit}")


def is_todo(value: object) -> bool:
    """True for the placeholders `kiln new` writes where detection found nothing."""
    return isinstance(value, str) and value.strip().upper().startswith(TODO)


class AppSection(Section):
    name: str
    """Machine name: file names, launcher and package names. Letters, digits, `.`, `_`, `-`."""
    display_name: str = ""
    """Name shown to people (menus, window titles). Defaults to `name`."""
    version: str = "0.1.0"
    """Version in PEP 440 form, e.g. 1.2.3."""
    identifier: str = ""
    """Reverse-DNS identifier, e.g. org.example.hello (macOS bundle id, desktop file id)."""
    publisher: str = ""
    description: str = ""
    license: str = ""
    homepage: str = ""
    license_file: str = ""
    """The licence text (plain text or RTF) the MSI's wizard shows for acceptance, e.g. LICENSE. Empty: no
    licence page."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not is_todo(value) and not _NAME_RE.fullmatch(value):
            raise ValueError("use letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. my-app)")
        _bounded(value, NAME_MAX_CHARS)
        return value

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        if value and not value.strip():
            raise ValueError("is only spaces; leave it empty to use app.name, or enter a name")
        _bounded(value, DISPLAY_NAME_MAX_CHARS)
        return value

    @field_validator("license_file")
    @classmethod
    def _license_file(cls, value: str) -> str:
        return _path_field(value)

    @field_validator("publisher", "description", "license", "homepage")
    @classmethod
    def _text(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        _bounded(value, TEXT_MAX_CHARS)
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if is_todo(value):
            return value
        # Version() strips surrounding whitespace, so "1.0\n" would pass and name files "x-1.0\n-…".
        if value != value.strip() or len(value) > VERSION_MAX_CHARS:
            raise ValueError(f"'{value[:VERSION_MAX_CHARS]}' is not a version; use one like 1.0 or 2.3.1")
        try:
            Version(value)
        except InvalidVersion:
            raise ValueError(f"'{value}' is not a version; use one like 1.0 or 2.3.1") from None
        return value

    @field_validator("identifier")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if value and not is_todo(value) and not _IDENTIFIER_RE.fullmatch(value):
            raise ValueError("use reverse-DNS form with at least two parts, e.g. org.example.myapp")
        _bounded(value, IDENTIFIER_MAX_CHARS)
        return value

    @property
    def title(self) -> str:
        """The name people see."""
        return self.display_name or self.name


def is_machine_name(text: str) -> bool:
    """Letters, digits, '.', '_' or '-', starting with a letter or digit, at most NAME_MAX_CHARS: a name that is a
    file name on every platform (app.name, entry.command)."""
    return bool(_NAME_RE.fullmatch(text)) and len(text) <= NAME_MAX_CHARS


class EntrySection(Section):
    module: str = ""
    """What to run: `package.module:function`, or `package` / `package.module` to run it like `python -m`."""
    script: str = ""
    """Or a script file, relative to the source root, to run like `python script.py`."""
    kind: Literal["console", "gui"] = "console"
    """`gui` apps open no terminal (and no console window on Windows)."""
    command: str = ""
    """The app's command: the Windows `<command>.exe`, the portable launcher, the macOS executable, the AppImage
    menu entry's Exec, and the app's `sys.argv[0]`. Empty: the name of the project's own console or GUI script that
    runs `module` (e.g. `pygmentize`), else app.name."""

    @field_validator("module")
    @classmethod
    def _module(cls, value: str) -> str:
        if value and not is_todo(value) and not _MODULE_RE.fullmatch(value):
            raise ValueError("use 'package.module:function' or 'package.module'")
        _bounded(value, 1000)
        return value

    @field_validator("script")
    @classmethod
    def _script(cls, value: str) -> str:
        return _path_field(value)

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        if value and not is_machine_name(value):
            raise ValueError("use letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. my-app), "
                             f"at most {NAME_MAX_CHARS} characters")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> EntrySection:
        if self.module and self.script:
            raise ValueError("set either entry.module or entry.script, not both")
        if not self.module and not self.script:
            raise ValueError("set entry.module (e.g. 'hello:main') or entry.script (e.g. 'main.py')")
        return self


class SourceSection(Section):
    root: str = "."
    """The folder holding the app's code, relative to the project file."""
    kind: Literal["auto", "project", "files"] = "auto"
    """`project`: the folder is a Python project (pyproject.toml, setup.py or setup.cfg), built into a wheel by
    its own build backend and installed with its dependencies (include/exclude are not used). `files`: the
    include/exclude globs are copied as they are. `auto`: `project` when the folder is a Python project and
    the file sets no `include`, else `files`."""
    include: list[str] = Field(default_factory=lambda: ["**/*.py"])
    """Glob patterns (relative to root) of code and data files to ship."""
    exclude: list[str] = Field(
        default_factory=lambda: ["**/__pycache__/**", "**/tests/**", "**/test_*.py", ".*/**", "dist/**", "build/**"]
    )
    """Glob patterns to leave out, applied after include."""
    allow_links_outside: bool = False
    """Follow symbolic links that point outside the source folder (by default they are refused, naming them)."""
    folders: list[str] | None = None
    """Folders beside the scripts that ship whole, for a folder of scripts (no pyproject.toml or setup.py). Unset:
    every folder beside them that is not hidden, `tests/`, an environment, a cache or build output; `[]`: none.
    Folders and files the code names (`"assets/logo.png"`) ship either way; `exclude` wins over both."""

    @field_validator("root")
    @classmethod
    def _root(cls, value: str) -> str:
        return _path_field(value)

    @field_validator("folders", mode="before")
    @classmethod
    def _folders(cls, values: object) -> object:
        if values is None:
            return None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError('use a list of folder names, e.g. ["assets", "data"]')
        if len(values) > PATTERNS_MAX:
            raise ValueError(f"has {len(values)} folders; the limit is {PATTERNS_MAX}")
        for value in values:
            _path_field(value)
        return values

    @field_validator("include", "exclude")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        # Each pattern becomes a regular expression matched against every file: bounded so checks stay fast.
        if len(values) > PATTERNS_MAX:
            raise ValueError(f"has {len(values)} patterns; the limit is {PATTERNS_MAX}")
        for position, pattern in enumerate(values):
            if len(pattern) > PATTERN_MAX_CHARS:
                raise ValueError(f"pattern {position + 1} is {len(pattern)} characters; the limit is "
                                 f"{PATTERN_MAX_CHARS}")
            if "\x00" in pattern:
                raise ValueError(f"pattern {position + 1} contains a NUL character")
        return values


class DependenciesSection(Section):
    requirements: list[str] = Field(default_factory=list)
    """PEP 508 requirement strings, e.g. "rich>=13"."""
    requirements_file: str = ""
    """A requirements.txt to read as well, relative to the project file."""
    extras: list[str] = Field(default_factory=list)
    """The app's own extras to ship (its `[project.optional-dependencies]`), e.g. ["gui"]: resolved with the app's
    wheel, and selected from the developer's lock."""
    lock: str = "auto"
    """The developer's lock whose versions ship: "auto" (uv.lock, pylock.toml or a fully pinned requirements file in
    the app's folder), "none", or its path relative to the project file."""
    index_url: str = ""
    find_links: list[str] = Field(default_factory=list)
    no_index: bool = False
    qt_modules: list[str] = Field(default_factory=list)
    """Qt modules to ship although no code imports them by name (e.g. "QtSvg", or a QML module such as
    "QtQuick.Controls"); `"*"` ships all of Qt. Kiln keeps the modules the bundle's code imports by itself."""
    qt_translations: list[str] = Field(default_factory=list)
    """Languages of Qt's own translations to ship (e.g. "de", "pt_BR"; `"*"`: all). None by default."""

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, values: list[str]) -> list[str]:
        for position, text in enumerate(values):
            try:
                Requirement(text)
            except InvalidRequirement as e:
                raise ValueError(f"requirement {position + 1} '{text}' is not valid PEP 508: {e}") from None
        return values

    @field_validator("requirements_file")
    @classmethod
    def _requirements_file(cls, value: str) -> str:
        return _path_field(value)

    @field_validator("extras")
    @classmethod
    def _extras(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _EXTRA_RE.fullmatch(value):
                raise ValueError(f"'{value[:40]}' is not an extra's name (letters, digits, '-', '_', '.')")
        return values

    @field_validator("lock")
    @classmethod
    def _lock(cls, value: str) -> str:
        return value if value in ("auto", "none") else _path_field(value)


class PythonSection(Section):
    version: str = "3.11"
    """The Python version (3.X) to bundle."""
    source: str = "auto"
    """`auto` (host interpreter for Linux, downloaded runtime otherwise), `host`, `download`, or a path to a
    python-build-standalone install_only archive."""

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return _path_field(value)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in PYTHON_VERSIONS:
            raise ValueError(f"use a CPython version from {PYTHON_VERSIONS[0]} to {PYTHON_VERSIONS[-1]} in the form "
                             "3.X, e.g. 3.11")
        return value


class IconSection(Section):
    path: str = ""
    """A square PNG (256 px or more) or SVG, relative to the project file. Empty: Kiln's default icon."""

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _path_field(value)


class BuildSection(Section):
    output_dir: str = "dist"
    """Where artifacts go, relative to the project file (inside the project), or an absolute path."""
    optimize: Literal[0, 1, 2] = 0
    """Bytecode optimization level (1 drops asserts, 2 also docstrings)."""
    keep_sources: bool | Literal["auto"] = "auto"
    """Ship .py sources next to their bytecode: `"auto"` for the app's own code and for dependencies that run or read
    their own .py files, `true` for everything (full tracebacks everywhere; bigger artifacts), `false` for nothing."""
    smoke_start: bool = True
    """Before the installers of this machine's own platform are built, start the bundle and import the app's entry
    module (no display, a time limit): an import error or a missing file fails them, like the bundle check does."""
    compression_level: int = Field(default=10, ge=1, le=22)
    """zstandard level for compressed artifacts (1 fast … 22 smallest)."""
    timeout: int = Field(default=STAGE_TIMEOUT_S, ge=1, le=STAGE_TIMEOUT_MAX_S)
    """Seconds each build stage may take (building the app's wheel, installing dependencies, each installer);
    a command still running then is stopped, with everything it started, and the build says which stage it was."""

    @field_validator("keep_sources", mode="before")
    @classmethod
    def _keep_sources(cls, value: object) -> object:
        if value is True or value is False or value == "auto":
            return value
        raise ValueError('use true, false or "auto"')

    @field_validator("output_dir")
    @classmethod
    def _output_dir(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; use a folder such as \"dist\"")
        return _path_field(value)


class Project(Section):
    """A whole `kiln.toml`."""

    schema_version: int = SCHEMA_VERSION
    """Version of this file's layout; Kiln migrates older files when it loads them."""
    app: AppSection
    entry: EntrySection
    source: SourceSection = Field(default_factory=SourceSection)
    dependencies: DependenciesSection = Field(default_factory=DependenciesSection)
    python: PythonSection = Field(default_factory=PythonSection)
    icon: IconSection = Field(default_factory=IconSection)
    installer: list[InstallerOptions] = Field(default_factory=lambda: [registry.spec("portable").options()])
    """One table per installer to build: `[[installer]]` with `kind` = one of the registered installer kinds
    (appimage, msi, dmg, portable). At run time this is a union of the kinds' options models, tagged by `kind`."""
    build: BuildSection = Field(default_factory=BuildSection)
    association: list[Association] = Field(default_factory=list)
    """`[[association]]` tables: file types the app opens (kiln.model.associations)."""

    @model_validator(mode="after")
    def _one_association_per_extension(self) -> Project:
        repeated = duplicate_extensions(self.association)
        if repeated:
            raise ValueError(f"association: the extension {', '.join(repeated)} is declared more than once")
        return self

    @model_validator(mode="after")
    def _always_write_schema_version(self) -> Project:
        self.model_fields_set.add("schema_version")
        return self

    @field_validator("schema_version")
    @classmethod
    def _schema(cls, value: int) -> int:
        if value > SCHEMA_VERSION:
            raise ValueError(f"this file was written by a newer Kiln (schema {value}); upgrade Kiln")
        if value < 1:
            raise ValueError("schema_version starts at 1")
        return value

    def active_installers(self) -> list[InstallerOptions]:
        """The installers to build: every table not switched off with `enabled = false`."""
        return [installer for installer in self.installer if installer.enabled]

    def to_data(self) -> dict[str, Any]:
        """Plain data for TOML: what the user (or detection) set, no None values (TOML has no null).

        Defaults that were never set stay out of the file, so a hand-written file stays as short as it was.
        """
        return self.model_dump(mode="json", exclude_none=True, exclude_unset=True)

    def todo_fields(self) -> list[str]:
        """Dotted paths of every value still holding a TODO placeholder."""
        found: list[str] = []

        def walk(value: object, path: str) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    walk(item, f"{path}.{key}" if path else key)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, f"{path}[{index}]")
            elif is_todo(value):
                found.append(path)

        walk(self.to_data(), "")
        return found


def _use_registered_kinds() -> None:
    """Make `Project.installer` the union of every registered kind's options model, tagged by `kind`.

    Runs now and again whenever a kind is registered, so the project file accepts exactly the known kinds.
    """
    models = tuple(entry.options for entry in registry.kinds())
    union: Any = Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007  (a tuple of types)
    field = Project.model_fields["installer"]
    Project.model_fields["installer"] = FieldInfo.merge_field_infos(field, annotation=list[union])
    Project.model_rebuild(force=True)


_use_registered_kinds()
registry.on_change(_use_registered_kinds)
