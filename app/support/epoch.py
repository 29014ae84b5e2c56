"""The one date Kiln writes into artifacts: $SOURCE_DATE_EPOCH (the reproducible-builds.org convention, e.g. the
time of the last commit) or a fixed date, never the time of the build, so identical inputs give identical bytes."""

from __future__ import annotations

import os

FIXED_EPOCH = 946684800
"""2000-01-01 00:00 UTC: the date used when SOURCE_DATE_EPOCH is not set."""


def build_epoch() -> int:
    """$SOURCE_DATE_EPOCH when set (seconds since 1970), else FIXED_EPOCH."""
    return int(_variable()) if from_environment() else FIXED_EPOCH


def from_environment() -> bool:
    """Whether SOURCE_DATE_EPOCH gives the date (else it is the fixed one)."""
    value = _variable()
    return value.isascii() and value.isdigit()


def _variable() -> str:
    return os.environ.get("SOURCE_DATE_EPOCH", "").strip()
