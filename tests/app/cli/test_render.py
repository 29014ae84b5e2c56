"""The terminal renderer, driven by build events: the running stage's elapsed time counts up on the bar's line."""

from __future__ import annotations

import io

from rich.console import Console

from kiln.cli.render import RichRenderer, hms
from kiln.model.events import Event


class Clock:
    """A clock the test moves by hand (the renderer reads it for both elapsed columns)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def recording_console() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, color_system=None, width=140, record=True)


def test_hms() -> None:
    assert [hms(0), hms(75.9), hms(3725), hms(-1)] == ["0:00:00", "0:01:15", "1:02:05", "0:00:00"]


def test_the_running_stage_shows_its_elapsed_time() -> None:
    console, clock = recording_console(), Clock()
    with RichRenderer(console, clock=clock) as renderer:
        clock.now += 4
        renderer.emit(Event("stage-start", "validating", stage="validate", fraction=0.0))
        clock.now += 2
        renderer.emit(Event("stage-end", "validate done in 2.0 s", stage="validate", fraction=0.1,
                            data={"seconds": 2.0}))
        assert "✓ validate  2.0 s" in console.export_text()
        renderer.emit(Event("stage-start", "packing the folder", stage="portable", fraction=0.1))
        assert "portable: packing the folder" in console.export_text()
        clock.now += 75
        renderer.emit(Event("progress", "packing 300 of 900 MiB", stage="portable", fraction=0.4))
        running = console.export_text()
        # The stage's own time (75 s) beside the build's (81 s since the renderer started).
        assert "portable: packing 300 of 900 MiB" in running
        assert "stage 0:01:15  total 0:01:21" in running
        clock.now += 30
        renderer.emit(Event("progress", "", stage="portable", fraction=0.6))  # no message: the line keeps its text
        assert "portable: packing 300 of 900 MiB" in (later := console.export_text())
        assert "stage 0:01:45  total 0:01:51" in later
        renderer.emit(Event("stage-end", "portable done in 105.0 s", stage="portable", fraction=0.9,
                            data={"seconds": 105.0}))
        renderer.emit(Event("progress", "", fraction=0.9))
        after = console.export_text()
        assert "✓ portable  105.0 s" in after
        assert after.rstrip().endswith("90% total 0:01:51")  # the last frame: no stage runs, no stage time


def test_between_stages_the_line_shows_only_the_total() -> None:
    console, clock = recording_console(), Clock()
    with RichRenderer(console, clock=clock) as renderer:
        renderer.emit(Event("stage-start", "resolving", stage="dependencies", fraction=0.2))
        clock.now += 3
        renderer.emit(Event("stage-end", "done", stage="dependencies", fraction=0.3, data={"seconds": 3.0}))
        renderer.emit(Event("progress", "", fraction=0.3))
        text = console.export_text()
    # Frames follow each other in the recording (the cursor moves are not recorded): the last one ends the text.
    assert "20% stage 0:00:00  total 0:00:00" in text
    assert text.rstrip().endswith("30% total 0:00:03")
