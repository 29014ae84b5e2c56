"""The one place external commands are run: lookup on PATH, argv lists only, output captured to the build log.

Every command runs in a process group of its own, and stopping it (cancel, a timeout, an exception in Kiln) ends
the whole group: pip's build backend, a compiler or Wine's helpers are children of the command Kiln started, and
killing that command alone would leave them running. The engine gives each stage a time limit (`time_limit`);
a command still running when its stage's time is up is stopped with a `TimedOut` naming the stage and the limit.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kiln.support.errors import BuildCancelled, TimedOut, ToolFailed, ToolMissing

log = logging.getLogger("kiln.tools")
T = TypeVar("T")

# Set by the engine's signal handler. A signal handler must not raise (it may land inside native code, e.g.
# lief), so it only sets this flag; `run` notices it within a fraction of a second and stops its tool.
cancel_requested = threading.Event()
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class _Limit:
    stage: str
    seconds: float
    deadline: float  # time.monotonic() value


_stages = threading.local()
"""Per thread, the running build stage and its time limit (stages run side by side on threads of their own)."""


def _current() -> _Limit | None:
    limit: _Limit | None = getattr(_stages, "limit", None)
    return limit


@contextmanager
def time_limit(stage: str, seconds: float) -> Iterator[None]:
    """Commands run inside stop when `stage` has run for `seconds` (the project's `[build] timeout`)."""
    previous = _current()
    _stages.limit = _Limit(stage, seconds, time.monotonic() + seconds)
    try:
        yield
    finally:
        _stages.limit = previous


def log_hint() -> str | None:
    """Where a failed command's whole output is: the build log, during a build (outside one, e.g. `kiln inspect`,
    nothing keeps it, and the message already ends with its last lines)."""
    return "the full output is in the build log" if _current() is not None else None


def check_time(doing: str = "") -> None:
    """Raise TimedOut when the running stage's time is up (the engine calls this at its checkpoints)."""
    limit = _current()
    if limit is not None and time.monotonic() > limit.deadline:
        raise _timed_out(limit, doing)


def result_of(future: Future[T]) -> T:
    """`future.result()`, waking every fraction of a second: a SIGTERM that the kernel hands to a worker thread runs
    Kiln's handler only once the main thread runs Python again, so a main thread blocked for good would miss it."""
    while True:
        try:
            return future.result(timeout=_POLL_SECONDS)
        except FutureTimeout:
            continue


def _timed_out(limit: _Limit, doing: str) -> TimedOut:
    stopped = f": {doing} was still running and was stopped" if doing else ""
    return TimedOut(
        f"the {limit.stage} stage ran out of time after {_duration(limit.seconds)} ([build] timeout){stopped}",
        hint=f"if this build needs longer, raise [build] timeout in the project file (now {limit.seconds:.0f}, in "
             "seconds); otherwise the build log shows what it was waiting for",
    )


def _duration(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:g} s"


def start(args: list[str], *, stdin: Any = subprocess.DEVNULL, cwd: Path | None = None,
          env: Mapping[str, str] | None = None, stdout: Any = subprocess.PIPE,
          stderr: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """Start `args` (argv[0] already looked up) in a new process group, stdout and stderr piped by default."""
    try:
        return subprocess.Popen(args, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr,
                                process_group=0)
    except OSError as e:
        raise ToolFailed(f"could not start {args[0]}: {e.strerror}") from e


def stop(process: subprocess.Popen[bytes]) -> None:
    """End the command and everything it started (its process group), then reap it.

    The group is signalled before the command is reaped, so its id cannot have been reused by then."""
    if process.returncode is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
    process.wait()


def deadline_for(timeout: float | None) -> tuple[float | None, _Limit | None]:
    """When a command started now must stop: its own `timeout` or the stage's limit, whichever comes first.
    Returns that time and the stage limit when the stage's limit is the one that applies."""
    own = None if timeout is None else time.monotonic() + timeout
    limit = _current()
    if limit is not None and (own is None or limit.deadline < own):
        return limit.deadline, limit
    return own, None


def check_stop(process: subprocess.Popen[bytes], deadline: float | None, limit: _Limit | None, name: str,
               timeout: float | None) -> None:
    """Stop the command (raising) when the build was cancelled or its time is up."""
    if cancel_requested.is_set():
        stop(process)
        raise BuildCancelled("build cancelled")
    if deadline is not None and time.monotonic() > deadline:
        stop(process)
        if limit is not None:
            raise _timed_out(limit, name)
        raise ToolFailed(f"{name} took longer than {timeout:.0f} s and was stopped")


# Which Debian package provides each command Kiln calls, for the "install X" hint. Each installer kind declares its
# own tools in its SPEC (kiln.kinds.spec.Tool); the registry adds them here (declare_packages).
DEBIAN_PACKAGES: dict[str, str] = {
    "7z": "p7zip-full",
    "strip": "binutils",
    "readelf": "binutils",
    "gcc": "gcc",
    "x86_64-w64-mingw32-gcc": "gcc-mingw-w64-x86-64",
    "x86_64-w64-mingw32-windres": "binutils-mingw-w64-x86-64",
    "osslsigncode": "osslsigncode",
    "setsid": "util-linux",
    "wine": "wine",
    "fusermount3": "fuse3",
}


def declare_packages(packages: Mapping[str, str]) -> None:
    """Name the Debian package of more commands (an installer kind's, as its SPEC declares them)."""
    DEBIAN_PACKAGES.update(packages)


def which(name: str) -> str | None:
    """Full path of `name` on PATH, or None."""
    return shutil.which(name)


def require(name: str) -> str:
    """Full path of `name`, or a ToolMissing error naming the Debian package to install."""
    found = which(name)
    if found is None:
        package = DEBIAN_PACKAGES.get(name, name)
        raise ToolMissing(
            f"'{name}' is not installed (needed for this build)",
            hint=f"install it with: sudo apt-get install {package}",
        )
    return found


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
    timeout: float | None = None,
    check: bool = True,
    what: str | None = None,
    max_output: int | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run argv[0] (looked up with `require`) and return its result, logging argv, cwd, env overlay and output.

    `env` is an overlay on os.environ, never a replacement. On failure raises ToolFailed whose message says
    what Kiln was doing (`what`) and ends with the command's last lines of output. With `max_output` (a tool
    that lists a file Kiln did not make), the output goes to temporary files, and a tool printing more than that
    many bytes is stopped (ToolFailed) before Kiln reads any of it into memory.
    """
    args = [str(a) for a in argv]
    args[0] = require(args[0]) if os.sep not in args[0] else args[0]
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    log.debug("run %s (cwd=%s, env+=%s)", args, cwd, dict(env or {}))
    started = time.monotonic()
    stdin = subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL
    if max_output is not None and input_bytes is None:
        result = _run_bounded(args, cwd, full_env, timeout, what, max_output)
    else:
        result = _wait(start(args, cwd=cwd, env=full_env, stdin=stdin), args, input_bytes, timeout, what)
    elapsed = time.monotonic() - started
    log.debug("exit %d after %.2fs", result.returncode, elapsed)
    for stream_name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        if data:
            log.debug("%s:\n%s", stream_name, data.decode(errors="replace").rstrip())
    if check and result.returncode != 0:
        tail = (result.stderr or result.stdout).decode(errors="replace").strip().splitlines()[-12:]
        detail = "\n    ".join(tail) if tail else "(no output)"
        raise ToolFailed(f"{what or Path(args[0]).name} failed (exit {result.returncode}):\n    {detail}",
                         hint=log_hint())
    return result


def _run_bounded(args: list[str], cwd: Path | None, env: Mapping[str, str], timeout: float | None,
                 what: str | None, max_output: int) -> subprocess.CompletedProcess[bytes]:
    """`run` with the output in temporary files, stopped past `max_output` bytes (stdout and stderr together)."""
    deadline, limit = deadline_for(timeout)
    name = what or Path(args[0]).name
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = start(args, cwd=cwd, env=env, stdout=out, stderr=err)
        try:
            while True:
                try:
                    process.wait(timeout=_POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    check_stop(process, deadline, limit, name, timeout)
                    if os.fstat(out.fileno()).st_size + os.fstat(err.fileno()).st_size > max_output:
                        stop(process)
                        raise ToolFailed(f"{name} printed more than {max_output >> 20} MiB and was stopped (a "
                                         "file that lists as that much is not one Kiln made)") from None
        except BaseException:
            stop(process)
            raise
        sizes = os.fstat(out.fileno()).st_size + os.fstat(err.fileno()).st_size
        if sizes > max_output:  # it printed that much in its last moments
            raise ToolFailed(f"{name} printed more than {max_output >> 20} MiB (a file that lists as that much is "
                             "not one Kiln made)")
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, process.returncode, out.read(), err.read())


def _wait(
    process: subprocess.Popen[bytes], args: list[str], input_bytes: bytes | None, timeout: float | None,
    what: str | None,
) -> subprocess.CompletedProcess[bytes]:
    """Collect a tool's output, stopping it (and its process group) when the build is cancelled, its time is
    up, or Kiln itself is interrupted (Ctrl-C outside a build)."""
    deadline, limit = deadline_for(timeout)
    name = what or Path(args[0]).name
    pending_input = input_bytes
    with process:
        try:
            while True:
                try:
                    stdout, stderr = process.communicate(pending_input, timeout=_POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    pending_input = None  # communicate() keeps feeding what it started with
                    check_stop(process, deadline, limit, name, timeout)
        except BaseException:
            stop(process)
            raise
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
