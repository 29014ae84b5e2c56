"""The .app bundle: Info.plist values and escaping, names, modes, the Mach-O launcher for the target's architecture,
and (its logic compiled for Linux) a bundle with the host's real Python started through it."""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kit.macos import linux_launcher

from kiln.installers.dmg.app_bundle import (
    BUNDLE_DIR,
    app_folder_name,
    apple_version,
    bundle_identifier,
    info_plist,
    launcher_binary,
    make_app_bundle,
)
from kiln.kinds.contract import StagedApp
from kiln.model.project import AppSection, EntrySection, Project
from kiln.support.errors import KilnError
from kiln.support.targets import TARGETS

HOSTILE = 'Tom\'s "Best" <App> & co\n/: Ünïcødé 名前\t\x07end'
PROBE_PYTHON = '#!/bin/sh\nprintf "<%s>\\n" "$0" "$@"\n'  # stands in for the interpreter



def fake_staged(root: Path, app: AppSection, platform: str = "macos-arm64") -> StagedApp:
    """A staged bundle whose 'python' is a sh script printing its argv."""
    bundle = root / "bundle"
    (bundle / "runtime" / "bin").mkdir(parents=True)
    (bundle / "runtime" / "lib" / "python3.11").mkdir(parents=True)
    (bundle / "runtime" / "bin" / "python3.11").write_text(PROBE_PYTHON)
    (bundle / "runtime" / "bin" / "python3.11").chmod(0o775)  # umask-ish mode: the copy must normalise it
    (bundle / "runtime" / "bin" / "python3").symlink_to("python3.11")
    (bundle / "runtime" / "lib" / "python3.11" / "os.py").write_text("# os\n")
    (bundle / "runtime" / "lib" / "python3.11" / "os.py").chmod(0o600)
    (bundle / "app").mkdir()
    (bundle / "packages").mkdir()
    (bundle / "kiln_boot.py").write_text("# boot\n")
    return StagedApp(bundle, TARGETS[platform], "3.11", app, EntrySection(module="probe:main"), None)


def icns(tmp_path: Path) -> Path:
    path = tmp_path / "icon.icns"
    path.write_bytes(b"icns\x00\x00\x00\x08")
    return path


# --- names, versions, identifiers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "apple"),
    [("1", "1.0.0"), ("1.2", "1.2.0"), ("1.2.3", "1.2.3"), ("1.2.3.4", "1.2.3"), ("2.0rc1", "2.0.0"),
     ("1!3.1.post2", "3.1.0"), ("0.1.0.dev4+local.7", "0.1.0"), ("2024.05.01", "2024.5.1")],
)
def test_apple_version_is_three_integers(version: str, apple: str) -> None:
    assert apple_version(version) == apple
    assert re.fullmatch(r"\d+\.\d+\.\d+", apple_version(version))


def test_identifier_is_kept_or_derived_in_apples_alphabet() -> None:
    assert bundle_identifier(AppSection(name="x", identifier="org.example.x")) == ("org.example.x", False)
    derived, was_derived = bundle_identifier(AppSection(name="My_App.2"))
    assert was_derived and derived == "local.kiln.My-App-2"
    assert re.fullmatch(r"[A-Za-z0-9.-]+", derived)


@pytest.mark.parametrize(
    ("title", "folder"),
    [("Hello", "Hello.app"), ("a/b:c", "a-b-c.app"), ("..hidden", "hidden.app"), (" \n ", "App.app"),
     ("Line\nbreak\ttab", "Line break tab.app"), ("x" * 300, "x" * 200 + ".app")],
)
def test_app_folder_name_is_a_safe_file_name(title: str, folder: str) -> None:
    assert app_folder_name(title) == folder


def test_info_plist_holds_the_project_values_with_hostile_strings(tmp_path: Path) -> None:
    app = AppSection(name="hello", display_name=HOSTILE, version="1.4rc2", identifier="org.example.hello",
                     publisher='Ac&me <"Ltd">')
    staged = fake_staged(tmp_path, app)
    data = plistlib.dumps(info_plist(staged, "12.3", "hello.icns"))
    assert b"<App>" not in data and b"&lt;App&gt; &amp; co" in data  # escaped by plistlib, not by hand
    plist = plistlib.loads(data)
    one_line = 'Tom\'s "Best" <App> & co /: Ünïcødé 名前 end'
    assert plist == {
        "CFBundleDevelopmentRegion": "en", "CFBundleDisplayName": one_line, "CFBundleName": one_line,
        "CFBundleExecutable": "hello", "CFBundleIconFile": "hello.icns", "CFBundleIdentifier": "org.example.hello",
        "CFBundleInfoDictionaryVersion": "6.0", "CFBundlePackageType": "APPL", "CFBundleSignature": "????",
        "CFBundleShortVersionString": "1.4.0", "CFBundleVersion": "1.4.0", "LSMinimumSystemVersion": "12.3",
        "LSUIElement": False, "NSHighResolutionCapable": True, "NSHumanReadableCopyright": '© Ac&me <"Ltd">',
    }


