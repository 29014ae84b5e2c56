#!/usr/bin/env python3
"""Benchmarks Kiln against PyInstaller and cx_Freeze on the bundled examples.

Run from a clone with the Python that has Kiln's dependencies (the repository's .venv):

    python bench/run.py [--quick] [--with-qt] [--runs N]

It measures build wall time (cold, warm, after touching app code), peak memory of each build, artifact sizes
and startup time (hyperfine), prints one table per example and writes it to bench/results/<date>.md.
See bench/README.md for what each number means. Nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PEER_VENV = BENCH / ".venv"  # gitignored (.venv/)
PEER_TOOLS = ["pyinstaller", "cx_Freeze"]
GNU_TIME = Path("/usr/bin/time")  # Debian package `time`
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# The AppImage's start rows: its first start (mounted; the start cache is filled after it), later starts (from the
# start cache's extracted copy: what a user sees from the second start on) and forced extract-and-run.
APPIMAGE_FIRST = "Kiln AppImage (first start: FUSE)"
APPIMAGE_LATER = "Kiln AppImage (later starts: cached copy)"
APPIMAGE_EXTRACTED = "Kiln AppImage (extracted)"
APPIMAGE_UNPRUNED = "Kiln AppImage, Qt unpruned (FUSE)"


@dataclass(frozen=True)
class Example:
    folder: str  # the app's folder under `home`
    module: str  # the entry module
    func: str  # the entry function
    package: str  # the app's top-level package
    args: tuple[str, ...] = ()  # arguments for the startup runs
    env: tuple[tuple[str, str], ...] = ()  # environment for the startup runs
    expect: str = ""  # text the app prints when it worked
    requirements: tuple[str, ...] = ()  # replaces the example's requirements (the full-PySide6 variant)
    kiln_only: bool = False  # no PyInstaller / cx_Freeze builds (a huge download is measured for Kiln alone)
    qt: bool = False  # also a Kiln AppImage with Qt unpruned ([dependencies] qt_modules = ["*"])
    label: str = ""  # the name in the results when it is not the folder's
    home: str = "examples"  # where the app's folder is, relative to the repository
    code: str = ""  # the folder of the app's folder that holds its package ("src" for a src layout)

    @property
    def source(self) -> Path:
        return REPO / self.home / self.folder


EXAMPLES = {
    "hello": Example("hello", "hello.cli", "main", "hello", expect="Hello from a data file"),
    # The common shape of an app: a pyproject project (src layout, setuptools) that Kiln builds into a wheel with its
    # own backend, with one dependency (click) and a data file inside its package read with importlib.resources.
    "tally": Example("tally", "tally.cli", "main", "tally", expect="tally: sample.txt", home="bench/apps", code="src"),
    # Offscreen, --quit-after 0 quits as soon as the event loop runs (without it the app waits 200 ms).
    "qt-hello": Example(
        "qt-hello", "qt_hello.window", "main", "qt_hello", args=("--quit-after", "0"),
        env=(("QT_QPA_PLATFORM", "offscreen"),), expect="window shown", qt=True,
    ),
    # The same window depending on the whole `PySide6` (Essentials + Addons: ~0.5 GB unpacked): what a
    # typical app's requirements pull in. Kiln only (pruned and unpruned), so the peers need not download it.
    "qt-full": Example(
        "qt-hello", "qt_hello.window", "main", "qt_hello", args=("--quit-after", "0"),
        env=(("QT_QPA_PLATFORM", "offscreen"),), expect="window shown", requirements=("PySide6",),
        kiln_only=True, qt=True, label="qt-full",
    ),
}


# ---------------------------------------------------------------------------------------------------------------
# Results


@dataclass
class Timed:
    """One build: wall seconds and peak resident memory, or why it failed."""

    seconds: float | None = None
    max_rss_kb: int | None = None
    error: str | None = None
    cpu: float | None = None
    """User + system seconds of the build and every process it waited for: steadier than wall time under load."""


@dataclass
class Startup:
    median: float = 0.0  # seconds
    stddev: float = 0.0
    low: float = 0.0
    high: float = 0.0
    runs: int = 0
    cpu: float = 0.0  # mean user + system seconds: steadier than wall time on a shared machine
    error: str | None = None


@dataclass
class Row:
    label: str
    artifact: str = ""
    size: int | None = None
    size_note: str = ""
    builds: dict[str, Timed] = field(default_factory=dict)  # cold / warm / touched
    build_note: str = ""
    startup: Startup | None = None


@dataclass
class ExampleResult:
    example: str
    rows: list[Row] = field(default_factory=list)
    kiln_stages: dict[str, dict[str, float]] = field(default_factory=dict)
    kiln_components: dict[str, int] = field(default_factory=dict)
    importtime: list[str] = field(default_factory=list)
    kiln_qt: dict[str, tuple[int, int]] = field(default_factory=dict)  # distribution -> (unpruned, pruned) bytes
    notes: list[str] = field(default_factory=list)

    def row(self, label: str) -> Row | None:
        return next((r for r in self.rows if r.label == label), None)


class BenchError(Exception):
    """A step of the benchmark could not run; the message says why."""


# ---------------------------------------------------------------------------------------------------------------
# Helpers


class Scrubber:
    """Keeps this machine's paths out of anything written to the repository."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []

    def add(self, path: Path | str, name: str) -> None:
        self.pairs.append((str(path), name))
        self.pairs.sort(key=lambda p: -len(p[0]))

    def __call__(self, text: str) -> str:
        for old, new in self.pairs:
            text = text.replace(old, new)
        return re.sub(r"(?<![\w<])/(?:tmp|root|home|work)/\S*", "<path>", text)


