"""Real apps package as they are: each shape of app_shapes.py is written out, `kiln new` + `kiln build` run on it
untouched (AppImage and portable), and the built app runs in a clean environment with its output asserted. The
shapes marked `wine` are also built as MSIs around python.org's real Windows CPython, installed under Wine and run.

One Kiln cache (host runtime, wheels) serves the whole corpus; each shape is built once per session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit
from kit import sbom as sbom_kit
from kit.app_shapes import COWSAY, SHAPES, Shape
from kit.runner import KilnRun, kiln
from kit.testing import require_tools
from kit.wine import wine_env
from packaging.pylock import Pylock

pytestmark = [pytest.mark.slow, pytest.mark.long]  # bash .ci/long


def _kiln(*args: str | Path, cwd: Path, cache: Path) -> KilnRun:
    return kiln(*args, cwd=cwd, env={"KILN_CACHE_DIR": str(cache)}, timeout=900)


@pytest.fixture(scope="session")
def corpus_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus-cache")


class _Built:
    """Builds each shape at most once per session (kiln new + kiln build, nothing edited in between)."""

    def __init__(self, root: Path, cache: Path) -> None:
        self.root, self.cache = root, cache
        self.done: dict[str, Path] = {}
        self.failed: dict[str, str] = {}

    def __call__(self, key: str) -> Path:
        require_tools("mksquashfs")
        if key in self.failed:  # one failed build fails every test of the shape with its own message
            pytest.fail(self.failed[key])
        if key not in self.done:
            shape = SHAPES[key]
            folder = shape.write(self.root / key)
            new = _kiln("new", folder, cwd=folder.parent, cache=self.cache)
            # kiln new lists every kind; the Linux ones are built here, the MSI by its own tests below.
            build = _kiln("build", folder / "kiln.toml", "--kind", "appimage", "--kind", "portable", cwd=folder,
                          cache=self.cache) if new.returncode == 0 else new
            if build.returncode != 0:
                self.failed[key] = f"{key}: kiln {'build' if new.returncode == 0 else 'new'} failed:\n" \
                                   f"{build.stdout}\n{build.stderr}"
                pytest.fail(self.failed[key])
            self.done[key] = folder
        return self.done[key]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, corpus_cache: Path) -> _Built:
    return _Built(tmp_path_factory.mktemp("corpus"), corpus_cache)


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """An Xvfb display for the GUI shapes."""
    require_tools("Xvfb")
    for number in range(91, 120):
        if not Path(f"/tmp/.X{number}-lock").exists():
            break
    server = subprocess.Popen(["Xvfb", f":{number}", "-nolisten", "tcp", "-screen", "0", "800x600x24"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            server.poll()
            assert server.returncode is None, "Xvfb did not start"
            subprocess.run(["sleep", "0.1"], check=True)
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _clean_env(tmp: Path, shape: Shape, display: str | None) -> dict[str, str]:
    """No Python anywhere, no PYTHON* variables, a private HOME: what a user's desktop session gives the app."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "TMPDIR": str(tmp), "LANG": "C.UTF-8",
           "XDG_CACHE_HOME": str(tmp / "cache")}
    if shape.display and display:
        env["DISPLAY"] = display
    return env