@pytest.mark.parametrize("value", ["", "eleven", "11.0; rm -rf /", "11.0.0.0", "<11>"])
def test_bad_minimum_macos_is_an_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(KilnError, match="minimum_macos"):
        info_plist(fake_staged(tmp_path, AppSection(name="x")), value, "x.icns")


def test_minimum_macos_comes_from_the_project_option() -> None:
    project = Project.model_validate({"app": {"name": "x"}, "entry": {"module": "x"},
                                      "installer": [{"kind": "dmg", "minimum_macos": "10.15"}]})
    assert project.installer[0].kind == "dmg" and project.installer[0].minimum_macos == "10.15"


def test_the_executable_is_the_apps_command(tmp_path: Path) -> None:
    staged = fake_staged(tmp_path, AppSection(name="Pygments"))
    staged.command = "pygmentize"  # the project's own script name (kiln.source.command)
    parent = tmp_path / "volume"
    parent.mkdir()
    app_dir, _ = make_app_bundle(staged, parent, "11.0", icns(tmp_path))
    assert plistlib.loads((app_dir / "Contents" / "Info.plist").read_bytes())["CFBundleExecutable"] == "pygmentize"
    assert [p.name for p in (app_dir / "Contents" / "MacOS").iterdir()] == ["pygmentize"]


# --- the bundle on disk ------------------------------------------------------------------------------------------


def test_bundle_layout_modes_and_copy(tmp_path: Path) -> None:
    staged = fake_staged(tmp_path, AppSection(name="hello", display_name=HOSTILE))
    parent = tmp_path / "volume"
    parent.mkdir()
    app_dir, warnings = make_app_bundle(staged, parent, "11.0", icns(tmp_path))
    assert warnings == []
    assert app_dir.name == app_folder_name(HOSTILE) and app_dir.parent == parent
    contents = app_dir / "Contents"
    resources = contents / "Resources" / BUNDLE_DIR
    modes = {p.relative_to(app_dir).as_posix(): p.lstat().st_mode & 0o7777 for p in app_dir.rglob("*")
             if not p.is_symlink()}
    assert modes == {
        "Contents": 0o755, "Contents/Info.plist": 0o644, "Contents/PkgInfo": 0o644, "Contents/MacOS": 0o755,
        "Contents/MacOS/hello": 0o755, "Contents/Resources": 0o755, "Contents/Resources/hello.icns": 0o644,
        f"Contents/Resources/{BUNDLE_DIR}": 0o755, f"Contents/Resources/{BUNDLE_DIR}/app": 0o755,
        f"Contents/Resources/{BUNDLE_DIR}/packages": 0o755, f"Contents/Resources/{BUNDLE_DIR}/kiln_boot.py": 0o644,
        f"Contents/Resources/{BUNDLE_DIR}/runtime": 0o755, f"Contents/Resources/{BUNDLE_DIR}/runtime/bin": 0o755,
        f"Contents/Resources/{BUNDLE_DIR}/runtime/bin/python3.11": 0o755,
        f"Contents/Resources/{BUNDLE_DIR}/runtime/lib": 0o755,
        f"Contents/Resources/{BUNDLE_DIR}/runtime/lib/python3.11": 0o755,
        f"Contents/Resources/{BUNDLE_DIR}/runtime/lib/python3.11/os.py": 0o644,
    }
    assert os.readlink(resources / "runtime" / "bin" / "python3") == "python3.11"
    assert (resources / "runtime" / "bin" / "python3.11").read_text() == PROBE_PYTHON
    assert (contents / "PkgInfo").read_bytes() == b"APPL????"
    assert (contents / "MacOS" / "hello").read_bytes() == launcher_binary("arm64").read_bytes()
    assert plistlib.loads((contents / "Info.plist").read_bytes())["CFBundleExecutable"] == "hello"
    # The staged bundle (hard-linked from Kiln's cache in real builds) is untouched.
    assert (staged.bundle / "runtime" / "bin" / "python3.11").stat().st_mode & 0o777 == 0o775
    assert not os.path.samefile(staged.bundle / "kiln_boot.py", resources / "kiln_boot.py")


