"""The `[[installer]]` table of kind = "dmg", with its `[installer.signing]` table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from kiln.kinds.options import InstallerOptions
from kiln.support.errors import Problem
from kiln.support.section import Section

if TYPE_CHECKING:
    from kiln.model.project import Project

LAUNCHER_MINIMUM_MACOS = {"macos-arm64": (11, 0), "macos-x86_64": (10, 13)}
"""The oldest macOS Kiln's launcher runs on, per platform (resources/launchers/macos/build.py)."""
PKCS12_SUFFIXES = (".p12", ".pfx")


class DmgSigning(Section):
    """How the app and the DMG are signed. Without a certificate: ad hoc (every Mach-O file that has no valid
    signature, and the app), which macOS requires to run code but which does not pass Gatekeeper."""

    certificate: str = ""
    """Developer ID Application certificate with its key: a PKCS#12 file (.p12/.pfx), or PEM, relative to the
    project file. Empty: ad-hoc signatures."""
    key: str = ""
    """Unencrypted PEM private key, when `certificate` is a PEM file without it."""
    password_env: str = "KILN_MACOS_SIGNING_PASSWORD"
    """Environment variable holding the .p12/.pfx password; the password itself is never stored in this file."""
    entitlements: str = ""
    """Entitlements plist for the app's executables, relative to the project file. Empty: Kiln's defaults for
    Python apps (docs/dmg.md)."""
    timestamp: bool = True
    """Get a secure timestamp from Apple's server for each signature (needs network; notarization requires it).
    Without network the signatures are made without one, and the build says so."""
    notarize: bool = False
    """Submit the signed DMG to Apple's notary service, wait for its verdict and staple the ticket to the DMG."""
    api_key_env: str = "KILN_NOTARY_API_KEY"
    """Environment variable holding the App Store Connect API key: a JSON file's path, or the JSON itself
    (issuer_id, key_id, private_key); never stored in this file."""
    notarize_wait_minutes: int = Field(default=30, ge=1, le=24 * 60)
    """How long to wait for the notary service's verdict."""

    @field_validator("certificate", "key", "entitlements")
    @classmethod
    def _path(cls, value: str) -> str:
        from kiln.support.path_text import path_text_problem

        if problem := path_text_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("password_env", "api_key_env")
    @classmethod
    def _variable(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", value):
            raise ValueError(f"'{value[:40]}' is not an environment variable name (letters, digits, _)")
        return value


class DmgOptions(InstallerOptions):
    kind: Literal["dmg"] = "dmg"
    platform: Literal["macos-arm64", "macos-x86_64"] = "macos-arm64"
    """Which Macs: Apple silicon (macos-arm64) or Intel (macos-x86_64)."""
    volume_name: str = ""
    """Name of the mounted disk image in Finder. Empty: the display name."""
    applications_link: bool = True
    minimum_macos: str = "11.0"
    """Oldest macOS the app runs on (LSMinimumSystemVersion), e.g. "11.0"."""
    signing: DmgSigning = Field(default_factory=DmgSigning)
    """Code signing: ad hoc by default; a Developer ID certificate, and notarization, when set."""

    @field_validator("minimum_macos")
    @classmethod
    def _minimum_macos(cls, value: str) -> str:
        if not re.fullmatch(r"\d{1,2}(\.\d{1,2}){0,2}", value):
            raise ValueError(f"'{value[:40]}' is not a macOS version; use a form like \"11.0\" or \"12.3\"")
        return value

    @field_validator("volume_name")
    @classmethod
    def _volume_name(cls, value: str) -> str:
        if len(value) > 27 * 4:  # HFS+ names are at most 255 UTF-16 units; Finder shows about 27 characters
            raise ValueError(f"is {len(value)} characters long; the limit is {27 * 4}")
        return value

    def problems(self, project: Project, base_dir: Path, where: str) -> list[Problem]:
        problems = []
        oldest = LAUNCHER_MINIMUM_MACOS[self.platform]
        if tuple(int(n) for n in [*self.minimum_macos.split("."), "0"][:2]) < oldest:
            problems.append(Problem(f"{where}.minimum_macos", f"the app's launcher needs macOS "
                                    f"{'.'.join(map(str, oldest))} or later on this platform",
                                    f'set minimum_macos = "{".".join(map(str, oldest))}" or later'))
        signing = self.signing
        for name in ("certificate", "key", "entitlements"):
            value = getattr(signing, name)
            if value and not (base_dir / value).is_file():
                problems.append(Problem(f"{where}.signing.{name}", f"file '{value}' does not exist",
                                        "fix the path or clear the value"))
        if signing.notarize and not signing.certificate:
            problems.append(Problem(f"{where}.signing.notarize", "notarization needs a Developer ID certificate",
                                    "set signing.certificate, or notarize = false"))
        if signing.key and signing.certificate.lower().endswith(PKCS12_SUFFIXES):
            problems.append(Problem(f"{where}.signing.key", "a .p12/.pfx file holds its key; key must be empty",
                                    "clear signing.key"))
        return problems