def _check_output(shape: Shape, result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == shape.code, output
    for expected in shape.expect:
        assert expected in result.stdout, output
    if shape.uses_tk:  # the bundle's own Tcl scripts, not the build machine's
        assert "library /" in result.stdout and "/usr/share/tcltk" not in result.stdout, output


def _prints(shape: Shape, label: str) -> bool:
    """The app prints a line `<label> …` (argv0: its sys.argv[0]; prog: argparse's name for it)."""
    return f"'{label}'" in "".join(shape.files.values()) or f'"{label}"' in "".join(shape.files.values())


def _display_for(shape: Shape, request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("display") if shape.display else None


@pytest.mark.parametrize("key", list(SHAPES))
def test_appimage_runs_in_a_clean_environment(key: str, built: _Built, tmp_path: Path,
                                              request: pytest.FixtureRequest) -> None:
    shape = SHAPES[key]
    folder = built(key)
    image = folder / "dist" / f"{shape.name}-{shape.version}-linux-x86_64.AppImage"
    env = {**_clean_env(tmp_path, shape, _display_for(shape, request)), "APPIMAGE_EXTRACT_AND_RUN": "1"}
    result = subprocess.run([str(image), *shape.args], capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=120, check=False)
    _check_output(shape, result)
    if key == "spawn-pool":  # the spawned workers imported the module, but never started the app again
        assert result.stdout.count("squares") == 1, result.stdout
    if _prints(shape, "argv0"):  # the app's name for itself: the AppImage as it was started
        assert f"argv0 {image}" in result.stdout, result.stdout
    if _prints(shape, "prog"):
        assert f"prog {image.name} " in result.stdout, result.stdout


@pytest.mark.parametrize("key", list(SHAPES))
def test_portable_runs_in_a_clean_environment(key: str, built: _Built, tmp_path: Path,
                                              request: pytest.FixtureRequest) -> None:
    shape = SHAPES[key]
    folder = built(key)
    archive = folder / "dist" / f"{shape.name}-{shape.version}-linux-x86_64.tar.zst"
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(archive), "-C", str(unpacked)], check=True)
    (launcher,) = [p for p in unpacked.glob("*/*") if p.is_file() and os.access(p, os.X_OK)]
    assert launcher.name == (shape.command or shape.name)  # the project's own script name when it has one
    result = subprocess.run([str(launcher), *shape.args], capture_output=True, text=True,
                            env=_clean_env(tmp_path, shape, _display_for(shape, request)), cwd=tmp_path, timeout=120,
                            check=False)
    _check_output(shape, result)
    if _prints(shape, "argv0"):
        assert f"argv0 {launcher}" in result.stdout, result.stdout
    if _prints(shape, "prog"):
        assert f"prog {shape.command} " in result.stdout, result.stdout
    bundle = launcher.parent
    tcl = sorted(p.name for p in (bundle / "runtime" / "lib").glob("*t[ck]*8.6*"))
    if shape.uses_tk:
        assert {"tcl8.6", "tk8.6", "libtcl8.6.so", "libtk8.6.so"} <= set(tcl), tcl
    else:  # a console app is no bigger than before: Tcl/Tk and tkinter are left out
        assert tcl == [], tcl
        assert not list(bundle.glob("runtime/lib/python3.*/tkinter"))
        assert not list(bundle.glob("runtime/lib/python3.*/lib-dynload/_tkinter*"))


PROJECTS = [key for key, shape in SHAPES.items() if shape.is_project]
"""The shapes that are Python projects (built into a wheel); the others are folders of scripts."""


@pytest.mark.parametrize("key", PROJECTS)
def test_the_report_lists_the_apps_own_wheel_and_the_lock_does_not(key: str, built: _Built) -> None:
    shape = SHAPES[key]
    folder = built(key)
    app_name = tomllib.loads((folder / "kiln.toml").read_text(encoding="utf-8"))["app"]["name"]
    report = json.loads((folder / "dist" / f"{app_name}-report.json").read_text(encoding="utf-8"))
    own = [p for p in report["dependencies"]["linux-x86_64"]["installed"] if p["built"]]
    assert [(p["name"], p["version"], p["source"]) for p in own] == [(shape.name, shape.version, "app")]
    assert own[0]["wheel"].startswith(f"{shape.name.replace('-', '_')}-{shape.version}-") or \
        own[0]["wheel"].startswith(f"{shape.name}-{shape.version}-")
    assert len(own[0]["sha256"]) == 64
    lock = Pylock.from_dict(tomllib.loads((folder / "pylock.linux-x86_64.toml").read_text(encoding="utf-8")))
    assert shape.name not in {p.name for p in lock.packages}  # the app's wheel changes with its code: never locked