scrub = Scrubber()


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tail_reason(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no output"
    meaningful = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
    return scrub(" / ".join(meaningful[-lines:]))[:300] or "no output"


def run(argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        what: str = "") -> subprocess.CompletedProcess[str]:
    """Runs a command that must succeed (set-up steps); raises BenchError with its last output lines."""
    proc = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        out = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        raise BenchError(f"{what or argv[0]} failed (exit {proc.returncode}): {scrub(' / '.join(out[-3:]))[:300]}")
    return proc


def timed(argv: Sequence[str], *, cwd: Path | None, env: dict[str, str], log: Path) -> Timed:
    """Runs one build; wall time from perf_counter, peak RSS from GNU time (or wait4 without it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    rss_file = log.with_suffix(".rss")
    full = [str(GNU_TIME), "-v", "-o", str(rss_file), *argv] if GNU_TIME.exists() else list(argv)
    with log.open("w", encoding="utf-8") as out:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        except OSError as exc:
            return Timed(error=f"failed: {scrub(str(exc))}")
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    rss: int | None = None
    if GNU_TIME.exists():
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", rss_file.read_text(errors="replace")
                          if rss_file.exists() else "")
        rss = int(match.group(1)) if match else None
    else:
        rss = usage.ru_maxrss  # kilobytes on Linux; the largest process in the build's tree
    if proc.returncode != 0:
        return Timed(error=f"failed: exit {proc.returncode}: {tail_reason(log)}")
    return Timed(seconds=seconds, max_rss_kb=rss, cpu=usage.ru_utime + usage.ru_stime)


def uptime() -> str:
    """`uptime`'s line: the machine's load next to the numbers (it is shared)."""
    try:
        return run(["uptime"]).stdout.strip()
    except (BenchError, OSError):
        return f"load average {loadavg()}"


def loadavg() -> str:
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def tree_size(path: Path) -> int:
    """Apparent size in bytes of a file or of every file under a folder (symlinks count as links)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def file_count(path: Path) -> int:
    return sum(len(files) for _root, _dirs, files in os.walk(path))


def touch_source(copy: Path, example: Example) -> None:
    """Changes the app's code only (a comment at the end of the entry module). Waits first: PyInstaller's
    up-to-date check compares file times with the previous build's at whole-second precision, and a change
    made within the same second goes unnoticed (its "rebuild" then takes 0.3 s and ships the old code)."""
    time.sleep(1.5)
    source = copy / example.code / (example.module.replace(".", "/") + ".py")
    with source.open("a", encoding="utf-8") as f:
        f.write(f"\n# touched by bench/run.py at {time.time():.0f}\n")


def fresh_copy(example: Example, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(example.source, dest,
                    ignore=shutil.ignore_patterns("dist", "build", "__pycache__", "kiln.lock", "pylock.*.toml"))
    return dest


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


# ---------------------------------------------------------------------------------------------------------------
# Machine and tools


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    with contextlib.suppress(OSError):
        if m := re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()):
            mem = f"{int(m.group(1)) / 1024 / 1024:.1f} GiB"
    osname = platform.system()
    with contextlib.suppress(OSError):
        if m := re.search(r'PRETTY_NAME="([^"]+)"', Path("/etc/os-release").read_text()):
            osname = m.group(1)
    commit = "unknown"
    try:
        commit = run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO).stdout.strip()
        if run(["git", "status", "--porcelain"], cwd=REPO).stdout.strip():
            commit += " (with uncommitted changes)"
    except (BenchError, OSError):
        pass
    hyperfine = "missing"
    if shutil.which("hyperfine"):
        hyperfine = run(["hyperfine", "--version"]).stdout.strip()
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "OS": f"{osname}, kernel {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Kiln commit": commit,
        "hyperfine": hyperfine,
        "peak memory via": "GNU time -v (Debian package `time`)" if GNU_TIME.exists() else "wait4() rusage",
    }


def ensure_peer_venv(requirements: list[str]) -> dict[str, str]:
    """bench/.venv with PyInstaller, cx_Freeze and the examples' dependencies; returns the tools' versions."""
    if not venv_python(PEER_VENV).exists():
        say("creating bench/.venv (PyInstaller, cx_Freeze)")
        run([sys.executable, "-m", "venv", str(PEER_VENV)], what="python -m venv")
    say(f"pip install {' '.join(PEER_TOOLS + requirements)} into bench/.venv")
    run([str(venv_python(PEER_VENV)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *PEER_TOOLS, *requirements], what="pip install (bench/.venv)")
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({n: m.version(n) for n in ('pyinstaller', 'cx_Freeze')}))")
    versions: dict[str, str] = json.loads(run([str(venv_python(PEER_VENV)), "-c", code]).stdout)
    return versions


def example_requirements(example: Example) -> list[str]:
    if example.requirements:
        return list(example.requirements)
    data = tomllib.loads((example.source / "pyproject.toml").read_text(encoding="utf-8"))
    return list(data["project"].get("dependencies", []))


def example_name_version(example: Example) -> tuple[str, str]:
    data = tomllib.loads((example.source / "pyproject.toml").read_text(encoding="utf-8"))
    return data["project"]["name"], data["project"]["version"]


# ---------------------------------------------------------------------------------------------------------------
# Builds


