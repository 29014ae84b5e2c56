"""The engine↔UI protocol: typed build events, written and read as JSON lines."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import IO, Any, Literal, Protocol

EventKind = Literal["stage-start", "stage-end", "progress", "log", "warning", "artifact", "error", "done"]
EVENT_KINDS: tuple[EventKind, ...] = (
    "stage-start", "stage-end", "progress", "log", "warning", "artifact", "error", "done",
)
DoneStatus = Literal["ok", "failed", "cancelled"]


@dataclass(frozen=True)
class Event:
    """One thing that happened during a build.

    `fraction` is the overall progress (0..1) when known; `data` carries kind-specific fields: for `artifact`
    path, size, sha256, kind; for `done` status and report path; for `error` hint; for `stage-end` seconds.
    `elapsed` is when it happened, in seconds since the event stream began (JsonLinesWriter stamps it): a reader
    shows the running stage's time as now minus its `stage-start`'s, even when reading a recorded stream. It is
    not part of an event's identity (equality ignores it).
    """

    kind: EventKind
    message: str = ""
    stage: str | None = None
    fraction: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    elapsed: float | None = field(default=None, compare=False)

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v not in (None, {})}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Event:
        raw = json.loads(line)
        if not isinstance(raw, dict) or raw.get("kind") not in EVENT_KINDS:
            raise ValueError(f"not a Kiln event: {line[:80]!r}")
        fraction, elapsed = raw.get("fraction"), raw.get("elapsed")
        return cls(
            kind=raw["kind"],
            message=str(raw.get("message", "")),
            stage=raw.get("stage"),
            fraction=float(fraction) if fraction is not None else None,
            data=dict(raw.get("data") or {}),
            elapsed=float(elapsed) if elapsed is not None else None,
        )


class Reporter(Protocol):
    """Where the engine sends events; the CLI and the wizard decide how they look."""

    def emit(self, event: Event) -> None: ...


class CallbackReporter:
    """A reporter that hands each event to a function (tests, renderers)."""

    def __init__(self, callback: Callable[[Event], None]) -> None:
        self._callback = callback

    def emit(self, event: Event) -> None:
        self._callback(event)


class JsonLinesWriter:
    """Writes one JSON object per line and flushes, so a reading process sees each event at once.

    Each event is stamped with `elapsed` (seconds since this writer was made) unless it already has one.
    """

    def __init__(self, stream: IO[str], clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._started = clock()

    def emit(self, event: Event) -> None:
        if event.elapsed is None:
            event = replace(event, elapsed=round(self._clock() - self._started, 3))
        self._stream.write(event.to_json() + "\n")
        self._stream.flush()


class JsonLinesReader:
    """Turns arbitrary chunks of bytes (as a QProcess delivers them) into events, buffering to each newline.

    Lines that are not events (a stray print from a library) become `log` events rather than being lost.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [self._parse(line) for line in lines if line.strip()]

    def flush(self) -> list[Event]:
        """Whatever is left when the stream ends."""
        rest, self._buffer = self._buffer, b""
        return [self._parse(rest)] if rest.strip() else []

    @staticmethod
    def _parse(line: bytes) -> Event:
        text = line.decode("utf-8", errors="replace")
        try:
            return Event.from_json(text)
        except (ValueError, TypeError, KeyError):
            return Event("log", message=text.rstrip())


def read_events(stream: IO[bytes]) -> Iterator[Event]:
    """Every event in a finished byte stream."""
    reader = JsonLinesReader()
    for chunk in iter(lambda: stream.read(65536), b""):
        yield from reader.feed(chunk)
    yield from reader.flush()