@pytest.mark.parametrize("key", ["src-layout", "wrapper"])
def test_the_sbom_counts_the_apps_own_wheel_as_the_app(key: str, built: _Built, tmp_path: Path) -> None:
    shape = SHAPES[key]
    folder = built(key)
    archive = folder / "dist" / f"{shape.name}-{shape.version}-linux-x86_64.tar.zst"
    subprocess.run(["tar", "--zstd", "-xf", str(archive), "-C", str(tmp_path)], check=True)
    report = json.loads((folder / "dist" / f"{shape.name}-report.json").read_text(encoding="utf-8"))
    installed = report["dependencies"]["linux-x86_64"]["installed"]
    assert [e["name"] for e in installed if e["built"]] == [shape.name]
    document = sbom_kit.check(archive.with_name(archive.name + ".cdx.json"), None, sbom_kit.read_tree(tmp_path),
                              [f"{shape.name}/{part}" for part in ("runtime", "packages", "app", "kiln_boot.py")],
                              installed)
    refs = sbom_kit.by_ref(document)
    assert f"dist:{shape.name}" not in refs, "the app is the document's subject, not one of its dependencies"
    app_files = {c["name"] for c in refs["app"]["components"]}
    dist_info = f"{shape.name.replace('-', '_')}-{shape.version}.dist-info"
    assert any(name.startswith(f"{shape.name}/app/{dist_info}/") for name in app_files)  # the app layer
    if key == "wrapper":
        assert "dist:cowsay" in {d["ref"]: d["dependsOn"] for d in document["dependencies"]}["app"]


def test_a_folder_without_metadata_gets_marked_guesses(built: _Built, corpus_cache: Path) -> None:
    folder = built("script-requirements")
    text = (folder / "kiln.toml").read_text(encoding="utf-8")
    project = tomllib.loads(text)
    assert project["app"]["name"] == "my-cow-app" and project["app"]["display_name"] == "My Cow Äpp"
    assert project["app"]["version"] == "0.1.0" and project["dependencies"]["requirements_file"] == "requirements.txt"
    assert text.count("guessed by kiln new") == 2
    check = _kiln("check", folder / "kiln.toml", cwd=folder, cache=corpus_cache)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "app.name" in check.stderr and "app.version" in check.stderr and "guess" in check.stderr


def test_kiln_new_offers_the_projects_scripts_labelled(built: _Built) -> None:
    project = tomllib.loads((built("tkinter-window") / "kiln.toml").read_text(encoding="utf-8"))
    assert project["entry"] == {"module": "tkapp.window:main", "kind": "gui"}
    assert "source" not in project  # the wheel's own backend chooses its files
    wrapper = tomllib.loads((built("wrapper") / "kiln.toml").read_text(encoding="utf-8"))
    assert wrapper["entry"] == {"module": "cowsay.__main__:cli", "kind": "console"}


def test_kiln_new_understands_lone_scripts(built: _Built) -> None:
    tipcalc = tomllib.loads((built("lone-tk-script") / "kiln.toml").read_text(encoding="utf-8"))
    assert tipcalc["entry"] == {"script": "tipcalc.py", "kind": "gui"}  # no main guard, a tkinter window
    assert tipcalc["dependencies"] == {"requirements_file": "requirements.txt"}
    moo = tomllib.loads((built("pep723-script") / "kiln.toml").read_text(encoding="utf-8"))
    assert moo["entry"] == {"script": "moo.py", "kind": "console"}
    assert moo["dependencies"] == {"requirements": [COWSAY]} and "python" not in moo  # >=3.9: the default fits
    assert [i["kind"] for i in moo["installer"]] == ["appimage", "portable", "msi", "dmg"]


def test_the_users_folder_gets_no_build_litter(built: _Built) -> None:
    folder = built("setup-py-only")
    assert sorted(p.name for p in folder.iterdir()) == ["dist", "kiln.toml", "oldstyle", "pylock.linux-x86_64.toml",
                                                        "setup.py"]
    assert not shutil.which("oldstyle")  # nothing was installed on this machine either


@pytest.fixture(scope="session")
def stand_in_runtimes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Windows and macOS runtimes in python-build-standalone's layout (no such CPython can be fetched here)."""
    from kit import msi as msi_kit
    from kit.dmg import ARCHIVES, fake_macos_runtime

    folder = tmp_path_factory.mktemp("stand-in-runtimes")
    mac = folder / ARCHIVES["macos-arm64"]
    fake_macos_runtime(mac)
    return {"msi": msi_kit.fake_runtime_archive(folder), "dmg": mac}


# Every shape that is a Python project builds a pure wheel, which serves every platform: each also builds an
# MSI and a DMG (around stand-in runtimes), and both hold the app's dist-info (in app/, the app's layer).
PURE_WHEELS = PROJECTS  # a script folder makes no wheel


