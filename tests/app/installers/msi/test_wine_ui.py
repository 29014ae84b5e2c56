"""The MSI's wizard driven under Wine and Xvfb with xdotool: the licence refused keeps Next disabled, accepted it
installs into the folder typed on the folder page, Finish launches the app, and Remove from the maintenance page
uninstalls it. Each page is captured (Pillow's ImageGrab) into the test's folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit
from kit import msi as msi_kit
from kit.wine import Prefix
from PIL import ImageGrab

pytestmark = [pytest.mark.wine, pytest.mark.slow, pytest.mark.long]  # bash .ci/long
LICENCE = "Tally Licence\n\nYou may use this app. {Braces} and back\\slashes and Ünïcode stay as they are.\n"
CHOSEN = "C:\\Kiln Chosen\\Tally"




@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private Xvfb display for the module (stopped by its process id)."""
    msi_kit.need("Xvfb", "xdotool")
    number = next(n for n in range(90, 140) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert time.monotonic() < deadline and server.poll() is None, "Xvfb did not start"
        time.sleep(0.1)
    yield f":{number}"
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture(scope="module")
def msi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A per-machine GUI app with a licence file: every page of the wizard."""
    msi_kit.need("wixl", "msibuild", "msiinfo", "x86_64-w64-mingw32-gcc")
    base = tmp_path_factory.mktemp("ui-msi")
    archive = msi_kit.fake_runtime_archive(base, msi_kit.compile_stub_dll(base / "python311.dll"))
    folder = base / "app"
    folder.mkdir()
    msi_kit.write_app(folder)
    (folder / "LICENSE").write_text(LICENCE, encoding="utf-8")
    project = msi_kit.write_project(folder, archive, scope="per-machine", kind="gui")
    document = tomlkit.parse(project.read_text(encoding="utf-8"))
    document["app"]["license_file"] = "LICENSE"  # type: ignore[index]
    project.write_text(tomlkit.dumps(document), encoding="utf-8")
    return msi_kit.built_msi(project, base / "cache")


class Screen:
    """The wizard's windows on the Xvfb display, found by title, driven with xdotool."""

    def __init__(self, display: str, env: dict[str, str], shots: Path) -> None:
        self.display, self.env, self.shots = display, {**env, "DISPLAY": display}, shots
        shots.mkdir(exist_ok=True)

    def titles(self) -> list[str]:
        found = subprocess.run(["xdotool", "search", "--name", "Setup", "getwindowname", "%@"], env=self.env,
                               capture_output=True, text=True, timeout=30)
        return [line for line in found.stdout.splitlines() if line.strip()]

    def wait_for(self, suffix: str, timeout: float = 120) -> str:
        """Wait until the dialog whose title ends with `suffix` shows; return its window id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = subprocess.run(["xdotool", "search", "--name", f"Setup{suffix}$"], env=self.env,
                                   capture_output=True, text=True, timeout=30).stdout.split()
            if found:
                time.sleep(0.5)  # drawn
                return found[0]
            time.sleep(0.3)
        raise AssertionError(f"no dialog 'Setup{suffix}' within {timeout} s; showing: {self.titles()}")

    def keys(self, window: str, *keys: str) -> None:
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=self.env, check=True, timeout=30)
        subprocess.run(["xdotool", "key", "--window", window, *keys], env=self.env, check=True, timeout=30)

    def type(self, window: str, text: str) -> None:
        subprocess.run(["xdotool", "type", "--window", window, text], env=self.env, check=True, timeout=30)

    def shot(self, name: str) -> None:
        ImageGrab.grab(xdisplay=self.display).save(self.shots / f"{name}.png")


def test_wizard_licence_folder_launch_and_remove(prefix: Prefix, display: str, msi: Path,  # type: ignore
                                                 tmp_path: Path) -> None:
    screen = Screen(display, prefix.env, tmp_path / "screens")
    record = tmp_path / "launched.bin"
    env = {**screen.env, "KILN_STUB_OUT": "Z:" + str(record).replace("/", "\\")}
    chosen = prefix.drive_c / "Kiln Chosen" / "Tally"
    install = subprocess.Popen(["wine", "msiexec", "/i", str(msi), "/l*v", str(tmp_path / "install.log")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        welcome = screen.wait_for("")
        screen.shot("1-welcome")
        screen.keys(welcome, "Return")
        licence = screen.wait_for(": licence")
        screen.shot("2-licence")
        screen.keys(licence, "Return", "alt+n")  # Next is disabled until the licence is accepted
        time.sleep(2)
        assert screen.titles()[-1].endswith(": licence") and not chosen.exists()
        screen.keys(licence, "alt+a")  # "I accept"
        screen.shot("3-licence-accepted")
        screen.keys(licence, "alt+n")
        folder = screen.wait_for(": install folder")
        screen.keys(folder, "ctrl+a")
        screen.type(folder, CHOSEN)
        screen.shot("4-folder")
        screen.keys(folder, "alt+i")
        finish = screen.wait_for(": complete", timeout=180)
        screen.shot("5-finish")
        assert (chosen / "hello.exe").is_file() and (chosen / "kiln_boot.py").is_file()
        assert not (prefix.drive_c / "Program Files" / msi_kit.FOLDER_NAME).exists()
        screen.keys(finish, "Return")  # Finish, with "Launch" ticked
        assert install.wait(timeout=120) == 0
        deadline = time.monotonic() + 60
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        _, _, argv0, *rest = record.read_bytes().decode("utf-8").split("\0")[:-1]
        assert argv0 == CHOSEN + "\\hello.exe" and rest[-1] == CHOSEN + "\\kiln_boot.py"

        # Apps & Features' Remove runs `msiexec /x` with the full UI: the maintenance page, then Remove.
        remove = subprocess.Popen(["wine", "msiexec", "/x", str(msi), "/l*v", str(tmp_path / "remove.log")],
                                  env=screen.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        maintenance = screen.wait_for(": change")
        screen.shot("6-maintenance")
        screen.keys(maintenance, "alt+m")  # Remove
        done = screen.wait_for(": complete", timeout=180)
        screen.keys(done, "Return")
        assert remove.wait(timeout=120) == 0
        text = (tmp_path / "remove.log").read_bytes().decode("utf-8", errors="replace")
        log = "\n".join(line for line in text.splitlines() if "INSTALLDIR" in line or "REMOVE" in line)
        assert not (chosen / "hello.exe").exists() and not (chosen / "kiln_boot.py").exists(), log[-3000:]
    finally:
        for process in (install, locals().get("remove")):
            if isinstance(process, subprocess.Popen) and process.poll() is None:
                process.kill()
        subprocess.run(["wineserver", "-k"], env=prefix.env, capture_output=True, timeout=60)
        if os.environ.get("KILN_MSI_SCREENSHOTS"):  # refresh docs/images/msi-*.png from this run
            for shot in sorted((tmp_path / "screens").glob("*.png")):
                shutil.copy(shot, Path(os.environ["KILN_MSI_SCREENSHOTS"]) / f"msi-{shot.name}")