def kiln_env(cache: Path, pip_cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env["KILN_CACHE_DIR"] = str(cache)
    env["PIP_CACHE_DIR"] = str(pip_cache)  # cold also means pip's own HTTP cache is empty
    return env


def bench_kiln(example: Example, work: Path, result: ExampleResult) -> tuple[Path | None, Path | None, list[str]]:
    """Builds with Kiln cold, warm and after a touch; returns (portable, appimage, pinned requirements)."""
    name, version = example_name_version(example)
    src = fresh_copy(example, work / "kiln-src")
    cache, pip_cache = work / "kiln-cache", work / "kiln-pip-cache"
    for d in (cache, pip_cache):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    env = kiln_env(cache, pip_cache)
    project = src / "kiln.toml"
    if not project.exists():  # the examples ship their kiln.toml; otherwise let Kiln detect one
        run([sys.executable, "-m", "kiln", "new", str(src)], cwd=REPO, env=env, what="kiln new")
    if example.requirements:
        set_dependencies(project, requirements=list(example.requirements))
    kinds = ["portable", "appimage"]
    portable_row = Row("Kiln portable", artifact=f"{name}-{version}-linux-x86_64.tar.zst",
                       build_note="one build makes both")
    appimage_row = Row(APPIMAGE_FIRST, artifact=f"{name}-{version}-linux-x86_64.AppImage",
                       build_note="same build as portable")
    pinned: list[str] = []

    def build(phase: str) -> Timed:
        argv = [sys.executable, "-m", "kiln", "build", str(project), "--events", "jsonl"]
        for k in kinds:
            argv += ["--kind", k]
        say(f"{example.folder}: Kiln build ({phase}, {' + '.join(kinds)})")
        return timed(argv, cwd=REPO, env=env, log=work / "logs" / f"kiln-{phase}.log")

    report_path = src / "dist" / f"{name}-report.json"
    for phase in ("cold", "warm", "touched"):
        if phase == "touched":
            touch_source(src, example)
        written = report_path.stat().st_mtime_ns if report_path.exists() else None
        t = build(phase)
        if not t.error and written is not None and report_path.stat().st_mtime_ns == written:
            # A no-op rebuild (inputs unchanged): no stage ran, the artifacts and the report were left alone.
            portable_row.builds[phase] = t
            result.kiln_stages[phase] = {}
            result.notes.append(f"Kiln's {phase} build found its inputs unchanged: it ran no stage and published "
                                f"nothing ({t.seconds:.1f} s, most of it starting Python and hashing the inputs)")
            continue
        if t.error and phase == "cold" and "appimage" in kinds:
            # The AppImage kind may not be finished: measure the portable alone, from empty caches again.
            appimage_row.size_note = f"n/a: {t.error}"
            kinds = ["portable"]
            for d in (cache, pip_cache):
                shutil.rmtree(d, ignore_errors=True)
                d.mkdir(parents=True)
            shutil.rmtree(src / "dist", ignore_errors=True)
            t = build(phase)
        portable_row.builds[phase] = t
        if t.error:
            break
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            result.notes.append(f"Kiln {phase} build wrote no readable report: {exc}")
            continue
        result.kiln_stages[phase] = {k: float(v) for k, v in report.get("stages", {}).items()}
        result.kiln_components = {k: int(v) for k, v in report.get("size_by_component", {}).items()}
        for qt in report.get("qt", {}).values():
            result.kiln_qt = {d: (int(v["unpruned"]), int(v["pruned"])) for d, v in qt["by_distribution"].items()}
        for deps in report.get("dependencies", {}).values():
            pinned = [f"{d['name']}=={d['version']}" for d in deps.get("installed", [])]
    result.rows += [portable_row, appimage_row]
    portable = src / "dist" / portable_row.artifact
    appimage = src / "dist" / appimage_row.artifact
    portable_row.size = portable.stat().st_size if portable.exists() else None
    if "appimage" in kinds and appimage.exists():
        appimage_row.size = appimage.stat().st_size
    elif not appimage_row.size_note:
        appimage_row.size_note = "n/a: not built"
    return (portable if portable.exists() else None,
            appimage if "appimage" in kinds and appimage.exists() else None, pinned)


def set_dependencies(project: Path, **values: list[str]) -> None:
    """Sets keys of the [dependencies] table of a copy's kiln.toml (tomlkit keeps the rest as it is)."""
    import tomlkit

    document = tomlkit.parse(project.read_text(encoding="utf-8"))
    table = document.setdefault("dependencies", tomlkit.table())
    for key, value in values.items():
        table[key] = value
    project.write_text(tomlkit.dumps(document), encoding="utf-8")


def bench_kiln_unpruned(example: Example, work: Path, result: ExampleResult) -> Path | None:
    """The same app as an AppImage with every Qt module (`qt_modules = ["*"]`), built with the caches the
    pruned build filled: the size and start that pruning saves."""
    name, version = example_name_version(example)
    src = fresh_copy(example, work / "kiln-unpruned-src")
    if example.requirements:
        set_dependencies(src / "kiln.toml", requirements=list(example.requirements))
    set_dependencies(src / "kiln.toml", qt_modules=["*"])
    env = kiln_env(work / "kiln-cache", work / "kiln-pip-cache")
    say(f"{example.folder}: Kiln build with Qt unpruned (appimage)")
    t = timed([sys.executable, "-m", "kiln", "build", str(src / "kiln.toml"), "--kind", "appimage"], cwd=REPO,
              env=env, log=work / "logs" / "kiln-unpruned.log")
    row = Row(APPIMAGE_UNPRUNED, artifact=f"qt_modules = [\"*\"], {name}-{version}-linux-x86_64.AppImage",
              build_note="warm caches")
    row.builds["cold"] = t
    image = src / "dist" / f"{name}-{version}-linux-x86_64.AppImage"
    if t.error or not image.exists():
        row.size_note = t.error or "failed: no AppImage"
        result.rows.append(row)
        return None
    row.size = image.stat().st_size
    result.rows.append(row)
    pruned = result.row(APPIMAGE_FIRST)
    if pruned and pruned.size:
        result.notes.append(f"Qt pruning: AppImage {pruned.size / 1e6:.1f} MB pruned vs {row.size / 1e6:.1f} MB "
                            f"unpruned = {pruned.size / row.size:.2f}×")
    return image


def entry_script(copy: Path, example: Example) -> Path:
    script = copy / f"bench_{example.package}_main.py"
    script.write_text(f"import sys\nfrom {example.module} import {example.func}\nsys.exit({example.func}())\n",
                      encoding="utf-8")
    return script


def bench_pyinstaller(example: Example, work: Path, result: ExampleResult, onefile: bool,
                      requirements: list[str]) -> Path | None:
    """PyInstaller --onefile or --onedir: cold (empty work and config folders), warm (reused), touched."""
    mode = "onefile" if onefile else "onedir"
    name, _ = example_name_version(example)
    src = fresh_copy(example, work / f"pyi-{mode}-src")
    script = entry_script(src, example)
    config = work / f"pyi-{mode}-config"
    shutil.rmtree(config, ignore_errors=True)
    env = dict(os.environ, PYINSTALLER_CONFIG_DIR=str(config))
    env.pop("PYTHONPATH", None)
    argv = [str(venv_python(PEER_VENV)), "-m", "PyInstaller", "--noconfirm", f"--{mode}", "--name", name,
            "--distpath", str(src / "dist"), "--workpath", str(src / "build"), "--specpath", str(src),
            "--paths", str(src / example.code)]
    package_dir = src / example.code / example.package
    for data in sorted(package_dir.rglob("*")):
        if data.is_file() and data.suffix not in (".py", ".pyc"):
            dest = data.parent.relative_to(src / example.code).as_posix()
            argv += ["--add-data", f"{data}{os.pathsep}{dest}"]
    for req in requirements:  # apps read their dependencies' metadata (hello prints rich's version)
        argv += ["--copy-metadata", re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]]
    argv.append(str(script))
    row = Row(f"PyInstaller --{mode}")
    for phase in ("cold", "warm", "touched"):
        if phase == "touched":
            touch_source(src, example)
        say(f"{example.folder}: PyInstaller --{mode} ({phase})")
        row.builds[phase] = t = timed(argv, cwd=src, env=env, log=work / "logs" / f"pyi-{mode}-{phase}.log")
        if t.error:
            break
    result.rows.append(row)
    out = src / "dist" / name
    if onefile:
        row.artifact = "single executable"
        exe = out
    else:
        row.artifact = "dist folder"
        exe = out / name
    if row.builds.get("cold", Timed()).error or not exe.exists():
        row.size_note = row.builds["cold"].error or "failed: no executable"
        return None
    row.size = tree_size(out)
    return exe


