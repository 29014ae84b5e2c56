"""The JSON-lines event protocol survives any chunking and stray output."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from kiln.model.events import Event, JsonLinesReader, JsonLinesWriter

EVENTS = [
    Event("stage-start", "preparing Python", stage="runtime", fraction=0.1),
    Event("artifact", "portable: x.tar.zst", stage="portable", data={"path": "/x", "size": 3, "sha256": "ab"}),
    Event("done", "build ok", fraction=1.0, data={"status": "ok", "report": "r.json"}),
    Event("log", "ünïcödé ✓ \"quoted\""),
]


def _stream() -> bytes:
    buffer = io.StringIO()
    writer = JsonLinesWriter(buffer)
    for event in EVENTS:
        writer.emit(event)
    return buffer.getvalue().encode()


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_reader_reassembles_events_from_any_chunks(cuts: list[int]) -> None:
    data, reader, events, position = _stream(), JsonLinesReader(), [], 0
    for size in cuts:
        events += reader.feed(data[position:position + size])
        position += size
    events += reader.feed(data[position:]) + reader.flush()
    assert events == EVENTS


def test_stray_lines_become_log_events() -> None:
    reader = JsonLinesReader()
    events = reader.feed(b"a library printed this\n{\"kind\": \"nonsense\"}\n")
    assert [e.kind for e in events] == ["log", "log"]
    assert events[0].message == "a library printed this"


def test_the_writer_stamps_each_event_with_the_seconds_since_the_stream_began() -> None:
    now = [500.0]
    buffer = io.StringIO()
    writer = JsonLinesWriter(buffer, clock=lambda: now[0])
    writer.emit(Event("stage-start", "packing", stage="portable", fraction=0.2))
    now[0] += 42.25
    writer.emit(Event("progress", "packing 3 of 9 MiB", stage="portable", fraction=0.4))
    writer.emit(Event("log", "kept as given", elapsed=7.0))
    start, progress, kept = JsonLinesReader().feed(buffer.getvalue().encode())
    # A reader of the stream (live or recorded) has the running stage's time: 42.25 s into `portable`.
    assert (start.elapsed, progress.elapsed, kept.elapsed) == (0.0, 42.25, 7.0)
    assert '"elapsed": 42.25' in buffer.getvalue().splitlines()[1]
    assert progress == Event("progress", "packing 3 of 9 MiB", stage="portable", fraction=0.4)  # not its identity
