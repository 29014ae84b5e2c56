"""Progress from external tools that print their own while they run (mksquashfs's bar, xorriso's pacifier).

`tools.run` collects a tool's output when it ends, so a long compression showed one frozen fraction for
minutes. `run_with_progress` reads the tool's output as it comes, hands each line of one stream (split at `\\r`
as well as `\\n`: progress bars redraw with `\\r`) to a parser, and reports the fractions it finds: mksquashfs
draws its bar on stdout, xorriso writes its `UPDATE` lines to stderr. Everything else is as with `tools.run`:
the argv list, the lookup on PATH, the environment overlay, cancellation within a fraction of a second (the tool
and its process group are killed), the stage's time limit, the output in the build log, and ToolFailed with the
last lines when the tool fails.
"""

from __future__ import annotations

import logging
import os
import re
import selectors
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from kiln.support import tools
from kiln.support.errors import ToolFailed

log = logging.getLogger("kiln.tools")

_MKSQUASHFS = re.compile(rb"\]\s+(\d+)/(\d+)\s+(\d+)%")
_XORRISO = re.compile(rb"UPDATE\s*:\s*(\d+(?:\.\d+)?)% done")
_MIN_STEP = 0.01
"""Report again only after this much progress (a progress bar redraws hundreds of times a second)."""


def mksquashfs_fraction(line: bytes) -> float | None:
    """mksquashfs's bar: `[=====-   ] 300/1071  28%` -> 0.28 (blocks done / blocks in all)."""
    match = _MKSQUASHFS.search(line)
    if not match:
        return None
    done, total = int(match.group(1)), int(match.group(2))
    return min(1.0, done / total) if total else None


def xorriso_fraction(line: bytes) -> float | None:
    """xorriso's pacifier (`-as mkisofs`, on stderr): `xorriso : UPDATE :  19.36% done` -> 0.1936."""
    match = _XORRISO.search(line)
    return min(1.0, float(match.group(1)) / 100) if match else None


def run_with_progress(argv: Sequence[str | os.PathLike[str]], parse: Callable[[bytes], float | None],
                      report: Callable[[float], None], what: str, *, env: Mapping[str, str] | None = None,
                      stream: Literal["stdout", "stderr"] = "stdout") -> None:
    """Run argv, reporting the fractions `parse` finds in its `stream`; `env` is an overlay on os.environ."""
    args = [str(a) for a in argv]
    args[0] = tools.require(args[0]) if os.sep not in args[0] else args[0]
    log.debug("run %s (progress read from %s, env+=%s)", args, stream, dict(env or {}))
    started = time.monotonic()
    deadline, limit = tools.deadline_for(None)
    process = tools.start(args, env={**os.environ, **env} if env else None)
    assert process.stdout is not None and process.stderr is not None
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    progress_fd = out_fd if stream == "stdout" else err_fd
    output: dict[int, bytearray] = {out_fd: bytearray(), err_fd: bytearray()}
    pending = b""
    last = -1.0
    with process, selectors.DefaultSelector() as selector:
        for pipe in (process.stdout, process.stderr):
            selector.register(pipe, selectors.EVENT_READ)
        open_streams = 2
        try:
            while open_streams:
                tools.check_stop(process, deadline, limit, what or Path(args[0]).name, None)
                for key, _ in selector.select(timeout=0.2):
                    data = os.read(key.fd, 65536)
                    if not data:
                        selector.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    if key.fd != progress_fd:
                        output[key.fd] += data
                        continue
                    pending += data
                    *lines, pending = re.split(rb"[\r\n]", pending)
                    for line in lines:
                        fraction = parse(line)
                        if fraction is None:
                            if line.strip():
                                output[key.fd] += line + b"\n"
                        elif fraction >= last + _MIN_STEP or (fraction == 1.0 and last < 1.0):
                            last = fraction
                            report(fraction)
        except BaseException:
            # A cancel (here, or raised by `report`: the engine checks at each event) must not leave the tool, or
            # anything it started, running.
            tools.stop(process)
            raise
        process.wait()
    output[progress_fd] += pending
    stdout, stderr = bytes(output[out_fd]), bytes(output[err_fd])
    log.debug("exit %d after %.2fs", process.returncode, time.monotonic() - started)
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        if data.strip():
            log.debug("%s:\n%s", name, data.decode(errors="replace").rstrip())
    if process.returncode != 0:
        tail = (stderr or stdout).decode(errors="replace").strip().splitlines()[-12:]
        detail = "\n    ".join(tail) if tail else "(no output)"
        raise ToolFailed(f"{what or Path(args[0]).name} failed (exit {process.returncode}):\n    {detail}",
                         hint=tools.log_hint())