@pytest.mark.parametrize("key", PURE_WHEELS)
def test_pure_wheel_shapes_build_msi_and_dmg_holding_the_apps_dist_info(
    key: str, built: _Built, tmp_path: Path, corpus_cache: Path, stand_in_runtimes: dict[str, Path]
) -> None:
    from kit.dmg import seven_zip

    require_tools("wixl", "msiextract", "xorriso")
    shape = SHAPES[key]
    folder = tmp_path / "app"
    shutil.copytree(built(key), folder, ignore=shutil.ignore_patterns("dist", "pylock.*.toml"))
    dist_info = f"{shape.name.replace('-', '_')}-{shape.version}.dist-info"
    for kind, runtime in stand_in_runtimes.items():
        project = tomlkit.parse((folder / "kiln.toml").read_text(encoding="utf-8"))
        project["python"] = {"source": str(runtime)}  # the one change: a stand-in runtime for the foreign OS
        installers = tomlkit.aot()
        installers.append(tomlkit.table().add("kind", kind))
        project["installer"] = installers
        (folder / "kiln.toml").write_text(tomlkit.dumps(project), encoding="utf-8")
        build = _kiln("build", folder / "kiln.toml", cwd=folder, cache=corpus_cache)
        assert build.returncode == 0, f"{key} {kind}:\n{build.stdout}\n{build.stderr}"
    (msi,) = (folder / "dist").glob("*.msi")
    subprocess.run(["msiextract", "-C", str(tmp_path / "msi"), str(msi)], check=True, capture_output=True)
    (metadata,) = (tmp_path / "msi").rglob(f"app/{dist_info}/METADATA")  # the app's wheel is the app layer
    assert f"Version: {shape.version}" in metadata.read_text(encoding="utf-8")
    assert (metadata.parent / "entry_points.txt").is_file()
    (dmg,) = (folder / "dist").glob("*.dmg")
    assert any(path.endswith(f"/app/{dist_info}/METADATA") for path in seven_zip(dmg)), key
    for platform in ("windows-x86_64", "macos-arm64"):  # the same pure wheel serves every platform, never locked
        lock = Pylock.from_dict(tomllib.loads((folder / f"pylock.{platform}.toml").read_text(encoding="utf-8")))
        assert shape.name not in {p.name for p in lock.packages}


def test_what_kiln_added_is_reported_and_warned(built: _Built) -> None:
    notes = built("package-data-no-manifest")
    report = json.loads((notes / "dist" / "notes-report.json").read_text(encoding="utf-8"))
    assert report["added"] == {name: "left out of the wheel by setuptools.build_meta" for name in (
        "notes/data/note.txt", "notes/données/café ☕.txt", "notes/templates/page.txt")}
    assert any("[tool.setuptools.package-data] notes = " in w for w in report["warnings"])
    game = built("script-assets")
    report = json.loads((game / "dist" / "little-game-report.json").read_text(encoding="utf-8"))
    assert report["added"] == {"assets": "beside the scripts", "levels": "beside the scripts"}
    assert report["findings"] == {"linux-x86_64": []}
    runner = built("runs-own-py")
    report = json.loads((runner / "dist" / "runner-report.json").read_text(encoding="utf-8"))
    assert report["stages"]["check"] >= 0 and report["installers"][0]["findings"] == []


# -- the new shapes as MSIs around python.org's real Windows CPython, installed and run under Wine ---------------
WINE_SHAPES = [key for key, shape in SHAPES.items() if shape.wine]