def bench_cx_freeze(example: Example, work: Path, result: ExampleResult, requirements: list[str]) -> Path | None:
    name, _ = example_name_version(example)
    src = fresh_copy(example, work / "cx-src")
    script = entry_script(src, example)
    target = src / "build_exe"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if example.code:  # cx_Freeze finds the app's package on sys.path
        env["PYTHONPATH"] = str(src / example.code)
    argv = [str(venv_python(PEER_VENV)), "-m", "cx_Freeze", "--script", str(script), "--target-name", name,
            "build_exe", "--build-exe", str(target), "--packages", example.package, "--silent"]
    row = Row("cx_Freeze build_exe", artifact="build_exe folder")
    for phase in ("cold", "warm", "touched"):
        if phase == "touched":
            touch_source(src, example)
        say(f"{example.folder}: cx_Freeze ({phase})")
        row.builds[phase] = t = timed(argv, cwd=src, env=env, log=work / "logs" / f"cx-{phase}.log")
        if t.error:
            break
    result.rows.append(row)
    exe = target / name
    if row.builds.get("cold", Timed()).error or not exe.exists():
        row.size_note = row.builds["cold"].error or "failed: no executable"
        return None
    row.size = tree_size(target)
    return exe


# ---------------------------------------------------------------------------------------------------------------
# Startup


def check_runs(argv: list[str], env: dict[str, str], example: Example, cwd: Path) -> str | None:
    """One run outside hyperfine: the app must exit 0 and print what it prints when it works."""
    try:
        proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"failed: {scrub(str(exc))[:200]}"
    if proc.returncode != 0 or example.expect not in proc.stdout:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        return f"failed: exit {proc.returncode}: {scrub(' / '.join(lines[-2:]))[:200]}"
    return None


def hyperfine(label: str, argv: list[str], *, env: dict[str, str], cwd: Path, out: Path, runs: int, warmup: int,
              example: Example | None, prepare: list[str] | None = None) -> Startup:
    say(f"startup: {label}")
    if example is not None and (problem := check_runs(argv, env, example, cwd)):
        return Startup(error=problem)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["hyperfine", "--shell=none", "--runs", str(runs), "--warmup", str(warmup), "--style", "none",
           "--export-json", str(out), "--command-name", label]
    if prepare:
        cmd += ["--prepare", shlex.join(prepare)]
    cmd += ["--", shlex.join(argv)]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return Startup(error=f"failed: hyperfine: {scrub(proc.stderr.strip().splitlines()[-1] if proc.stderr else '')}")
    data = json.loads(out.read_text())["results"][0]
    return Startup(median=data["median"], stddev=data.get("stddev") or 0.0, low=data["min"], high=data["max"],
                   runs=len(data["times"]), cpu=data.get("user", 0.0) + data.get("system", 0.0))


def bench_appimage_starts(appimage: Path, first_row: Row, example: Example, work: Path, result: ExampleResult,
                          runs: int, warmup: int, base_env: dict[str, str]) -> None:
    """The AppImage's first start (mounted), later starts (from the start cache) and forced extract-and-run, each
    with its own cache folder in the scratch folder."""
    argv = [str(appimage), *example.args]
    runs_dir = work / "startup"
    first_cache, later_cache, extract_cache = (work / f"appimage-{n}-cache" for n in ("first", "later", "extract"))
    copies = first_cache / "kiln-appimage"
    # Before each run: let the previous run's background extraction end (it starts after the app exits, so give it
    # a moment to appear), then remove the cache, so every measured run is a first start and none competes with it.
    prepare = (f"sleep 0.3; while ls -A {shlex.quote(str(copies))} 2>/dev/null | grep -q partial; do sleep 0.05; "
               f"done; chmod -R u+w {shlex.quote(str(copies))} 2>/dev/null; rm -rf {shlex.quote(str(copies))}")
    first_row.startup = hyperfine(first_row.label, argv, env=dict(base_env, XDG_CACHE_HOME=str(first_cache)),
                                  cwd=work, out=runs_dir / "appimage-first.json", runs=runs, warmup=warmup,
                                  example=example, prepare=["sh", "-c", prepare])
    later_env = dict(base_env, XDG_CACHE_HOME=str(later_cache))
    later = Row(APPIMAGE_LATER, artifact="from the start cache's copy in $XDG_CACHE_HOME/kiln-appimage",
                size=first_row.size, build_note="same build as portable")
    if problem := check_runs(argv, later_env, example, work):
        later.startup = Startup(error=problem)
    elif not wait_for_copy(later_cache / "kiln-appimage"):
        later.startup = Startup(error="failed: the start cache made no copy within two minutes")
    else:
        later.startup = hyperfine(later.label, argv, env=later_env, cwd=work, out=runs_dir / "appimage-later.json",
                                  runs=runs, warmup=warmup, example=example)
    extracted = Row(APPIMAGE_EXTRACTED, artifact="APPIMAGE_EXTRACT_AND_RUN=1, cached", size=first_row.size,
                    build_note="same build as portable")
    extracted.startup = hyperfine(extracted.label, argv, env=dict(base_env, APPIMAGE_EXTRACT_AND_RUN="1",
                                                                  XDG_CACHE_HOME=str(extract_cache)),
                                  cwd=work, out=runs_dir / "appimage-extracted.json", runs=runs,
                                  warmup=max(1, warmup), example=example)
    at = result.rows.index(first_row) + 1
    result.rows[at:at] = [later, extracted]


