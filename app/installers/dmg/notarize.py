"""Notarization: the signed DMG is submitted to Apple's notary service, Kiln waits for the verdict and staples the
ticket to the DMG, so Gatekeeper accepts it even offline.

The App Store Connect API key comes only from the environment (`[installer.signing] api_key_env`): the path of a
JSON file or the JSON itself, with `issuer_id`, `key_id` and `private_key` (the .p8 file's PEM text, or its DER in
base64 as `rcodesign encode-app-store-connect-api-key` writes it). For the upload it is written to a private file
(0600) in the build's work folder and removed right after. Without network the build finishes, says plainly that
notarization was skipped, and the DMG stays signed but not notarized.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.installers.dmg.apple_network import NOTARY_SERVICE, Probe, unreachable
from kiln.installers.dmg.options import DmgSigning
from kiln.support.errors import KilnError

if TYPE_CHECKING:
    from apple_platform.notarize import NotaryCredentials

_PEM_BODY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(.*?)-----END [A-Z ]*PRIVATE KEY-----", re.S)
_ISSUES_SHOWN = 5


@dataclass(frozen=True)
class ApiKey:
    """An App Store Connect API key, in the library's "unified" form."""

    issuer_id: str
    key_id: str
    private_key: str = field(repr=False)  # base64 of the DER (PKCS#8) EC private key

    def unified_json(self) -> str:
        return json.dumps({"issuer_id": self.issuer_id, "key_id": self.key_id, "private_key": self.private_key})


@dataclass(frozen=True)
class NotarySubmission:
    """What is sent to the notary service: the file, the credentials and how long to wait for a verdict."""

    path: Path
    credentials: NotaryCredentials
    wait_seconds: int

    def request(self) -> dict[str, Any]:
        """The request as the library passes it to apple-codesign (the C ABI's JSON)."""
        return {"credentials": self.credentials.to_config(), "path": str(self.path), "wait_seconds": self.wait_seconds}


def load_api_key(variable: str, environ: dict[str, str] | None = None) -> ApiKey:
    """The API key the environment variable `variable` holds (a JSON file's path, or JSON)."""
    value = (environ if environ is not None else dict(os.environ)).get(variable, "").strip()
    hint = (f"set {variable} to the path of a JSON file with issuer_id, key_id and private_key (the .p8 key's "
            "text), or to that JSON itself")
    if not value:
        raise KilnError(f"notarize = true, but the environment variable {variable} is not set", hint=hint)
    try:
        text = value if value.startswith("{") else Path(value).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as e:
        raise KilnError(f"{variable} holds neither API key JSON nor the path of a readable JSON file ({e})",
                        hint=hint) from None
    missing = [k for k in ("issuer_id", "key_id", "private_key") if not isinstance(data, dict) or
               not isinstance(data.get(k), str) or not data[k].strip()]
    if missing:
        raise KilnError(f"the App Store Connect API key in {variable} lacks {', '.join(missing)}", hint=hint)
    raw = data["private_key"]
    match = _PEM_BODY.search(raw)
    body = "".join((match.group(1) if match else raw).split())
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        der = b""
    if len(der) < 32 or der[0] != 0x30:
        raise KilnError(f"the private_key in {variable} is not an EC private key (PEM or base64 DER)", hint=hint)
    return ApiKey(data["issuer_id"].strip(), data["key_id"].strip(), base64.b64encode(der).decode())


@contextmanager
def api_key_file(key: ApiKey, folder: Path) -> Iterator[Path]:
    """The key as a private JSON file for the library, removed when the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "notary-api-key.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key.unified_json())
        yield path
    finally:
        path.unlink(missing_ok=True)


def notarization_request(dmg: Path, key_file: Path, wait_minutes: int) -> NotarySubmission:
    from apple_platform.notarize import NotaryCredentials

    return NotarySubmission(dmg, NotaryCredentials(api_key_path=key_file), wait_minutes * 60)


def _status(response: object) -> str:
    from apple_platform.reading import find_values

    statuses = [s for s in find_values(response, "status") if isinstance(s, str)]
    return statuses[0] if statuses else ""


def notarize_dmg(dmg: Path, signing: DmgSigning, work_dir: Path, log: Callable[[str], None],
                 warn: Callable[[str], None], probe: Probe = unreachable) -> bool:
    """Submit, wait, staple. Returns whether the DMG now carries a ticket; skips (with a warning) without network."""
    key = load_api_key(signing.api_key_env)  # a missing or bad key is an error even offline: fix it first
    problem = probe(NOTARY_SERVICE)
    if problem:
        warn(f"notarization skipped: {problem}. {dmg.name} is signed but not notarized; build again "
             "with network to notarize it")
        return False
    import apple_platform as ap
    from apple_platform import notarize

    with api_key_file(key, work_dir) as key_file:
        submission = notarization_request(dmg, key_file, signing.notarize_wait_minutes)
        log(f"submitting the disk image to Apple's notary service (key {key.key_id}), waiting up to "
            f"{signing.notarize_wait_minutes} minutes")
        try:
            result = notarize.submit(submission.path, submission.credentials, wait_seconds=submission.wait_seconds)
            ident = str(result.get("submission_id", "?"))
            status = _status(result.get("response"))
            if not status:
                warn(f"notarization submission {ident} has no verdict after {signing.notarize_wait_minutes} minutes; "
                     "the DMG is not stapled (staple it later: xcrun stapler staple, or rcodesign staple)")
                return False
            if status.lower() != "accepted":
                issues = notarize.fetch_log(ident, submission.credentials).get("issues") or []
                shown = "; ".join(f"{i.get('path', '')}: {i.get('message', '')}" for i in issues[:_ISSUES_SHOWN]
                                  if isinstance(i, dict))
                raise KilnError(f"Apple's notary service answered {status} for submission {ident}"
                                + (f": {shown}" if shown else ""),
                                hint="every Mach-O file needs a Developer ID signature with the hardened runtime and a "
                                     "timestamp; see the notary log for the submission")
            log(f"notarization accepted (submission {ident}); stapling the ticket")
            notarize.staple(dmg)
        except ap.ApplePlatformError as e:
            raise KilnError(f"notarization failed: {'; '.join([str(e), *e.source[:3]])}",
                            hint="check the API key and the network; the DMG is signed but not notarized") from None
    return True
