"""Authenticode signatures of a Windows runtime's binaries, checked with osslsigncode against the system CAs."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

from kiln.support.errors import KilnError
from kiln.support.tools import run, which

PSF = "Python Software Foundation"
_SUBJECT_RE = re.compile(r"Signer #0:\s*\n\s*Subject: ([^\n]+)")
_TIMESTAMP_RE = re.compile(r"Timestamp time: ([^\n]+)")
_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")


def ca_bundle() -> Path | None:
    """The system's trusted root certificates as one PEM file (Debian: ca-certificates), or None."""
    default = ssl.get_default_verify_paths().cafile
    for candidate in (default, *_CA_BUNDLES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def verify_file(path: Path, signer: str = PSF) -> str:
    """Check `path`'s Authenticode signature and that `signer` signed it; returns the signing time.

    The chain is checked against the system's root certificates at the signature's timestamp (the PSF's
    certificates expire; a timestamped signature stays valid). Revocation lists are not fetched (`-ignore-crl`):
    builds must work offline. A bad, missing or foreign signature is a KilnError.
    """
    cas = ca_bundle()
    if cas is None:
        raise KilnError("cannot check the Windows runtime's signature: no system CA certificates found",
                        hint="install Debian's ca-certificates package")
    result = run(["osslsigncode", "verify", "-CAfile", cas, "-TSA-CAfile", cas, "-ignore-crl", "-in", path],
                 check=False, what=f"checking the signature of {path.name}")
    output = (result.stdout + result.stderr).decode("utf-8", errors="replace")
    subject = _SUBJECT_RE.search(output)
    if result.returncode != 0 or "Succeeded" not in output:
        reason = next((line.strip() for line in output.splitlines() if "error" in line.lower()), "verification failed")
        raise KilnError(f"{path.name}: its Authenticode signature does not verify ({reason})",
                        hint="the runtime was altered or is not python.org's; delete it from the cache "
                        "(`kiln runtimes clean`) and get it again from a trusted index")
    if subject is None or f"CN={signer}" not in subject.group(1):
        found = subject.group(1) if subject else "unknown"
        raise KilnError(f"{path.name} is signed by {found}, not by the {signer}",
                        hint="use python.org's own embeddable distribution")
    stamp = _TIMESTAMP_RE.search(output)
    return stamp.group(1).strip() if stamp else "no timestamp"


def check_runtime(python_root: Path) -> str:
    """Verify python3XX.dll and python.exe of a Windows runtime; returns one line for the build report."""
    names = sorted(p.name for p in python_root.glob("python3*.dll") if re.fullmatch(r"python3\d+\.dll", p.name))
    files = [python_root / n for n in names] + [python_root / "python.exe"]
    if which("osslsigncode") is None:
        return "Authenticode signature not checked: osslsigncode is not installed (Debian package osslsigncode)"
    times = [verify_file(path) for path in files]
    return (f"Authenticode: {', '.join(p.name for p in files)} signed by the {PSF} ({times[0]}), chain verified "
            "against this system's root certificates; revocation not checked (offline)")
