"""Authenticode signing of Windows files (launcher .exe, .msi) with osslsigncode.

The certificate is a PEM file plus a PEM key (`signing_key`), or a PKCS#12 bundle (.p12/.pfx) alone. The key's
password comes from the environment variable named by `signing_password_env`; it is handed to osslsigncode on
stdin (`-readpass -`), so it appears neither in the project file, nor in argv (visible to other users), nor in
the build log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kiln.installers.msi.options import MsiOptions
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.tools import require, run

PKCS12_SUFFIXES = (".p12", ".pfx")


@dataclass(frozen=True)
class SigningIdentity:
    certificate: Path
    key: Path | None
    """None for PKCS#12 bundles (the key is inside)."""
    password_env: str
    password: str | None = field(default=None, repr=False)

    @property
    def is_pkcs12(self) -> bool:
        return self.certificate.suffix.lower() in PKCS12_SUFFIXES


def signing_identity(options: MsiOptions, base_dir: Path) -> SigningIdentity | None:
    """The identity the MSI options name, or None when signing is off; checks the files exist."""
    if not options.signing_certificate:
        return None
    certificate = base_dir / options.signing_certificate
    key = base_dir / options.signing_key if options.signing_key else None
    for what, path in (("signing_certificate", certificate), ("signing_key", key)):
        if path is not None and not path.is_file():
            raise KilnError(f"installer.{what}: file '{path}' does not exist", hint="fix the path or clear the value")
    if certificate.suffix.lower() not in PKCS12_SUFFIXES and key is None:
        raise KilnError("installer.signing_key is empty but the certificate is not a .p12/.pfx bundle",
                        hint="name the PEM private key in signing_key, or use a PKCS#12 (.p12/.pfx) file")
    password = os.environ.get(options.signing_password_env) if options.signing_password_env else None
    return SigningIdentity(certificate, None if certificate.suffix.lower() in PKCS12_SUFFIXES else key,
                           options.signing_password_env, password or None)


def sign_file(identity: SigningIdentity, source: Path, out: Path, description: str, url: str = "") -> None:
    """Write `source` signed (SHA-256 Authenticode) to `out`; `source` is left as it was."""
    # setsid: without a controlling terminal OpenSSL cannot prompt for a missing password (a hidden prompt would
    # hang a GUI or CI build); it fails at once instead.
    argv: list[str | os.PathLike[str]] = ["setsid", "-w", require("osslsigncode"), "sign"]
    if identity.is_pkcs12:
        argv += ["-pkcs12", identity.certificate]
    else:
        assert identity.key is not None
        argv += ["-certs", identity.certificate, "-key", identity.key]
    argv += ["-h", "sha256", "-n", description]
    if url:
        argv += ["-i", url]
    if identity.password is not None:
        argv += ["-readpass", "-"]
    out.unlink(missing_ok=True)  # osslsigncode refuses to overwrite
    argv += ["-in", source, "-out", out]
    try:
        run(argv, input_bytes=identity.password.encode() if identity.password is not None else None,
            what=f"signing {source.name}")
    except ToolFailed as e:
        out.unlink(missing_ok=True)
        unset = identity.password is None and identity.password_env
        hint = (f"if the key has a password, set the environment variable {identity.password_env}" if unset
                else "check the certificate, the key and the password")
        raise KilnError(e.message, hint=hint) from None


def verify_signature(path: Path, ca_file: Path) -> str:
    """osslsigncode's verification report for `path` against the CA certificates in `ca_file`; raises on failure."""
    result = run(["osslsigncode", "verify", "-CAfile", ca_file, "-in", path], what=f"verifying {path.name}")
    return result.stdout.decode(errors="replace")
