"""Shared helpers of the MSI tests.

A fake python-build-standalone Windows runtime (python.exe, pythonw.exe, python311.dll, Lib/, an empty DLLs/),
a small app with hostile display strings and a non-ASCII data file, kiln.toml writing, builds through the CLI,
and readers: msiinfo (tables, summary), msiextract, pymsi.
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from kit import projects
from kit.runner import kiln
from kit.testing import require_tools as need

REPO = Path(__file__).resolve().parents[2]
STUB_DLL_SOURCE = REPO / "tests" / "resources" / "stub_python_dll.c"
ARCHIVE_NAME = "cpython-3.11.9+20240726-x86_64-pc-windows-msvc-install_only.tar.gz"
UPGRADE_CODE = "6F1E0C7A-8F43-4E2B-9C1D-1A2B3C4D5E6F"
# XML specials, quotes, non-Windows-1252 characters (wixl crashes on them), `$(...)` (wixl's preprocessor).
HOSTILE_TITLE = 'Hellö & <Wörld> "Łódź" 日本 $(env.HOME)$'
HOSTILE_PUBLISHER = "ACME™ & Søns <Łtd> 'q' $(var.x)"
HOSTILE_DESCRIPTION = 'Says "hi" & <waves> — ünïcode 日本 $$('
HOMEPAGE = "https://example.org/?a=1&b=2"
FOLDER_NAME = "Hellö & _Wörld_ _Łódź_ 日本 $(env.HOME)$"  # the title made a Windows file name: < > " replaced
DATA_FILE = "hello/données/café ☕.txt"
DOLLAR_FILE = "hello/pay$(env.HOME)$.txt"



def compile_stub_dll(out: Path) -> Path:
    """The launcher engineer's stand-in python311.dll: Py_Main records its arguments (see the C file)."""
    need("x86_64-w64-mingw32-gcc")
    subprocess.run(["x86_64-w64-mingw32-gcc", "-shared", "-O2", "-s", "-o", str(out), str(STUB_DLL_SOURCE)],
                   check=True, capture_output=True)
    return out