def wait_for_copy(copies: Path) -> bool:
    """Waits (up to two minutes) for the start cache's background extraction to publish its copy."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if copies.is_dir() and any(not p.name.startswith(".") for p in copies.iterdir()):
            return True
        time.sleep(0.1)
    return False


def unpack_portable(archive: Path, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    run(["tar", "--zstd", "-xf", str(archive), "-C", str(dest)], what="tar --zstd -x (portable)")
    folders = [p for p in dest.iterdir() if p.is_dir()]
    if len(folders) != 1:
        raise BenchError("the portable archive should hold one folder")
    return folders[0]


def zip_name() -> str:
    return f"python{sys.version_info.major}{sys.version_info.minor}.zip"


def zip_experiment(bundle: Path, dest: Path, with_packages: bool) -> tuple[Path, int]:
    """Copies an unpacked portable and moves the stdlib (and, optionally, the app and its dependencies) into
    runtime/lib/python311.zip, stored (no compression). sys.path already lists that name, before the stdlib
    folder; extension modules (lib-dynload) stay files. Returns the copy and how many files went in."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(bundle, dest, symlinks=True)
    lib = dest / "runtime" / "lib"
    stdlib = next(lib.glob("python3.*"))
    zip_path = lib / zip_name()
    moved = 0

    def add(z: zipfile.ZipFile, root: Path, prefix: Path, skip_top: tuple[str, ...]) -> None:
        nonlocal moved
        # zipimport cannot load extension modules, and a package is imported from one place: top-level
        # packages that hold native libraries stay files (a dependency's .dist-info still moves).
        native = tuple(top.name for top in root.iterdir() if top.is_dir() and any(
            f.suffix in (".so", ".pyd", ".dylib") or ".so." in f.name for f in top.rglob("*")))
        skip_top = skip_top + native
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if not path.is_file() or rel.parts[0] in skip_top or "__pycache__" in rel.parts:
                continue
            if prefix == stdlib and path.suffix != ".pyc":
                continue  # the stdlib's data files (READMEs, templates) stay where they are
            info = zipfile.ZipInfo((Path(*rel.parts)).as_posix(), ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            z.writestr(info, path.read_bytes())
            path.unlink()
            moved += 1

    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as z:
        add(z, stdlib, stdlib, ("lib-dynload", "site-packages"))
        if with_packages:
            add(z, dest / "packages", dest / "packages", ())
            add(z, dest / "app", dest / "app", ())
    for root in (stdlib, dest / "packages", dest / "app"):
        for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if "__pycache__" in folder.parts:
                shutil.rmtree(folder, ignore_errors=True)  # stale caches of sources that moved into the zip
            elif not any(folder.iterdir()):
                folder.rmdir()  # an empty folder on sys.path would be probed as a namespace package
    return dest, moved


def importtime_summary(bundle: Path, example: Example, env: dict[str, str], work: Path) -> list[str]:
    """`python -X importtime` of the unpacked portable (after a warm-up run), grouped by where modules live."""
    python = next((bundle / "runtime" / "bin").glob("python3.*"))
    argv = [str(python), "-X", "importtime", "-I", str(bundle / "kiln_boot.py"), *example.args]
    subprocess.run(argv, env=env, cwd=work, capture_output=True, check=False)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    entries: list[tuple[str, int, int, int]] = []  # name, self us, cumulative us, depth
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            entries.append((m.group(4), int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2))
    if not entries:
        return ["(importtime produced no output)"]
    packages = {p.name.split(".")[0].split("-")[0] for p in (bundle / "packages").iterdir()}
    groups: dict[str, list[int]] = {}
    for name, self_us, _cum, _depth in entries:
        top = name.split(".")[0]
        group = ("app" if top == example.package else "dependencies" if top in packages else "stdlib")
        groups.setdefault(group, [0, 0])
        groups[group][0] += self_us
        groups[group][1] += 1
    total = sum(v[0] for v in groups.values())
    lines = [f"One run after a warm-up: {wall * 1000:.0f} ms wall (importtime adds overhead), "
             f"{len(entries)} modules imported, {total / 1000:.1f} ms in imports (sum of self times).", "",
             "| imported from | modules | self time ms | share |", "|---|---:|---:|---:|"]
    for group, (us, count) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"| {group} | {count} | {us / 1000:.1f} | {us / total:.0%} |")
    lines += ["", "The boot script imports the app's entry module with `importlib.import_module`, which "
              "`-X importtime` does not record: the app's own modules are missing above, and what they import "
              "appears at the top level below.", "",
              "Slowest top-level imports (cumulative, including what they import):", "",
              "| module | cumulative ms |", "|---|---:|"]
    for name, _s, cum, _d in sorted((e for e in entries if e[3] == 0), key=lambda e: -e[2])[:10]:
        lines.append(f"| `{name}` | {cum / 1000:.1f} |")
    return lines


