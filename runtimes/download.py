"""Verified downloads: stream to a temp file beside the destination, hash while streaming, rename when it matches."""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from kiln.runtimes.base import ProgressCallback
from kiln.support.atomic import atomic_path
from kiln.support.errors import KilnError

CHUNK = 256 * 1024
USER_AGENT = "kiln (python-build-standalone runtime download)"
OFFLINE_HINT = (
    "offline or behind a firewall? download the archive on another machine and register it with "
    "`kiln runtimes add ARCHIVE --platform PLATFORM`, or point PBS_INSTALLER_BASE_URL at a mirror"
)


def _no_progress(fraction: float, message: str) -> None:
    """Progress sink for callers that do not show progress."""


def download(
    url: str,
    dest: Path,
    sha256: str | None,
    progress: ProgressCallback | None = None,
    *,
    timeout: float = 60.0,
) -> Path:
    """Download `url` to `dest` and return `dest`, which exists only if the whole file arrived and matched `sha256`.

    Bytes go to a uniquely named temp file in dest's folder and are renamed onto `dest` only when complete and
    verified, so an interrupted or corrupt download leaves nothing usable behind and a retry starts clean.
    `timeout` applies to connecting and to each read. A missing `sha256` is refused: Kiln never runs code it
    cannot verify.
    """
    if not sha256:
        raise KilnError(
            f"no sha256 checksum is published for {url.rsplit('/', 1)[-1]}, so Kiln will not download it",
            hint="pick another Python version, or verify the archive yourself and use `kiln runtimes add`",
        )
    report = progress or _no_progress
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or url
    # atomic_path removes the partial file on any failure, KeyboardInterrupt and a checksum mismatch included.
    with atomic_path(dest, mode=0o644) as temp:
        with temp.open("wb") as out:
            digest, received = _stream(url, name, out, report, timeout)
            out.flush()
            os.fsync(out.fileno())
        if digest != sha256.lower():
            raise KilnError(
                f"checksum mismatch for {name}: expected sha256 {sha256}, got {digest}; the file was discarded",
                hint="the download was corrupted or the server (or mirror) sent a different file; try again, "
                "and if it persists check PBS_INSTALLER_BASE_URL",
            )
    report(1.0, f"downloaded {name} ({received / 1e6:.1f} MB, sha256 verified)")
    return dest


def _stream(url: str, name: str, out: BinaryIO, report: ProgressCallback, timeout: float) -> tuple[str, int]:
    """Copy the response body into `out`, returning (sha256 hex, byte count); network failures become KilnError."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    hasher = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length_header = response.headers.get("Content-Length")
            total = int(length_header) if length_header and length_header.isdigit() else None
            report(0.0, f"downloading {name}")
            last = 0.0
            while chunk := response.read(CHUNK):
                hasher.update(chunk)
                out.write(chunk)
                received += len(chunk)
                now = time.monotonic()
                if total and now - last > 0.1:
                    last = now
                    report(min(received / total, 0.999), f"downloading {name}")
    except urllib.error.HTTPError as e:
        message = f"download of {name} failed: HTTP {e.code} {e.reason} ({url})"
        raise KilnError(message, hint=_http_hint(e.code)) from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, TimeoutError):
            raise _timeout(name, timeout) from None
        raise KilnError(f"cannot download {name}: {reason} ({url})", hint=OFFLINE_HINT) from None
    except TimeoutError:
        raise _timeout(name, timeout) from None
    except (http.client.HTTPException, ConnectionError, OSError) as e:
        raise KilnError(
            f"download of {name} was interrupted after {received} bytes ({type(e).__name__}: {e})",
            hint="nothing was kept; run the command again to restart the download",
        ) from None
    if total is not None and received != total:
        # http.client does not raise when the server closes early; the length check catches a truncated body.
        raise KilnError(
            f"download of {name} was interrupted: got {received} of {total} bytes",
            hint="nothing was kept; run the command again to restart the download",
        )
    return hasher.hexdigest(), received


def _timeout(name: str, timeout: float) -> KilnError:
    return KilnError(f"download of {name} timed out (no data for {timeout:.0f} s)", hint=OFFLINE_HINT)


def _http_hint(code: int) -> str:
    if code == 404:
        return (
            "the file is not at that address; if you use a mirror (PBS_INSTALLER_BASE_URL) make sure it holds "
            "this archive under its exact file name"
        )
    if code in (401, 403):
        return "the server refused access; check the mirror's permissions or use `kiln runtimes add ARCHIVE`"
    return OFFLINE_HINT

