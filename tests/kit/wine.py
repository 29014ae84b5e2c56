"""Wine for the MSI tests: the environment that keeps Wine headless and out of $HOME, and what a test does in a
prefix. The fixtures that make prefixes are in
tests/app/installers/msi/conftest.py."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kit.testing import run_in_group


def wine_env(base: Path, prefix: Path) -> dict[str, str]:
    """No display (a dialog would block forever), a private HOME, no Mono/Gecko installs, no menu entries."""
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(HOME=str(base / "home"), WINEPREFIX=str(prefix), WINEDEBUG="-all", LANG="C.UTF-8",
               LC_ALL="C.UTF-8", WINEDLLOVERRIDES="winemenubuilder.exe=d;mscoree=d;mshtml=d",
               KILN_LAUNCHER_NO_DIALOG="1")
    (base / "home").mkdir(exist_ok=True)
    return env


@dataclass
class Prefix:
    """One Wine prefix (a copy of the session's template) and how to run things in it."""

    root: Path
    env: dict[str, str]

    @property
    def drive_c(self) -> Path:
        return self.root / "drive_c"

    @property
    def user_dir(self) -> Path:
        (user,) = [p for p in (self.drive_c / "users").iterdir() if p.name != "Public"]
        return user

    def run(self, *args: str | Path, env: dict[str, str] | None = None, timeout: float = 180) -> int:
        result = run_in_group(["wine", *map(str, args)], env={**self.env, **(env or {})}, timeout=timeout)
        return result.returncode

    def msiexec(self, action: str, msi: Path) -> int:
        return self.run("msiexec", action, msi, "/qn", "/l*v", self.root.parent / f"{msi.stem}{action[1:]}.log")

    def installed_product_codes(self) -> set[str]:
        out = run_in_group(["wine", "uninstaller", "--list"], env=self.env, timeout=120)
        return {line.split("|")[0] for line in out.stdout.decode(errors="replace").splitlines() if "|" in line}

    def user_registry(self) -> str:
        return (self.root / "user.reg").read_text(encoding="utf-8", errors="replace")
