"""The one place external commands are run: lookup on PATH, argv lists only, output captured to the build log."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from kiln.support.errors import BuildCancelled, ToolFailed, ToolMissing

log = logging.getLogger("kiln.tools")

# Set by the engine's signal handler. A signal handler must not raise (it may land inside native code, e.g.
# lief), so it only sets this flag; `run` notices it within a fraction of a second and stops its tool.
cancel_requested = threading.Event()
_POLL_SECONDS = 0.2

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
) -> subprocess.CompletedProcess[bytes]:
    """Run argv[0] (looked up with `require`) and return its result, logging argv, cwd, env overlay and output.

    `env` is an overlay on os.environ, never a replacement. On failure raises ToolFailed whose message says
    what Kiln was doing (`what`) and ends with the command's last lines of output.
    """
    args = [str(a) for a in argv]
    args[0] = require(args[0]) if os.sep not in args[0] else args[0]
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    log.debug("run %s (cwd=%s, env+=%s)", args, cwd, dict(env or {}))
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            args, cwd=cwd, env=full_env, stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except OSError as e:
        raise ToolFailed(f"could not start {args[0]}: {e.strerror}") from e
    result = _wait(process, args, input_bytes, timeout, what)
    elapsed = time.monotonic() - started
    log.debug("exit %d after %.2fs", result.returncode, elapsed)
    for stream_name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        if data:
            log.debug("%s:\n%s", stream_name, data.decode(errors="replace").rstrip())
    if check and result.returncode != 0:
        tail = (result.stderr or result.stdout).decode(errors="replace").strip().splitlines()[-12:]
        detail = "\n    ".join(tail) if tail else "(no output)"
        raise ToolFailed(
            f"{what or Path(args[0]).name} failed (exit {result.returncode}):\n    {detail}",
            hint="the full output is in the build log",
        )
    return result


def _wait(
    process: subprocess.Popen[bytes], args: list[str], input_bytes: bytes | None, timeout: float | None,
    what: str | None,
) -> subprocess.CompletedProcess[bytes]:
    """Collect a tool's output, stopping it when the build is cancelled or its time is up."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pending_input = input_bytes
    with process:
        while True:
            try:
                stdout, stderr = process.communicate(pending_input, timeout=_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pending_input = None  # communicate() keeps feeding what it started with
                if cancel_requested.is_set():
                    process.kill()
                    process.wait()
                    raise BuildCancelled("build cancelled") from None
                if deadline is not None and time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    name = what or Path(args[0]).name
                    raise ToolFailed(f"{name} took longer than {timeout:.0f} s and was stopped") from None
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
