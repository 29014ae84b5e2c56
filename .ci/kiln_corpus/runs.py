"""Running what was built, as a user would: a console command's output is compared with what the list expects; a
GUI app must still be running after a while, with no traceback in its output or in the files it wrote under its
(fresh) home folder. Also the X server GUI apps run on."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from kiln_corpus import proc
from kiln_corpus.apps import App
from kiln_corpus.results import Step

TRACEBACK = "Traceback (most recent call last)"


class Xvfb:
    """One X server for the whole run, started when the first GUI app needs it."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self.display = ""

    def start(self) -> str:
        if self._process is None:
            read, write = os.pipe()
            self._process = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "1280x1024x24"],
                pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            os.close(write)
            with os.fdopen(read) as pipe:
                number = pipe.readline().strip()  # Xvfb writes the display number once it accepts connections
            if not number.isdigit():
                raise RuntimeError("Xvfb did not start")
            self.display = f":{number}"
        return self.display

    def stop(self) -> None:
        if self._process is not None:
            proc.end_group(self._process)
            self._process = None


def display_env(app: App, xvfb: Xvfb) -> dict[str, str]:
    """DISPLAY for GUI apps (Xvfb); QT_QPA_PLATFORM=offscreen for the Qt apps listed so."""
    env = {}
    if app.gui:
        env["DISPLAY"] = xvfb.start()
    if app.display == "offscreen":
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def clean_env(home: Path, app: App, extra: Mapping[str, str]) -> dict[str, str]:
    """What `env -i` leaves, plus a fresh home (with the list's home_file) and a PATH: nothing of this machine's
    Python or Kiln leaks in."""
    home.mkdir(parents=True, exist_ok=True)
    if app.home_file is not None:
        path, text = app.home_file
        (home / path).parent.mkdir(parents=True, exist_ok=True)
        (home / path).write_text(text, encoding="utf-8")
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", **extra}


def _traceback_in_files(home: Path) -> str:
    """The error line of a traceback the app wrote into a file under its home folder (logs), or ""."""
    for path in sorted(home.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 4 * 1024 * 1024:
            text = path.read_bytes().decode("utf-8", errors="replace")
            if TRACEBACK in text:
                tail = text[text.rindex(TRACEBACK):]
                return f"{path.relative_to(home)}: {proc.first_error_line(tail)}"
    return ""


def expected_texts(app: App, progs: Sequence[str]) -> list[str]:
    """The list's expect= with {prog} read as the command's name or the file the user started (the AppImage, the
    launcher, the .exe): what a program says its name is when it prints sys.argv[0]."""
    return [" ".join(app.expect.replace("{prog}", prog).split()) for prog in dict.fromkeys(progs)]


def run_console(argv: Sequence[str | Path], app: App, env: Mapping[str, str], logs: Path, timeout: float,
                cwd: Path, progs: Sequence[str]) -> Step:
    ran = proc.run(argv, timeout=timeout, logs=logs, env=env, cwd=cwd)
    if ran.timed_out:
        return Step("crash", f"still running after {timeout:.0f} s (ended)", ran.seconds)
    if ran.returncode != 0:
        return Step("crash", f"exit {ran.returncode}: {proc.one_line(proc.first_error_line(ran.output))}", ran.seconds)
    output = " ".join(ran.output.split())
    texts = expected_texts(app, progs)
    if not any(text in output for text in texts):
        first = proc.first_error_line(ran.output) or "(no output)"
        return Step("mismatch", f"no {' or '.join(map(repr, texts))} in the output; it says: {proc.one_line(first)}",
                    ran.seconds)
    return Step("ok", "", ran.seconds)


def run_gui(argv: Sequence[str | Path], app: App, env: Mapping[str, str], logs: Path, seconds: float, cwd: Path,
            home: Path | None) -> Step:
    """Start the app and watch it for `seconds`: ok if it is still running (with the process the list names, if
    any) and no traceback appeared."""
    start = time.monotonic()
    process = proc.start(argv, logs=logs, env=env, cwd=cwd)
    code = None
    while time.monotonic() - start < seconds and code is None:
        time.sleep(0.5)
        code = process.poll()
    running = proc.session_commands(process.pid) if code is None else []
    proc.end_group(process)
    elapsed = time.monotonic() - start
    out, err = proc.read_logs(logs)
    text = out + err
    if code is not None:
        return Step("crash", f"exited ({code}) after {elapsed:.0f} s: {proc.one_line(proc.first_error_line(text))}",
                    elapsed)
    if TRACEBACK in text:
        printed = proc.first_error_line(text[text.index(TRACEBACK):])
        return Step("crash", f"running, but printed: {proc.one_line(printed)}", elapsed)
    logged = _traceback_in_files(home) if home is not None else ""
    if logged:
        return Step("crash", f"running, but logged: {proc.one_line(logged)}", elapsed)
    if app.gui_running and not any(app.gui_running in command for command in running):
        return Step("crash", f"running, but no process of it runs {app.gui_running!r} after {elapsed:.0f} s", elapsed)
    return Step("ok", "", elapsed)


def run_built(program: Path, app: App, env: Mapping[str, str], logs: Path, timeout: float, gui_seconds: float,
              home: Path) -> Step:
    argv: list[str | Path] = [program, *app.command[1:]]
    if app.gui:
        return run_gui(argv, app, env, logs, gui_seconds, home, home)
    return run_console(argv, app, env, logs, timeout, home, [app.command[0], program.name])


def appimage(image: Path, app: App, work: Path, xvfb: Xvfb, timeout: float, gui_seconds: float) -> Step:
    """The AppImage with the command's arguments, in a clean environment with a fresh home."""
    home = work / "home-appimage"
    env = clean_env(home, app, display_env(app, xvfb))
    return run_built(image, app, env, work / "logs" / "run-appimage", timeout, gui_seconds, home)


def launcher_in(folder: Path, command: str) -> tuple[Path | None, str]:
    """The portable's launcher: the file named after the command, else the one executable file at its top."""
    named = folder / command
    if named.is_file() and os.access(named, os.X_OK):
        return named, ""
    found = [p for p in folder.iterdir() if p.is_file() and os.access(p, os.X_OK)]
    if len(found) == 1:
        return found[0], f"the launcher is {found[0].name!r}, not the command {command!r}"
    return None, f"no launcher named {command!r} and {len(found)} executable files at the top"


def portable(archive: Path, app: App, work: Path, xvfb: Xvfb, timeout: float, gui_seconds: float
             ) -> tuple[Step, str]:
    """Unpacked with GNU tar (not Kiln's reader) and its launcher run like the AppImage."""
    dest = work / "portable-unpacked"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    ran = proc.run(["tar", "--zstd", "-xf", archive, "-C", dest], timeout=300, logs=work / "logs" / "untar-portable")
    if ran.returncode != 0:
        return Step("crash", f"tar could not unpack it: {proc.first_error_line(ran.output)}", ran.seconds), ""
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        return Step("crash", f"{len(tops)} folders at the top of the archive, not one", ran.seconds), ""
    launcher, note = launcher_in(tops[0], app.command[0])
    if launcher is None:
        return Step("crash", note), ""
    home = work / "home-portable"
    env = clean_env(home, app, display_env(app, xvfb))
    step = run_built(launcher, app, env, work / "logs" / "run-portable", timeout, gui_seconds, home)
    return step, note


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()
