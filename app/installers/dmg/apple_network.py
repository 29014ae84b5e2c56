"""Apple's services that a Developer ID build talks to, and whether this machine can reach them.

A build without network must still finish: signatures are then made without a secure timestamp, and notarization
is skipped, each with a plain message. Asking first (one TCP connection) keeps the answer quick and the message
clear, instead of a library error from deep inside an upload.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

TIMESTAMP_SERVICE = ("timestamp.apple.com", 80)
"""Apple's RFC 3161 timestamp authority, which the signing library asks by default."""
NOTARY_SERVICE = ("appstoreconnect.apple.com", 443)
"""The notary API (App Store Connect)."""
_TIMEOUT = 10.0
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")

Probe = Callable[[tuple[str, int]], "str | None"]
"""Says why a (host, port) cannot be reached, or None when it can."""


def unreachable(service: tuple[str, int]) -> str | None:
    """Why `service` cannot be reached from here, or None when a connection opens (or a proxy is configured:
    the signing library goes through it, so a direct connection proves nothing)."""
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return None
    host, port = service
    try:
        with socket.create_connection((host, port), timeout=_TIMEOUT):
            return None
    except socket.gaierror:
        return f"{host} cannot be resolved (no network or no DNS)"
    except OSError as e:
        return f"{host}:{port} cannot be reached ({e.strerror or e})"
