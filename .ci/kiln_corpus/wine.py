"""The MSI installed under Wine and its command run there, with the Windows CPython the MSI carries (python.org's
embeddable runtime: the only one obtainable here). As the test suite does (tests/kit/wine.py): one prefix initialised
per run, copied for each app; no display for console apps (a dialog would wait forever), a private HOME, no
Mono/Gecko installs, no menu entries, the launcher's error dialogs off; every Wine command with a time limit, and
`wineserver -k` after each app."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from kiln_corpus import proc
from kiln_corpus.apps import App
from kiln_corpus.results import Step
from kiln_corpus.runs import Xvfb, display_env, normalize, run_console, run_gui

_MISSING_DLL = re.compile(r"err:module:import_dll Library (\S+) \(which is needed by L?\"?(.*?)\"?\) not found")


def missing_dll(stderr: str) -> str:
    """What Wine's loader said it could not find (the first DLL missing, and who needs it), or ""."""
    match = _MISSING_DLL.search(stderr)
    return f"{match[1]}, needed by {match[2].replace(chr(92), '/').rsplit('/', 1)[-1]}, not found" if match else ""


def wine_env(base: Path, prefix: Path) -> dict[str, str]:
    (base / "home").mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(base / "home"), "WINEPREFIX": str(prefix),
            "WINEDEBUG": "-all", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "WINEDLLOVERRIDES": "winemenubuilder.exe=d;mscoree=d;mshtml=d", "KILN_LAUNCHER_NO_DIALOG": "1"}


def _install_roots(prefix: Path) -> list[Path]:
    drive = prefix / "drive_c"
    return [*drive.glob("users/*/AppData/Local/Programs"), drive / "Program Files", drive / "Program Files (x86)"]


def _folders(prefix: Path) -> set[Path]:
    return {p.relative_to(prefix) for root in _install_roots(prefix) if root.is_dir() for p in root.iterdir()}


class Wine:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._template: Path | None = None
        self._error = ""

    def template(self) -> Path:
        """A prefix made once per run (wineboot takes a while); each app gets a copy."""
        if self._template is None and not self._error:
            prefix = self.root / "template"
            env = wine_env(self.root, prefix)
            ran = proc.run(["wine", "wineboot", "-i"], timeout=300, logs=self.root / "logs" / "wineboot", env=env)
            proc.run(["wineserver", "-w"], timeout=300, logs=self.root / "logs" / "wineserver-w", env=env)
            if ran.returncode != 0:
                self._error = f"wineboot failed: {proc.first_error_line(ran.output)}"
            else:
                for user in (prefix / "drive_c" / "users").iterdir():
                    for folder in (p for p in user.iterdir() if p.is_symlink()):
                        folder.unlink()  # Desktop, Documents... point at $HOME: make them the prefix's own
                        folder.mkdir()
                self._template = prefix
        if self._template is None:
            raise RuntimeError(self._error)
        return self._template

    def check(self, msi: Path, app: App, work: Path, xvfb: Xvfb, timeout: float, gui_seconds: float,
              keep: bool) -> tuple[Step, list[str]]:
        """Install `msi` (msiexec /i … /qn) into a fresh prefix and run the installed command."""
        notes: list[str] = []
        try:
            template = self.template()
        except RuntimeError as e:
            return Step("crash", str(e)), notes
        prefix = work / "wine-prefix"
        shutil.rmtree(prefix, ignore_errors=True)
        copied = proc.run(["cp", "-a", template, prefix], timeout=300, logs=work / "logs" / "wine-copy")
        if copied.returncode != 0:
            return Step("crash", f"cannot copy the Wine prefix: {proc.first_error_line(copied.output)}"), notes
        env = wine_env(work, prefix)
        before = _folders(prefix)
        try:
            installed = proc.run(["wine", "msiexec", "/i", msi, "/qn", "/l*v", work / "logs" / "msiexec.log"],
                                 timeout=600, logs=work / "logs" / "msiexec", env=env)
            if installed.returncode != 0:
                reason = "timed out" if installed.timed_out else f"exit {installed.returncode}"
                return Step("crash", f"msiexec /i failed ({reason}; log: msiexec.log)", installed.seconds), notes
            new = sorted(_folders(prefix) - before)
            if len(new) != 1:
                return Step("crash", f"the install made {len(new)} program folders, not one", installed.seconds), notes
            folder = prefix / new[0]
            exe, note = _executable(folder, app.command[0])
            if note:
                notes.append(f"MSI: {note}")
            if exe is None:
                return Step("crash", note, installed.seconds), notes
            # the loader's errors name a DLL that is missing (Wine lacks some of Windows' own)
            run_env = {**env, **display_env(app, xvfb), "WINEDEBUG": "-all,err+module"}
            logs = work / "logs" / "run-msi"
            if app.gui:
                step = run_gui(["wine", exe, *app.command[1:]], app, run_env, logs, gui_seconds, work, None)
            else:
                step = run_console(["wine", exe, *app.command[1:]], app, run_env, logs, timeout, work,
                                   [app.command[0], exe.name])
            step.seconds = (step.seconds or 0) + installed.seconds
            dll = missing_dll(proc.read_logs(logs)[1]) if step.status != "ok" else ""
            if dll:
                step.detail += f" (Wine: {dll})"
            shipped = {normalize(p.name.removesuffix(".dist-info").rsplit("-", 1)[0])
                       for p in folder.rglob("*.dist-info")}
            missing = [name for name in app.windows_has if normalize(name) not in shipped]
            if missing:  # a Windows-only dependency left out: wrong even when the command did not need it
                step.status = "mismatch" if step.status == "ok" else step.status
                step.detail = "; ".join(filter(None, [f"{', '.join(missing)} (Windows-only) not in the installed app",
                                                      step.detail]))
            return step, notes
        finally:
            proc.run(["wineserver", "-k"], timeout=60, logs=work / "logs" / "wineserver-k", env=env)
            if not keep:
                shutil.rmtree(prefix, ignore_errors=True)


def _executable(folder: Path, command: str) -> tuple[Path | None, str]:
    """The installed command: COMMAND.exe, else the one .exe at the top of the install folder."""
    named = folder / f"{command}.exe"
    if named.is_file():
        return named, ""
    found = [p for p in folder.iterdir() if p.suffix.lower() == ".exe"]
    if len(found) == 1:
        return found[0], f"the installed program is {found[0].name!r}, not {command}.exe"
    return None, f"no {command}.exe and {len(found)} other .exe files in the install folder"
