"""What the AppImage tests share: running a built image, reading its payload with unsquashfs, and a tiny staged
bundle that the real AppImage installer builds in a second."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kiln.installers.appimage.format import elf_end_offset
from kiln.installers.appimage.installer import AppImageInstaller
from kiln.installers.appimage.options import AppImageOptions
from kiln.kinds.contract import BuildContext, StagedApp
from kiln.model.project import AppSection, EntrySection, Project
from kiln.support.targets import TARGETS
from kit.testing import find_tool as _tool

PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def run(argv: list[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, env=env, cwd=cwd,
                          check=False)


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A clean-ish environment with HOME, caches and temp files inside `tmp`."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "XDG_CACHE_HOME": str(tmp / "cache"),
           "TMPDIR": str(tmp), "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def listing(image: Path, long: bool = False) -> list[str]:
    """Paths (or -lls lines) in the payload, via unsquashfs at the offset the runtime itself reports."""
    offset = run([image, "--appimage-offset"]).stdout.strip()
    result = run([_tool("unsquashfs"), "-o", offset, "-lls" if long else "-l", image])
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "squashfs-root" in line]
    return lines if long else [line.removeprefix("squashfs-root").lstrip("/") for line in lines]


def cat(image: Path, member: str) -> bytes:
    offset = str(elf_end_offset(image))
    return subprocess.run([_tool("unsquashfs"), "-o", offset, "-cat", str(image), member], capture_output=True,
                          check=True).stdout


class Recorder:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def progress(self, fraction: float, message: str = "") -> None:
        self.messages.append(f"{fraction:.2f} {message}")

    def log(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.messages.append(f"warning: {message}")


# -- a tiny bundle: fast builds of the real installer code --------------------------------------------------------


def tiny_staged(root: Path, kind: str = "console", marker: Path | None = None) -> StagedApp:
    bundle = root / "bundle"
    (bundle / "runtime" / "bin").mkdir(parents=True)
    python = bundle / "runtime" / "bin" / f"python{PY}"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    (bundle / "app").mkdir()
    (bundle / "app" / "data.txt").write_text("payload data\n", encoding="utf-8")
    (bundle / "packages").mkdir()
    marker_line = f"open({str(marker)!r}, 'a').write('ran\\n')\n" if marker else ""
    (bundle / "kiln_boot.py").write_text(
        "import json, os, sys\n" + marker_line
        + "print(json.dumps({'args': sys.argv[1:], 'argv0': os.environ.get('KILN_ARGV0')}))\n"
        "sys.exit(int(sys.argv[2]) if sys.argv[1:2] == ['--exit'] else 0)\n",
        encoding="utf-8",
    )
    (bundle / "tiny").write_text("#!/bin/sh\n# Written by Kiln: the portable kind's launcher\n", encoding="utf-8")
    app = AppSection(name="tiny", version="2.0", identifier="org.example.tiny", display_name="Tiny App",
                     description="A tiny test app")
    return StagedApp(bundle=bundle, target=TARGETS["linux-x86_64"], python_version=PY, app=app,
                     entry=EntrySection(module="tiny", kind=kind),  # type: ignore[arg-type]
                     icon_source=None)


def tiny_build(root: Path, staged: StagedApp, options: AppImageOptions | None = None) -> Path:
    installer = AppImageInstaller(options or AppImageOptions())
    project = Project(app=staged.app, entry=staged.entry)
    ctx = BuildContext(project=project, base_dir=root, work_dir=root / "work", cache_dir=root / "cache",
                       reporter=Recorder())
    out = root / "out" / installer.artifact_name(staged)
    installer.build(ctx, staged, out)
    return out