@pytest.fixture(scope="module")
def wine_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A Wine prefix made once; each test installs into a copy."""
    require_tools("wine", "wineserver", "wixl", "msibuild", "msiinfo")
    base = tmp_path_factory.mktemp("wine")
    env = wine_env(base, base / "template")
    subprocess.run(["wine", "wineboot", "-i"], env=env, check=True, capture_output=True, timeout=300)
    subprocess.run(["wineserver", "-w"], env=env, check=True, capture_output=True, timeout=300)
    yield base / "template", env


@pytest.mark.wine
@pytest.mark.parametrize("key", WINE_SHAPES)
def test_msi_with_the_real_windows_cpython_runs_under_wine(key: str, built: _Built, tmp_path: Path,
                                                           corpus_cache: Path,
                                                           wine_template: tuple[Path, dict[str, str]]) -> None:
    shape = SHAPES[key]
    folder = tmp_path / "app"
    shutil.copytree(built(key), folder, ignore=shutil.ignore_patterns("dist", "kiln.lock"))
    project = tomlkit.parse((folder / "kiln.toml").read_text(encoding="utf-8"))
    project["python"] = {"source": "embed"}  # python.org's embeddable CPython, from the package index
    installers = tomlkit.aot()
    installers.append(tomlkit.table().add("kind", "msi"))
    project["installer"] = installers
    (folder / "kiln.toml").write_text(tomlkit.dumps(project), encoding="utf-8")
    build = _kiln("build", folder / "kiln.toml", cwd=folder, cache=corpus_cache)
    if shape.uses_tk:  # python.org's embeddable CPython has no tkinter: the bundle check refuses, with the fix
        assert build.returncode != 0 and not list((folder / "dist").glob("*.msi")), build.output
        assert "imports tkinter" in build.output and 'source = "download"' in build.output, build.output
        return
    assert build.returncode == 0, f"{key} msi:\n{build.stdout}\n{build.stderr}"
    (msi,) = (folder / "dist").glob("*.msi")

    template, env = wine_template
    prefix = tmp_path / "prefix"
    subprocess.run(["cp", "-a", str(template), str(prefix)], check=True)
    env = {**env, "WINEPREFIX": str(prefix)}
    try:
        installed = subprocess.run(["wine", "msiexec", "/i", str(msi), "/qn"], env=env, capture_output=True,
                                   timeout=300)
        assert installed.returncode == 0, installed.stderr.decode(errors="replace")
        command = shape.command or shape.name  # the .exe is named after the app's command
        (exe,) = prefix.glob(f"drive_c/users/*/AppData/Local/Programs/*/{command}.exe")  # the folder: the title
        result = subprocess.run(["wine", str(exe), *shape.args], env=env, capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=240)
        out = result.stdout.decode("utf-8", errors="replace")
        assert result.returncode == shape.code, out + result.stderr.decode(errors="replace")
        for expected in shape.expect:
            assert expected in out, out + result.stderr.decode(errors="replace")
        if _prints(shape, "argv0"):  # the installed command, as pip's console-script wrappers give it (no ".exe")
            (argv0,) = [line.removeprefix("argv0 ") for line in out.splitlines() if line.startswith("argv0 ")]
            assert argv0.startswith("C:\\") and argv0.endswith(f"\\{exe.parent.name}\\{command}"), argv0
        if _prints(shape, "prog"):  # argparse names the program after it
            assert f"prog {shape.command} " in out, out
    finally:
        subprocess.run(["wineserver", "-k"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(prefix, ignore_errors=True)  # 0.7 GB a shape


def test_a_newcomers_first_build_makes_every_kind_or_says_why_not(built: _Built, tmp_path: Path,
                                                                   corpus_cache: Path) -> None:
    """kiln new + kiln build with nothing changed: every table is built, or fails on its own with a hint (here:
    no macOS runtime without GitHub), and the exit code is 0 only when all were built."""
    folder = tmp_path / "moo"
    shutil.copytree(built("pep723-script"), folder, ignore=shutil.ignore_patterns("dist", "kiln.lock"))
    build = _kiln("build", folder / "kiln.toml", "--events", "jsonl", cwd=folder, cache=corpus_cache)
    done = build.events[-1]
    outcomes = {o["kind"]: o for o in done.data["installers"]}
    assert set(outcomes) == {"appimage", "portable", "msi", "dmg"}, build.output
    for kind in ("appimage", "portable", "msi"):  # the runtimes of these can be had here
        assert outcomes[kind]["status"] == "ok", outcomes[kind]
    failed = [o for o in outcomes.values() if o["status"] != "ok"]
    assert all(o["hint"] for o in failed), failed
    assert build.returncode == (1 if failed else 0), build.output
    artifacts = [p for p in (folder / "dist").iterdir() if p.name.startswith("moo723-0.1.0")
                 and not p.name.endswith((".cdx.json", ".zsync"))]  # each artifact's SBOM and the AppImage's .zsync
    assert sorted(p.suffix for p in artifacts) == \
        sorted({"appimage": ".AppImage", "portable": ".zst", "msi": ".msi", "dmg": ".dmg"}[o["kind"]]
               for o in outcomes.values() if o["status"] == "ok")
