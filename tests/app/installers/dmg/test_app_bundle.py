"""The .app bundle: Info.plist values and escaping, names, modes, and the sh launcher run for real (dash and bash)."""

from __future__ import annotations

import json
import os
import plistlib
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kit.testing import find_tool as need

from kiln.installers.dmg.app_bundle import (
    BUNDLE_DIR,
    BUNDLE_FROM_LAUNCHER,
    app_folder_name,
    apple_version,
    bundle_identifier,
    info_plist,
    make_app_bundle,
    one_line,
)
from kiln.kinds.contract import StagedApp
from kiln.model.project import AppSection, EntrySection, Project
from kiln.support.errors import KilnError
from kiln.support.posix_launcher import posix_launcher
from kiln.support.targets import TARGETS

HOSTILE = 'Tom\'s "Best" <App> & co\n/: Ünïcødé 名前\t\x07end'
PROBE_PYTHON = '#!/bin/sh\nprintf "<%s>\\n" "$0" "$@"\n'  # stands in for the interpreter: prints how it was called



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
    assert plistlib.loads((contents / "Info.plist").read_bytes())["CFBundleExecutable"] == "hello"
    # The staged bundle (hard-linked from Kiln's cache in real builds) is untouched.
    assert (staged.bundle / "runtime" / "bin" / "python3.11").stat().st_mode & 0o777 == 0o775
    assert not os.path.samefile(staged.bundle / "kiln_boot.py", resources / "kiln_boot.py")


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


# --- the launcher, run for real -----------------------------------------------------------------------------------

SHELLS = [["dash"], ["bash"], ["bash", "--posix"]]
ARGS = ["plain", "two words", "it's \"quoted\"", "$HOME `id` $(id)", "*", "", "new\nline", "-psn_not_first"]


@pytest.fixture
def odd_app(tmp_path: Path) -> tuple[Path, Path]:
    """A bundle in a folder whose name has quotes, `$`, spaces and a trailing newline; returns (.app, launcher)."""
    staged = fake_staged(tmp_path, AppSection(name="hello", display_name=HOSTILE))
    parent = tmp_path / "we'ird \"dir\" $HOME & `x`\n"
    parent.mkdir()
    app_dir, _ = make_app_bundle(staged, parent, "11.0", icns(tmp_path))
    return app_dir, app_dir / "Contents" / "MacOS" / "hello"


def probe_argv(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return re.findall(r"<(.*?)>\n", result.stdout, flags=re.S)


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_launcher_runs_the_bundled_python_with_args(shell: list[str], odd_app: tuple[Path, Path]) -> None:
    need(shell[0])
    app_dir, launcher = odd_app
    result = subprocess.run([*shell, str(launcher), *ARGS], capture_output=True, text=True)
    bundle = str(app_dir.resolve() / "Contents" / "MacOS" / ".." / "Resources" / BUNDLE_DIR)
    assert probe_argv(result) == [f"{bundle}/runtime/bin/python3.11", "-I", f"{bundle}/kiln_boot.py", *ARGS]


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_launcher_finds_its_bundle_through_a_chain_of_symlinks(
    shell: list[str], odd_app: tuple[Path, Path], tmp_path: Path
) -> None:
    need(shell[0])
    _, launcher = odd_app
    bin_dir, other = tmp_path / "usr local" / "bin", tmp_path / "other"
    bin_dir.mkdir(parents=True)
    other.mkdir()
    (other / "middle").symlink_to(launcher)  # absolute link
    (bin_dir / "hello").symlink_to(Path("..", "..", "other", "middle"))  # relative link to the absolute one
    result = subprocess.run([*shell, str(bin_dir / "hello"), "-psn_0_12345", "a b"], capture_output=True, text=True)
    argv = probe_argv(result)
    assert Path(argv[0]).resolve() == (launcher.parent.parent / "Resources" / BUNDLE_DIR / "runtime" / "bin" /
                                       "python3.11").resolve()
    assert argv[1:] == ["-I", argv[0].replace("runtime/bin/python3.11", "kiln_boot.py"), "a b"]  # psn dropped


def test_launcher_found_on_path_and_by_relative_name(odd_app: tuple[Path, Path], tmp_path: Path) -> None:
    need("dash")
    _, launcher = odd_app
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "hello").symlink_to(launcher)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    on_path = subprocess.run(["dash", "-c", 'hello "$@"', "sh", "x y"], capture_output=True, text=True, env=env)
    relative = subprocess.run(["dash", "hello", "x y"], capture_output=True, text=True, cwd=bin_dir)
    assert probe_argv(on_path)[-1] == probe_argv(relative)[-1] == "x y"
    assert probe_argv(on_path)[0] == probe_argv(relative)[0]


def mac_launcher(staged: StagedApp) -> str:
    """The launcher as make_app_bundle writes it into Contents/MacOS."""
    return posix_launcher(one_line(staged.app.title), staged.python_relpath, BUNDLE_FROM_LAUNCHER, finder=True)


def test_symlink_loop_is_an_error_not_a_hang(tmp_path: Path) -> None:
    need("dash")
    staged = fake_staged(tmp_path, AppSection(name="hello"))
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    script = tmp_path / "launcher.sh"
    script.write_text(mac_launcher(staged))
    result = subprocess.run(["dash", "-c", f". {script}", str(tmp_path / "a")], capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 126 and "too many symbolic links" in result.stderr


def test_launcher_has_no_readlink_f_and_quotes_nothing_from_the_project(tmp_path: Path) -> None:
    text = mac_launcher(fake_staged(tmp_path, AppSection(name="hello", display_name="x\n$(rm -rf ~)`id`'\"")))
    assert "readlink -f" not in text and "-f --" not in text
    assert text.startswith("#!/bin/sh\n# Written by Kiln: starts x $(rm -rf ~)`id`'\"")
    assert text.splitlines()[1].startswith("#")  # the title only ever appears inside this comment line


# --- a Linux-staged bundle with the host's real Python, wrapped the macOS way --------------------------------------

PROBE_APP = """\
import json, os, sys

def main():
    data = os.path.join(os.path.dirname(__file__), "greeting.txt")
    print(json.dumps({"argv": sys.argv, "isolated": sys.flags.isolated, "prefix": sys.prefix,
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
    link = tmp_path / "bin" / "probe"
    link.parent.mkdir()
    link.symlink_to(app_dir / "Contents" / "MacOS" / "probe")
    for shell in ("dash", "bash"):
        need(shell)
        result = subprocess.run([shell, str(link), "a b", "$HOME", "it's"], capture_output=True, text=True,
                                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "/nonexistent"})
        assert result.returncode == 3, result.stderr
        out = json.loads(result.stdout)
        assert out["argv"] == [str(link), "a b", "$HOME", "it's"]  # KILN_ARGV0 becomes sys.argv[0]
        assert out["isolated"] == 1 and out["greeting"] == "hi from the bundle"
        assert Path(out["prefix"]) == (app_dir / "Contents" / "Resources" / BUNDLE_DIR / "runtime").resolve()