def test_the_launcher_is_the_one_for_the_targets_architecture(tmp_path: Path) -> None:
    staged = fake_staged(tmp_path, AppSection(name="hello"), platform="macos-x86_64")
    (tmp_path / "volume").mkdir()
    app_dir, _ = make_app_bundle(staged, tmp_path / "volume", "11.0", icns(tmp_path))
    launcher = (app_dir / "Contents" / "MacOS" / "hello").read_bytes()
    assert launcher == launcher_binary("x86_64").read_bytes() != launcher_binary("arm64").read_bytes()


def test_names_that_clash_on_a_case_insensitive_disk_are_refused(tmp_path: Path) -> None:
    staged = fake_staged(tmp_path, AppSection(name="hello"))
    (staged.packages_dir / "Foo.py").write_text("")
    (staged.packages_dir / "foo.py").write_text("")
    (tmp_path / "volume").mkdir()
    with pytest.raises(KilnError, match=r"'Foo.py' and 'foo.py' in packages are the same name on a macOS disk"):
        make_app_bundle(staged, tmp_path / "volume", "11.0", icns(tmp_path))


def test_links_leaving_the_bundle_are_reported(tmp_path: Path) -> None:
    staged = fake_staged(tmp_path, AppSection(name="hello"))
    (staged.runtime_dir / "lib" / "ssl-certs").symlink_to("/etc/ssl/certs")
    (tmp_path / "volume").mkdir()
    _, warnings = make_app_bundle(staged, tmp_path / "volume", "11.0", icns(tmp_path))
    assert warnings == ["runtime/lib/ssl-certs links outside the app (/etc/ssl/certs); it will dangle"]


# --- a Linux-staged bundle with the host's real Python, wrapped the macOS way --------------------------------------

PROBE_APP = """\
import json, os, sys

def main():
    data = os.path.join(os.path.dirname(__file__), "greeting.txt")
    print(json.dumps({"argv": sys.argv, "isolated": sys.flags.isolated, "prefix": sys.prefix,
                      "executable": sys.executable, "process": os.readlink("/proc/self/exe"),
                      "greeting": open(data, encoding="utf-8").read().strip()}))
    return 3
"""


@contextmanager
def _stage_step(step: str, message: str) -> Iterator[Any]:
    class Reporter:
        def progress(self, fraction: float, message: str = "") -> None: ...
        def log(self, message: str) -> None: ...
        def warn(self, message: str) -> None: ...

    yield Reporter()


@pytest.fixture(scope="session")
def host_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(os.environ.get("KILN_TEST_CACHE") or tmp_path_factory.mktemp("kiln-cache"))


@pytest.mark.slow
def test_linux_staged_bundle_runs_through_the_macos_launcher(tmp_path: Path, host_cache: Path) -> None:
    """Kiln's bundle of the host's Python, wrapped as an .app, started through a symlink to the launcher: the
    Mach-O launcher's logic (launcher.c, compiled for Linux in its place) runs the app in its own process."""
    from kiln.engine.report import BuildReport
    from kiln.engine.staging import stage_app

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    src = tmp_path / "src" / "probe"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text(PROBE_APP)
    (src / "greeting.txt").write_text("hi from the bundle\n")
    project = Project.model_validate({
        "app": {"name": "probe", "display_name": "Probe \"Q\" & <b>", "version": "1.0"},
        "entry": {"module": "probe:main"}, "source": {"root": "src", "include": ["**/*.py", "**/*.txt"]},
        "python": {"version": version, "source": "host"},
    })
    staged = stage_app(project, tmp_path, TARGETS["linux-x86_64"], tmp_path / "work", host_cache, _stage_step,
                       BuildReport(project="p", kiln_version="0"))
    parent = tmp_path / "Volume with 'quotes'"
    parent.mkdir()
    app_dir, _ = make_app_bundle(staged, parent, "11.0", icns(tmp_path))
    main = app_dir / "Contents" / "MacOS" / "probe"
    shutil.copy(linux_launcher(tmp_path / "launcher"), main)
    link = tmp_path / "bin" / "probe"
    link.parent.mkdir()
    link.symlink_to(main)
    result = subprocess.run([str(link), "a b", "$HOME", "it's", ""], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "/nonexistent", "PYTHONHOME": "/nonexistent"})
    assert result.returncode == 3, result.stderr
    out = json.loads(result.stdout)
    assert out["argv"] == [str(link), "a b", "$HOME", "it's", ""]  # KILN_ARGV0 becomes sys.argv[0]
    assert out["isolated"] == 1 and out["greeting"] == "hi from the bundle"
    runtime = (app_dir / "Contents" / "Resources" / BUNDLE_DIR / "runtime").resolve()
    assert Path(out["prefix"]) == runtime and Path(out["executable"]) == runtime / "bin" / f"python{version}"
    assert Path(out["process"]) == main.resolve()  # Python ran inside the app's main executable