def bench_startup(example: Example, work: Path, result: ExampleResult, exes: dict[str, Path | None],
                  runs: int, warmup: int, pinned: list[str], zip_exp: bool) -> None:
    base_env = dict(os.environ)
    base_env.pop("PYTHONPATH", None)
    base_env.update(dict(example.env))
    app_args = list(example.args)
    runs_dir = work / "startup"
    runs_dir.mkdir(parents=True, exist_ok=True)
    load_before = loadavg()

    # The bare runtime: this host interpreter (a venv without pip: nothing in site-packages to process, like
    # Kiln's runtime) running the same app code and the same dependency versions.
    base = work / "base-venv"
    deps = work / "base-deps"
    bare: Startup
    try:
        if example.kiln_only:
            raise BenchError("not measured for this Kiln-only example (its dependencies are a huge download)")
        if not venv_python(base).exists():
            run([sys.executable, "-m", "venv", "--without-pip", str(base)], what="python -m venv (bare runtime)")
        shutil.rmtree(deps, ignore_errors=True)
        run([str(venv_python(PEER_VENV)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-compile", "--target", str(deps), *(pinned or example_requirements(example))],
            what="pip install --target (bare runtime dependencies)")
        app_dir = fresh_copy(example, work / "bare-src")
        paths = [str(app_dir / example.code), str(deps)]
        code = (f"import sys; sys.argv[1:] = {app_args!r}; sys.path[:0] = {paths!r}; "
                f"import {example.module} as m; sys.exit(m.{example.func}())")
        floor = hyperfine("host python -I -c pass", [str(venv_python(base)), "-I", "-c", "pass"], env=base_env,
                          cwd=work, out=runs_dir / "floor.json", runs=runs, warmup=warmup, example=None)
        result.rows.insert(0, Row("host python -I -c pass", artifact="interpreter floor", startup=floor))
        bare = hyperfine("host python (bare runtime)", [str(venv_python(base)), "-I", "-c", code], env=base_env,
                         cwd=work, out=runs_dir / "bare.json", runs=runs, warmup=warmup, example=example)
    except BenchError as exc:
        bare = Startup(error=f"failed: {exc}")
    result.rows.insert(1, Row("host python (bare runtime)", artifact="same code, deps on sys.path", startup=bare))

    portable = exes.get("portable")
    row = result.row("Kiln portable")
    if portable and row:
        try:
            bundle = unpack_portable(portable, work / "portable-unpacked")
            name, _ = example_name_version(example)
            row.size_note = (f"unpacked {tree_size(bundle) / 1e6:.1f} MB, {file_count(bundle)} files")
            python = next((bundle / "runtime" / "bin").glob("python3.*"))
            floor_row = Row("Kiln runtime -I -c pass", artifact="relocated interpreter floor")
            floor_row.startup = hyperfine(floor_row.label, [str(python), "-I", "-c", "pass"], env=base_env, cwd=work,
                                          out=runs_dir / "kiln-floor.json", runs=runs, warmup=warmup, example=None)
            result.rows.insert(2, floor_row)
            row.startup = hyperfine("Kiln portable (unpacked)", [str(bundle / name), *app_args], env=base_env,
                                    cwd=work, out=runs_dir / "kiln-portable.json", runs=runs, warmup=warmup,
                                    example=example)
            result.importtime = importtime_summary(bundle, example, base_env, work)
            if zip_exp and not example.kiln_only:
                for with_packages in (False, True):
                    what = "stdlib + deps + app" if with_packages else "stdlib"
                    copy, moved = zip_experiment(bundle, work / f"zip-{int(with_packages)}", with_packages)
                    zrow = Row(f"experiment: {what} in {zip_name()}",
                               artifact=f"portable with {moved} files moved into one stored zip",
                               size=tree_size(copy), size_note=f"unpacked, {file_count(copy)} files")
                    zrow.startup = hyperfine(zrow.label, [str(copy / name), *app_args], env=base_env, cwd=work,
                                             out=runs_dir / f"zip-{int(with_packages)}.json", runs=runs,
                                             warmup=warmup, example=example)
                    result.rows.append(zrow)
        except BenchError as exc:
            row.startup = Startup(error=f"failed: {exc}")
    elif row:
        row.startup = Startup(error="failed: no portable archive")

    appimage = exes.get("appimage")
    first_row = result.row(APPIMAGE_FIRST)
    if appimage and first_row:
        bench_appimage_starts(appimage, first_row, example, work, result, runs, warmup, base_env)
    elif first_row:
        first_row.startup = Startup(error=first_row.size_note or "n/a")
    unpruned = exes.get("appimage-unpruned")
    unpruned_row = result.row(APPIMAGE_UNPRUNED)
    if unpruned and unpruned_row:  # mounted at every start, like the pruned build's first start
        unpruned_row.startup = hyperfine(unpruned_row.label, [str(unpruned), *app_args],
                                         env=dict(base_env, APPIMAGE_KILN_CACHE="0"), cwd=work,
                                         out=runs_dir / "appimage-unpruned.json", runs=runs, warmup=warmup,
                                         example=example)

    for label, key in (("PyInstaller --onefile", "onefile"), ("PyInstaller --onedir", "onedir"),
                       ("cx_Freeze build_exe", "cx")):
        prow = result.row(label)
        exe = exes.get(key)
        if prow is None:
            continue
        if exe is None:
            prow.startup = Startup(error=prow.size_note or "failed: not built")
            continue
        prow.startup = hyperfine(label, [str(exe), *app_args], env=base_env, cwd=work,
                                 out=runs_dir / f"{key}.json", runs=runs, warmup=warmup, example=example)
    result.notes.append(f"load average (1 / 5 / 15 min) on {os.cpu_count()} cores: {load_before} before the "
                        f"startup runs, {loadavg()} after")


# ---------------------------------------------------------------------------------------------------------------
# Output


def fmt_ratio(value: float | None, ref: float | None) -> str:
    if value is None or not ref:
        return "–"
    return f"{value / ref:.2f}×"


def startup_table(result: ExampleResult) -> list[str]:
    pyi = result.row("PyInstaller --onefile")
    bare = result.row("host python (bare runtime)")
    pyi_size = pyi.size if pyi else None
    pyi_cold = pyi.builds.get("cold") if pyi else None
    pyi_start = pyi.startup.median if pyi and pyi.startup and not pyi.startup.error else None
    bare_start = bare.startup.median if bare and bare.startup and not bare.startup.error else None
    head = ["variant", "what is measured", "size MB", "size ×PyI-1file", "build cold s", "warm s", "touched s",
            "build ×PyI-1file (cold)", "build peak RSS MB", "startup median ms", "σ ms", "min–max ms",
            "CPU ms", "startup ×PyI-1file", "startup ×bare"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|"]
    for r in result.rows:
        size = f"{r.size / 1e6:.1f}" if r.size is not None else (r.size_note if r.size_note.startswith(
            ("n/a", "failed")) else "–")
        what = r.artifact
        if r.size is not None and r.size_note:
            what += f" ({r.size_note})"
        cells = [r.label, what, size, fmt_ratio(r.size, pyi_size)]
        if r.builds:
            for phase in ("cold", "warm", "touched"):
                t = r.builds.get(phase)
                cells.append("–" if t is None else t.error or f"{t.seconds:.1f}")
            cold = r.builds.get("cold")
            cells.append(fmt_ratio(cold.seconds if cold else None, pyi_cold.seconds if pyi_cold else None))
            rss = [t.max_rss_kb for t in r.builds.values() if t.max_rss_kb]
            cells.append(f"{max(rss) / 1024:.0f}" if rss else "–")
        else:
            note = r.build_note or "–"
            cells += [note, "″" if r.build_note else "–", "″" if r.build_note else "–", "–", "–"]
        s = r.startup
        if s is None:
            cells += ["–"] * 6
        elif s.error:
            cells += [s.error, "–", "–", "–", "–", "–"]
        else:
            cells += [f"{s.median * 1000:.1f}", f"{s.stddev * 1000:.1f}",
                      f"{s.low * 1000:.1f}–{s.high * 1000:.1f}", f"{s.cpu * 1000:.0f}", fmt_ratio(s.median, pyi_start),
                      fmt_ratio(s.median, bare_start)]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return lines


def _seconds(row: Row | None, phase: str) -> float | None:
    t = row.builds.get(phase) if row else None
    return t.seconds if t and not t.error else None


def _median(row: Row | None) -> float | None:
    return row.startup.median if row and row.startup and not row.startup.error else None


def _cpu(row: Row | None) -> float | None:
    return row.startup.cpu if row and row.startup and not row.startup.error else None


def _build_cpu(row: Row | None, phase: str) -> float | None:
    timed = row.builds.get(phase) if row else None
    return timed.cpu if timed and not timed.error else None


def targets_table(results: list[ExampleResult]) -> list[str]:
    """Issue 26's targets (and issue 17's for the full PySide6 app) as ratios measured in this run: met, or by how
    much they are missed."""
    by = {r.example: r for r in results}
    lines = ["| target | measured | CPU time ratio | goal | met |", "|---|---:|---:|---:|---|"]

    def add(label: str, value: float | None, ref: float | None, goal: float,
            cpu: tuple[float | None, float | None] = (None, None)) -> None:
        cpu_cell = f"{cpu[0] / cpu[1]:.2f}×" if cpu[0] and cpu[1] else "–"
        if value is None or not ref:
            lines.append(f"| {label} | not measured | {cpu_cell} | ≤ {goal:.2f}× | – |")
            return
        ratio = value / ref
        verdict = "yes" if ratio <= goal else f"no: {ratio / goal:.2f}× the goal"
        lines.append(f"| {label} | {ratio:.2f}× | {cpu_cell} | ≤ {goal:.2f}× | {verdict} |")

    for name, goal in (("hello", 1.15), ("tally", 1.15), ("qt-hello", 1.3)):
        if res := by.get(name):
            bare_row = res.row("host python (bare runtime)")
            bare = _median(bare_row)
            for label, row_label, row_goal in (
                    ("AppImage start, second and later (start cache)", APPIMAGE_LATER, goal),
                    ("AppImage first start (mounted)", APPIMAGE_FIRST, goal),
                    ("extracted AppImage start", APPIMAGE_EXTRACTED, 1.05)):
                row = res.row(row_label)
                add(f"{name}: {label} ÷ bare interpreter", _median(row), bare, row_goal, (_cpu(row), _cpu(bare_row)))
    for name, res in by.items():
        if not res.row("PyInstaller --onefile"):
            continue
        kiln, onefile = res.row("Kiln portable"), res.row("PyInstaller --onefile")
        add(f"{name}: cold AppImage + portable build ÷ cold PyInstaller --onefile", _seconds(kiln, "cold"),
            _seconds(onefile, "cold"), 0.7, (_build_cpu(kiln, "cold"), _build_cpu(onefile, "cold")))
        if name == "tally":
            add("tally: app-touched rebuild ÷ cold PyInstaller --onefile", _seconds(kiln, "touched"),
                _seconds(onefile, "cold"), 0.15, (_build_cpu(kiln, "touched"), _build_cpu(onefile, "cold")))
    if "qt-hello" in by:
        res = by["qt-hello"]
        image, onefile = res.row(APPIMAGE_FIRST), res.row("PyInstaller --onefile")
        add("qt-hello: AppImage size ÷ PyInstaller --onefile", image.size if image else None,
            onefile.size if onefile else None, 0.6)
    if "qt-full" in by:
        res = by["qt-full"]
        image, whole = res.row(APPIMAGE_FIRST), res.row(APPIMAGE_UNPRUNED)
        add("full PySide6 (issue 17): AppImage size ÷ unpruned", image.size if image else None,
            whole.size if whole else None, 0.5)
    return lines


def report_markdown(results: list[ExampleResult], info: dict[str, str], versions: dict[str, str],
                    runs: int, warmup: int, quick: bool) -> str:
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    out = [f"# Kiln benchmark, {today}", "",
           "Written by `python bench/run.py" + (" --quick" if quick else "") + "`; bench/README.md explains "
           "every column. Sizes in MB = 10^6 bytes; peak RSS is the largest single process of a build.", "",
           "## Machine", ""]
    out += [f"- {k}: {v}" for k, v in info.items()]
    out += [f"- PyInstaller {versions.get('pyinstaller', '?')}, cx_Freeze {versions.get('cx_Freeze', '?')}",
            f"- startup: hyperfine, {runs} runs after {warmup} warm-up runs, no shell", "",
            "## Targets (issue 26), as ratios of this run", "", *targets_table(results), ""]
    for res in results:
        out += [f"## {res.example}", "", *startup_table(res), ""]
        for note in res.notes:
            out.append(f"- {scrub(note)}")
        if res.notes:
            out.append("")
        if res.kiln_stages:
            stages = sorted({s for st in res.kiln_stages.values() for s in st}, key=lambda s: list(
                next(iter(res.kiln_stages.values()))).index(s) if s in next(iter(res.kiln_stages.values())) else 99)
            out += ["### Kiln's build stages (seconds, from `<name>-report.json`)", "",
                    "| build | " + " | ".join(stages) + " | sum |", "|---|" + "---:|" * (len(stages) + 1)]
            for phase, st in res.kiln_stages.items():
                if not st:
                    out.append(f"| {phase} | " + " | ".join("–" for _ in stages) + " | no-op |")
                    continue
                out.append(f"| {phase} | " + " | ".join(f"{st.get(s, 0):.2f}" for s in stages)
                           + f" | {sum(st.values()):.2f} |")
            out.append("")
        if res.kiln_components:
            out += ["### What the Kiln bundle holds (MB, uncompressed, from the report)", "",
                    "| component | MB |", "|---|---:|"]
            out += [f"| {k} | {v / 1e6:.2f} |" for k, v in sorted(res.kiln_components.items(), key=lambda kv: -kv[1])]
            out.append("")
        if res.kiln_qt:
            out += ["### Qt by distribution (MB, uncompressed, from the report's `qt` section)", "",
                    "| distribution | unpruned | pruned | pruned ÷ unpruned |", "|---|---:|---:|---:|"]
            out += [f"| {d} | {a / 1e6:.1f} | {b / 1e6:.1f} | {b / a if a else 0:.2f}× |"
                    for d, (a, b) in sorted(res.kiln_qt.items(), key=lambda kv: -kv[1][0])]
            out.append("")
        if res.importtime:
            out += ["### Where the portable's start goes (`-X importtime`)", "", *res.importtime, ""]
    return scrub("\n".join(out).rstrip() + "\n")


# ---------------------------------------------------------------------------------------------------------------


def bench_example(example: Example, work: Path, runs: int, warmup: int, zip_exp: bool) -> ExampleResult:
    result = ExampleResult(example.label or example.folder)
    work.mkdir(parents=True, exist_ok=True)
    portable, appimage, pinned = bench_kiln(example, work, result)
    requirements = pinned or example_requirements(example)
    try:
        if not example.kiln_only:
            run([str(venv_python(PEER_VENV)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 *requirements], what="pip install (example dependencies, bench/.venv)")
    except BenchError as exc:
        result.notes.append(f"the peers may miss dependencies: {exc}")
    exes: dict[str, Path | None] = {"portable": portable, "appimage": appimage}
    if example.qt:
        exes["appimage-unpruned"] = bench_kiln_unpruned(example, work, result)
    if not example.kiln_only:
        exes["onefile"] = bench_pyinstaller(example, work, result, True, requirements)
        exes["onedir"] = bench_pyinstaller(example, work, result, False, requirements)
        exes["cx"] = bench_cx_freeze(example, work, result, requirements)
    bench_startup(example, work, result, exes, runs, warmup, pinned, zip_exp)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 startup runs, 1 warm-up")
    parser.add_argument("--with-qt", action="store_true", help="also benchmark examples/qt-hello (big and slow)")
    parser.add_argument("--with-full-qt", action="store_true",
                        help="also the qt-hello window depending on the whole PySide6 (Kiln only; ~200 MB download)")
    parser.add_argument("--only", choices=sorted(EXAMPLES), action="append", help="benchmark only this example")
    parser.add_argument("--runs", type=int, help="startup runs per variant (default 20; 3 with --quick)")
    parser.add_argument("--no-zip-experiment", action="store_true",
                        help="skip the stdlib-in-one-zip startup experiment")
    parser.add_argument("--work-dir", type=Path, help="scratch folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--out", type=Path, help="results file (default: bench/results/<YYYY-MM-DD>.md)")
    args = parser.parse_args(argv)

    runs = args.runs or (3 if args.quick else 20)
    warmup = 1 if args.quick else 3
    names = args.only or (["hello", "tally", "qt-hello"] if args.with_qt else ["hello", "tally"])
    if args.with_full_qt and "qt-full" not in names:
        names.append("qt-full")
    if not shutil.which("hyperfine"):
        print("bench: hyperfine is missing (Debian: apt-get install hyperfine)", file=sys.stderr)
        return 2
    probe = subprocess.run([sys.executable, "-m", "kiln", "--version"], cwd=REPO, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO)), check=False)
    if probe.returncode != 0:
        print(f"bench: `{sys.executable} -m kiln` does not run Kiln; run this with the Python that has Kiln's "
              f"dependencies (.venv/bin/python bench/run.py):\n{probe.stderr.strip()}", file=sys.stderr)
        return 2

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="kiln-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    scrub.add(work, "<work>")
    scrub.add(REPO, "<repo>")
    scrub.add(Path.home(), "~")
    say(f"scratch folder: {work}")
    try:
        requirements = [r for n in names if not EXAMPLES[n].kiln_only for r in example_requirements(EXAMPLES[n])]
        versions = ensure_peer_venv(requirements)
        info = machine()
        info["uptime at start"] = uptime()
        results = [bench_example(EXAMPLES[n], work / n, runs, warmup, not args.no_zip_experiment) for n in names]
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    info["uptime at end"] = uptime()
    text = report_markdown(results, info, versions, runs, warmup, args.quick)
    print(text)
    out = args.out or BENCH / "results" / f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d')}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    say(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