def fake_runtime_archive(folder: Path, dll: Path | None = None) -> Path:
    """A python-build-standalone-style Windows install_only archive. Any PE serves as python.exe (never run);
    the DLL is the stub when given (Wine tests), else any PE bytes."""
    pe = (REPO / "resources" / "launchers" / "windows" / "launcher-console.exe").read_bytes()
    files = {
        "python/python.exe": pe,
        "python/pythonw.exe": pe,
        "python/python311.dll": dll.read_bytes() if dll else pe,
        "python/Lib/os.py": b"# stand-in for the standard library\n",
        "python/Lib/encodings/__init__.py": b"",
        "python/include/patchlevel.h": b'#define PY_VERSION "3.11.9"\n',
    }
    archive = folder / ARCHIVE_NAME
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("python", "python/Lib", "python/Lib/encodings", "python/DLLs", "python/include"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if name.endswith(".exe") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return archive


def write_app(root: Path, extra_module: str = "") -> None:
    package = root / "src" / "hello"
    (package / "données").mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("def main():\n    print('hi')\n    return 0\n", encoding="utf-8")
    (root / "src" / DATA_FILE).write_text("données ☕\n", encoding="utf-8")
    (root / "src" / DOLLAR_FILE).write_text("$(env.HOME)\n", encoding="utf-8")
    if extra_module:
        (package / f"{extra_module}.py").write_text("VALUE = 1\n", encoding="utf-8")


def make_wheel(folder: Path) -> Path:
    """A pure-Python wheel (kilnfixture 1.0) in `folder`, for dependencies from a local wheelhouse."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "kilnfixture/__init__.py": "ANSWER = 42\n",
        "kilnfixture-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: kilnfixture\nVersion: 1.0\n",
        "kilnfixture-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: kiln-tests\nRoot-Is-Purelib: true\n"
                                           "Tag: py3-none-any\n",
    }
    record = "kilnfixture-1.0.dist-info/RECORD"
    files[record] = "".join(f"{name},,\n" for name in [*files, record])
    wheel = folder / "kilnfixture-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def write_project(folder: Path, archive: Path, *, version: str = "1.0", kind: str = "console",
                  wheelhouse: Path | None = None, **msi_options: Any) -> Path:
    """kiln.toml for the test app: hostile strings everywhere, the fake runtime, one msi installer."""
    document: dict[str, Any] = {
        "schema_version": 1,
        "app": {"name": "hello", "display_name": HOSTILE_TITLE, "version": version, "publisher": HOSTILE_PUBLISHER,
                "description": HOSTILE_DESCRIPTION, "homepage": HOMEPAGE},
        "entry": {"module": "hello:main", "kind": kind},
        "source": {"root": "src", "include": ["**/*.py", "**/*.txt"]},
        "python": {"version": "3.11", "source": os.path.relpath(archive, folder)},
        "installer": [{"kind": "msi", "upgrade_code": UPGRADE_CODE, **msi_options}],
    }
    if wheelhouse is not None:
        document["dependencies"] = {"requirements": ["kilnfixture==1.0"], "no_index": True,
                                    "find_links": [os.path.relpath(wheelhouse, folder)]}
    return projects.write_project(folder, document)


def build(project: Path, cache: Path, env: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    """`python -m kiln build --events jsonl`: the exit code and the events."""
    result = kiln("build", project, "--events", "jsonl", env={"KILN_CACHE_DIR": str(cache), **(env or {})}, cwd=REPO,
                  timeout=300)
    events = [dataclasses.asdict(event) for event in result.events]
    return result.returncode, events


def built_msi(project: Path, cache: Path, env: dict[str, str] | None = None) -> Path:
    code, events = build(project, cache, env)
    errors = [e for e in events if e["kind"] == "error"]
    assert code == 0 and not errors, errors
    (artifact,) = [Path(e["data"]["path"]) for e in events if e["kind"] == "artifact"]
    return artifact


def table(msi: Path, name: str, cwd: Path) -> list[dict[str, str]]:
    """Rows of a table as msiinfo exports it (run in `cwd`: msiinfo writes stream columns there)."""
    text = subprocess.run(["msiinfo", "export", str(msi), name], cwd=cwd, check=True, capture_output=True).stdout
    lines = [line.split("\t") for line in text.decode("utf-8").split("\r\n") if line]
    return [dict(zip(lines[0], row + [""] * (len(lines[0]) - len(row)), strict=True)) for row in lines[3:]]


def summary(msi: Path) -> dict[str, str]:
    text = subprocess.run(["msiinfo", "suminfo", str(msi)], check=True, capture_output=True).stdout.decode("utf-8")
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def extract(msi: Path, out: Path) -> Path:
    """msiextract the MSI; returns the folder holding hello.exe (the install folder)."""
    subprocess.run(["msiextract", "-C", str(out), str(msi)], check=True, capture_output=True)
    (exe,) = list(out.rglob("hello.exe"))
    return exe.parent


def pymsi_files(msi: Path) -> dict[str, bytes]:
    """Files below the install folder as pymsi (an independent reader) decompresses them: relative path -> bytes."""
    import pymsi
    import pymsi.codepage

    # pymsi 0.0.0rc1 reads the summary's VT_I2 code page signed: 65001 (UTF-8) arrives as -535.
    pymsi.codepage.PAGES.setdefault(-535, "utf-8")
    package = pymsi.Package(msi)
    try:
        found: dict[str, bytes] = {}

        def walk(directory: Any, relative: str | None) -> None:
            # relative: None above the install folder, else the path below it ("" for the folder itself)
            relative = "" if directory.id == "INSTALLDIR" else relative
            for component in directory.components.values():
                for file in component.files.values():
                    if relative is not None:
                        found[relative + file.name] = file.resolve().decompress()
            for child in directory.children.values():
                walk(child, None if relative is None else f"{relative}{child.name}/")

        walk(pymsi.Msi(package, load_data=True).root, None)
        return found
    finally:
        package.close()


def files_below(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
