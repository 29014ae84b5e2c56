"""The appimage kind: AppDir layout, reproducible payload, `kiln inspect`, and the example apps run for real.

Fast tests pack a tiny bundle (its "runtime" execs the test's own Python). The slow acceptance tests build
examples/hello (with a hostile display name and description) and examples/qt-hello once per session through the
CLI, then read the files back with independent readers: the runtime itself, unsquashfs, readelf, libappimage,
7-Zip, desktop-file-validate and GLib's key-file parser.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
import tomlkit
from kit import sbom as sbom_kit
from kit.appimage import PY
from kit.appimage import cat as _cat
from kit.appimage import clean_env as _env
from kit.appimage import listing as _listing
from kit.appimage import run as _run
from kit.appimage import tiny_build as _tiny_build
from kit.appimage import tiny_staged as _tiny_staged
from kit.projects import copy_example, write_project
from kit.runner import kiln
from kit.testing import REPO
from kit.testing import find_tool as _tool
from PIL import Image
from pydantic import ValidationError

from kiln.cli.inspect import inspect_artifact
from kiln.installers.appimage import sections, start_cache
from kiln.installers.appimage.desktop_entry import one_line
from kiln.installers.appimage.format import assemble, elf_end_offset, make_squashfs, runtime_path
from kiln.installers.appimage.installer import AppImageInstaller, runtime_version
from kiln.installers.appimage.options import AppImageOptions
from kiln.support.errors import KilnError
from kiln.support.icons import HICOLOR_SIZES

HOSTILE_TITLE = 'Hello "$(touch PWNED)" `touch PWNED`; rm -rf ~\nsecond line\t%f \\ 🎉'
HOSTILE_DESCRIPTION = "Greets;\nfrom $(touch PWNED)\x1b[31m and 100% 'quotes' \\n"



@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _tool("mksquashfs")
    root = tmp_path_factory.mktemp("tiny")
    return _tiny_build(root, _tiny_staged(root, marker=root / "ran.txt"))


def test_artifact_name_and_required_tools(tmp_path: Path) -> None:
    staged = _tiny_staged(tmp_path)
    assert AppImageInstaller(AppImageOptions()).artifact_name(staged) == "tiny-2.0-linux-x86_64.AppImage"
    assert AppImageInstaller(AppImageOptions(output_name="Tiny")).artifact_name(staged) == "Tiny.AppImage"
    assert AppImageInstaller(AppImageOptions()).required_tools() == ["mksquashfs"]


def test_a_new_project_lists_appimage_and_the_other_kinds(tmp_path: Path) -> None:
    folder = tmp_path / "hello"
    copy_example("hello", tmp_path, project=False)
    result = kiln("new", folder, cwd=tmp_path, env={"PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    written = tomlkit.parse((folder / "kiln.toml").read_text(encoding="utf-8"))
    assert [table["kind"] for table in written["installer"]] == ["appimage", "portable", "msi", "dmg"]


def test_the_menu_entry_runs_the_apps_command(tmp_path: Path) -> None:
    staged = _tiny_staged(tmp_path)
    staged.command = "tiny-cli"  # the project's own script name (kiln.source.command)
    entry = AppImageInstaller(AppImageOptions()).desktop_entry(staged)
    assert entry.exec_argv == ("tiny-cli",) and entry.icon == "tiny"


def test_terminal_follows_the_entry_kind_unless_set(tmp_path: Path) -> None:
    console, gui = _tiny_staged(tmp_path / "c"), _tiny_staged(tmp_path / "g", kind="gui")
    assert AppImageInstaller(AppImageOptions()).desktop_entry(console).terminal is True
    assert AppImageInstaller(AppImageOptions()).desktop_entry(gui).terminal is False
    assert AppImageInstaller(AppImageOptions(terminal=False)).desktop_entry(console).terminal is False


def test_bad_categories_fail_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="Utilty"):  # `kiln check` refuses them (project validation)
        AppImageOptions(categories=["Utilty"])
    # Options that skipped validation (built in code) are still refused before the slow steps.
    with pytest.raises(KilnError, match="Utilty"):
        _tiny_build(tmp_path, _tiny_staged(tmp_path), AppImageOptions.model_construct(categories=["Utilty"]))
    assert not (tmp_path / "work").exists()


def test_tiny_layout_modes_and_icons(tiny: Path) -> None:
    assert tiny.stat().st_mode & 0o777 == 0o755
    icons = [f"usr/share/icons/hicolor/{n}x{n}/apps/tiny.png" for n in HICOLOR_SIZES]
    assert set(_listing(tiny)) == {
        "", ".DirIcon", "AppRun", "org.example.tiny.desktop", "tiny.png", "app", "app/data.txt", "usr", "usr/app",
        "usr/kiln_boot.py", "usr/packages", "usr/runtime", "usr/runtime/bin", f"usr/runtime/bin/python{PY}",
        "usr/share", "usr/share/icons", "usr/share/icons/hicolor", "usr/share/applications",
        "usr/share/applications/org.example.tiny.desktop", "usr/share/metainfo",
        "usr/share/metainfo/org.example.tiny.metainfo.xml",
        *icons, *(str(Path(i).parent) for i in icons), *(str(Path(i).parent.parent) for i in icons),
    }  # no portable launcher (usr/tiny): it is not part of the AppImage
    # The app's files are the layer appended to the cached base, at the top; the bundle reaches them via usr/app.
    assert _run([_tool("unsquashfs"), "-o", str(elf_end_offset(tiny)), "-lls", tiny]).stdout.count(
        "squashfs-root/usr/app -> ../app") == 1
    modes = {line.split()[-1].removeprefix("squashfs-root/"): line.split()[:2] for line in _listing(tiny, long=True)}
    assert modes["AppRun"] == ["-rwxr-xr-x", "root/root"]
    assert modes["org.example.tiny.desktop"] == ["-rw-r--r--", "root/root"]
    assert all(mode == "drwxr-xr-x" for mode, _owner in modes.values() if mode.startswith("d"))
    sizes = [(".DirIcon", 256), ("tiny.png", 256), *zip(icons, HICOLOR_SIZES, strict=True)]
    for member, size in sizes:
        image = Image.open(io.BytesIO(_cat(tiny, member)))
        assert (image.format, image.size, image.mode) == ("PNG", (size, size), "RGBA"), member
    assert _cat(tiny, "AppRun").startswith(b"#!/bin/sh\n")


def test_tiny_runs_and_passes_arguments_argv0_and_exit_code(tiny: Path, tmp_path: Path) -> None:
    for extra in ({}, {"APPIMAGE_EXTRACT_AND_RUN": "1"}):
        result = _run([tiny, "--exit", "5", "a b", "$(touch PWNED)", ""], env=_env(tmp_path, **extra), cwd=tmp_path)
        assert result.returncode == 5, result.stderr
        shown = json.loads(result.stdout)
        assert shown["args"] == ["--exit", "5", "a b", "$(touch PWNED)", ""]
        assert shown["argv0"] == str(tiny)  # the runtime's ARGV0 reaches the app as KILN_ARGV0
    assert not (tmp_path / "PWNED").exists()


def test_same_input_gives_identical_bytes_whatever_the_umask(tiny: Path, tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        again = _tiny_build(tmp_path, _tiny_staged(tmp_path, marker=tiny.parent.parent / "ran.txt"))
    finally:
        os.umask(previous)
    assert again.read_bytes() == tiny.read_bytes()


def test_describe_reads_without_running(tiny: Path) -> None:
    marker = tiny.parent.parent / "ran.txt"
    marker.unlink(missing_ok=True)
    text = inspect_artifact(tiny)
    assert not marker.exists(), "kiln inspect must not execute the AppImage"
    offset = elf_end_offset(tiny)
    assert f"runtime:  Kiln AppImage runtime 1.3.0 (the one this Kiln ships), {offset} bytes" in text
    assert f"squashfs 4.0 at offset {offset}" in text and ", zstd," in text
    assert "glibc:    not recorded" in text  # the tiny payload has no ELF files
    digest = hashlib.sha256(tiny.read_bytes()[offset:]).hexdigest()[:32]
    assert f"start:    from a cached copy after the first start (~/.cache/kiln-appimage/…-{digest};" in text
    seven = _run([_tool("7z", "7zz"), "l", "-slt", tiny]).stdout  # an independent squashfs reader
    assert f"Offset = {offset}" in seven and "Method = ZSTD" in seven
    files, folders = re.search(r"(\d+) files, (\d+) folders", _run([_tool("7z", "7zz"), "l", tiny]).stdout).groups()  # type: ignore[union-attr]
    # 7-Zip counts the one symlink (usr/app -> ../app) among the files.
    assert f"contents: {int(files) - 1} files, {folders} folders, 1 symlinks" in text
    assert "desktop entry org.example.tiny.desktop:" in text and "    Name=Tiny App" in text
    assert re.search(r"\d+ B  AppRun", text) and "usr/kiln_boot.py" in text


def test_payload_digest_is_recorded_and_the_start_cache_follows_the_option(tiny: Path, tmp_path: Path) -> None:
    """The runtime's .kiln_payload holds the first 128 bits of the payload's sha256, so it names the start cache's
    folder with no hashing at start; `start_cache = false` records the digest without the cache switch."""
    offset = elf_end_offset(tiny)
    digest = hashlib.sha256(tiny.read_bytes()[offset:]).hexdigest()[:32]
    assert start_cache.read(tiny.read_bytes()[:offset]) == (digest, True)
    staged = _tiny_staged(tmp_path)
    on = _tiny_build(tmp_path / "on", staged).read_bytes()
    off = _tiny_build(tmp_path / "off", staged, AppImageOptions(start_cache=False))
    assert off.read_bytes()[offset:] == on[offset:], "the option changes the runtime's section only"
    assert start_cache.read(off.read_bytes()[:offset]) == (start_cache.read(on[:offset])[0], False)
    assert "start:    always mounted (start cache off)" in inspect_artifact(off)


def test_describe_shows_hostile_payload_text_inert(tmp_path: Path) -> None:
    appdir = tmp_path / "AppDir"
    appdir.mkdir()
    (appdir / "AppRun").write_text("#!/bin/sh\n", encoding="utf-8")
    (appdir / "x.desktop").write_bytes(b"[Desktop Entry]\nName=\x1b]0;owned\x07red\x1b[31m\n")
    make_squashfs(appdir, tmp_path / "p.sqfs")
    assemble(runtime_path(), tmp_path / "p.sqfs", tmp_path / "x.AppImage")
    text = inspect_artifact(tmp_path / "x.AppImage")
    assert "\x1b" not in text and "\x07" not in text
    assert "Name=\\x1b]0;owned\\x07red\\x1b[31m" in text


def test_describe_rejects_non_appimages_and_truncated_files(tiny: Path, tmp_path: Path) -> None:
    elf = tmp_path / "plain.AppImage"
    elf.write_bytes(Path(sys.executable).resolve().read_bytes())
    with pytest.raises(KilnError, match="not a type-2 AppImage"):
        inspect_artifact(elf)
    cut = tmp_path / "cut.AppImage"
    cut.write_bytes(tiny.read_bytes()[: elf_end_offset(tiny) + 200])
    with pytest.raises(KilnError):
        inspect_artifact(cut)
    bare = tmp_path / "bare.AppImage"
    bare.write_bytes(runtime_path().read_bytes())
    with pytest.raises(KilnError, match="no squashfs payload"):
        inspect_artifact(bare)


def test_runtime_version_is_read_from_bytes() -> None:
    shipped = runtime_path().read_bytes()
    assert runtime_version(shipped) == "Kiln AppImage runtime 1.3.0 (the one this Kiln ships)"
    patched = bytearray(shipped)
    patched[-1] ^= 0xFF  # no longer the shipped file: the version comes from the string table
    assert runtime_version(bytes(patched)) == "Kiln AppImage runtime 1.3.0"
    assert runtime_version(b"\x7fELF" + bytes(100)).startswith("not Kiln's runtime")


def test_missing_mksquashfs_is_one_line_naming_the_package(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    project = write_project(tmp_path, {
        "app": {"name": "hello", "version": "1.0.0"}, "entry": {"module": "hello.cli:main"},
        "source": {"root": str(REPO / "examples" / "hello"), "include": ["hello/**"]},
        "installer": [{"kind": "appimage"}],
    })
    result = kiln("build", project, cwd=tmp_path, inherit=False,
                  env={"PATH": str(empty), "PYTHONPATH": str(REPO), "KILN_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 1
    output = result.stdout + result.stderr
    errors = [line for line in output.splitlines() if "'mksquashfs'" in line]
    assert len(errors) == 1 and "not installed" in errors[0], output
    assert "sudo apt-get install squashfs-tools" in output and "Traceback" not in output


# -- the example apps, built once per session through the CLI -----------------------------------------------------


def _build_example(root: Path, example: str, cache: Path, app: dict[str, str], kinds: list[str]) -> Path:
    """Write a kiln.toml for examples/<example> in `root`, build it with `python -m kiln build`, return dist/."""
    source = REPO / "examples" / example
    package = next(p.name for p in source.iterdir() if (p / "__init__.py").exists())
    requirements = tomlkit.parse((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    project = {"app": app, "entry": {"module": f"{package}.{'cli' if example == 'hello' else 'window'}:main",
                                     "kind": "console" if example == "hello" else "gui"},
               "source": {"root": str(source), "include": [f"{package}/**"]},
               "dependencies": {"requirements": list(requirements)},
               "installer": [{"kind": kind} for kind in kinds]}
    result = kiln("build", write_project(root, project), cwd=root,
                  env={"PYTHONPATH": str(REPO), "KILN_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "dist"


@pytest.fixture(scope="session")
def kiln_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kiln-cache")


HELLO_APP = {"name": "hello", "version": "1.0.0", "identifier": "org.example.hello", "display_name": HOSTILE_TITLE,
             "description": HOSTILE_DESCRIPTION}


@pytest.fixture(scope="session")
def hello(tmp_path_factory: pytest.TempPathFactory, kiln_cache: Path) -> Path:
    _tool("mksquashfs")
    root = tmp_path_factory.mktemp("hello")
    image = _build_example(root, "hello", kiln_cache, HELLO_APP, ["appimage"]) / "hello-1.0.0-linux-x86_64.AppImage"
    assert not (root / "PWNED").exists()
    return image


@pytest.fixture(scope="session")
def qt_hello(tmp_path_factory: pytest.TempPathFactory, kiln_cache: Path) -> Path:
    _tool("mksquashfs")
    root = tmp_path_factory.mktemp("qt-hello")
    app = {"name": "qt-hello", "version": "1.0.0", "display_name": "Qt Hello"}
    return _build_example(root, "qt-hello", kiln_cache, app, ["appimage"]) / "qt-hello-1.0.0-linux-x86_64.AppImage"


@pytest.fixture(scope="session")
def fuse(hello: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip unless the runtime really mounts here (FUSE is a property of the machine, not of Kiln)."""
    tmp = tmp_path_factory.mktemp("fuse-probe")
    result = _run([hello, "--diagnose"], env=_env(tmp, APPIMAGE_DEBUG="1"))
    if f"{tmp}/.mount_" not in result.stdout:
        pytest.skip(f"FUSE mounting does not work here: {result.stderr.strip()[-300:]}")


def _greeting() -> str:
    return (REPO / "examples" / "hello" / "hello" / "greeting.txt").read_text(encoding="utf-8").strip()


def _bundled_rich(image: Path) -> str:
    names = [p for p in _listing(image) if re.fullmatch(r"usr/packages/rich-[^/]+\.dist-info", p)]
    assert len(names) == 1, names
    return names[0].split("rich-")[1].removesuffix(".dist-info")


def _hide_host_python(argv: list[str | Path], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run argv under `env -i` in a private mount namespace where a tmpfs hides the host Python's prefix."""
    unshare = _tool("unshare")
    if _run([unshare, "-m", "true"]).returncode != 0:
        pytest.skip("unshare -m is not permitted here")
    script = 'mount -t tmpfs kiln-hidden "$1" && shift && exec env -i "$@"'
    assignments = [f"{k}={v}" for k, v in env.items()]
    return _run([unshare, "-m", "sh", "-c", script, "sh", sys.base_prefix, *assignments, *argv])


@pytest.mark.slow
def test_hello_through_fuse(hello: Path, fuse: None, tmp_path: Path) -> None:
    result = _run([hello, "--exit", "3", "a b", "$(touch PWNED)", "ü"], env=_env(tmp_path, APPIMAGE_KILN_CACHE="0"),
                  cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [_greeting(), f"rich {_bundled_rich(hello)}"]
    assert json.loads(lines[2].removeprefix("args: ")) == ["--exit", "3", "a b", "$(touch PWNED)", "ü"]
    assert not (tmp_path / "cache").exists(), "a FUSE start without the start cache must not extract anything"
    assert not (tmp_path / "PWNED").exists()
    assert not list(tmp_path.glob(".mount_*")), "the mount point must be gone after the app ends"


@pytest.mark.slow
def test_hello_starts_from_the_start_cache_after_its_first_start(hello: Path, fuse: None, tmp_path: Path) -> None:
    """The first start mounts; after it a background process extracts the payload into the cache folder, and the
    next start's Python runs from that copy (its prefix and libpython are there), printing the same."""
    first = _run([hello, "--diagnose"], env=_env(tmp_path))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["prefix"].startswith(str(tmp_path / ".mount_"))
    digest = start_cache.read(hello.read_bytes()[:elf_end_offset(hello)])[0]
    copy = tmp_path / "cache" / "kiln-appimage" / f"{hello.name.removesuffix('.AppImage')}-{digest}"
    deadline = time.monotonic() + 120  # the extraction runs at the lowest priority on a shared machine
    while not copy.exists():
        assert time.monotonic() < deadline, "the start cache made no copy"
        time.sleep(0.1)
    shown = json.loads(_run([hello, "--diagnose"], env=_env(tmp_path)).stdout)
    assert shown["prefix"].startswith(str(copy)) and shown["libpython"].startswith(str(copy))
    again = _run([hello, "x"], env=_env(tmp_path))
    assert again.returncode == 0 and again.stdout.splitlines()[:2] == [_greeting(), f"rich {_bundled_rich(hello)}"]


@pytest.mark.slow
def test_hello_extract_and_run_reuses_its_cache(hello: Path, tmp_path: Path) -> None:
    env = _env(tmp_path, APPIMAGE_EXTRACT_AND_RUN="1")
    first = _run([hello, "--exit", "3", "x y"], env=env, cwd=tmp_path)
    assert first.returncode == 3, first.stderr
    expected = [_greeting(), f"rich {_bundled_rich(hello)}", 'args: ["--exit", "3", "x y"]']
    assert first.stdout.splitlines()[:3] == expected
    (extracted,) = (tmp_path / "cache" / "kiln-appimage").iterdir()
    (extracted / "marker").write_text("kept", encoding="utf-8")
    inode = extracted.stat().st_ino
    second = _run([hello, "--diagnose"], env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert [p.name for p in (tmp_path / "cache" / "kiln-appimage").iterdir()] == [extracted.name]
    assert extracted.stat().st_ino == inode and (extracted / "marker").exists(), "the second start re-extracted"
    assert json.loads(second.stdout)["prefix"] == str(extracted / "usr" / "runtime")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fuse", "extract"])
def test_hello_without_host_python_or_environment(hello: Path, tmp_path: Path, mode: str,
                                                   request: pytest.FixtureRequest) -> None:
    if mode == "fuse":
        request.getfixturevalue("fuse")
    env = {"TMPDIR": str(tmp_path), "APPIMAGE_KILN_CACHE": "0"}  # without HOME the cache would go to /tmp
    if mode == "extract":
        env |= {"APPIMAGE_EXTRACT_AND_RUN": "1", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = _hide_host_python([hello, "--diagnose"], env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    inside = f"{tmp_path}/.mount_" if mode == "fuse" else f"{tmp_path}/cache/kiln-appimage/"
    assert shown["prefix"].startswith(inside) and shown["prefix"].endswith("/usr/runtime")
    assert shown["libpython"].startswith(shown["prefix"] + "/lib/libpython")
    assert not any(sys.base_prefix in str(v) for v in shown.values())
    plain = _hide_host_python([hello], env)
    assert plain.returncode == 0 and plain.stdout.splitlines()[0] == _greeting(), plain.stderr


@pytest.mark.slow
def test_hello_independent_readers(hello: Path) -> None:
    offset = int(_run([hello, "--appimage-offset"]).stdout)
    assert offset == elf_end_offset(hello) == len(runtime_path().read_bytes())
    header = _run([_tool("readelf"), "-h", hello]).stdout
    assert re.search(r"ABI Version:\s+65\b", header) and "ELF64" in header and "X86-64" in header
    assert hello.read_bytes()[8:11] == b"AI\x02"
    members = set(_listing(hello))
    assert {"AppRun", ".DirIcon", "hello.png", "org.example.hello.desktop", "usr/kiln_boot.py",
            f"usr/runtime/bin/python{PY}", f"usr/runtime/lib/libpython{PY}.so.1.0",
            "usr/share/icons/hicolor/256x256/apps/hello.png"} <= members
    seven = _run([_tool("7z", "7zz"), "l", "-slt", hello]).stdout
    assert "Type = SquashFS" in seven and f"Offset = {offset}" in seven and "Method = ZSTD" in seven
    assert "Path = AppRun" in seven and "Path = org.example.hello.desktop" in seven
    lib = _libappimage()
    path = str(hello).encode()
    assert lib.appimage_get_type(path, False) == 2
    assert lib.appimage_get_payload_offset(path) == offset
    assert lib.appimage_is_terminal_app(path) == 1  # a console app: Terminal=true
    listed = lib.appimage_list_files(path)
    names: list[str] = []
    while listed[len(names)]:
        names.append(listed[len(names)].decode())
    lib.appimage_string_list_free(listed)
    assert "AppRun" in names and "org.example.hello.desktop" in names


def _libappimage() -> ctypes.CDLL:
    name = ctypes.util.find_library("appimage") or "libappimage.so.1.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("libappimage is missing")
        pytest.skip("libappimage is missing")
    lib.appimage_get_type.argtypes = [ctypes.c_char_p, ctypes.c_bool]
    lib.appimage_get_payload_offset.restype = ctypes.c_int64
    lib.appimage_get_payload_offset.argtypes = [ctypes.c_char_p]
    lib.appimage_is_terminal_app.argtypes = [ctypes.c_char_p]
    lib.appimage_list_files.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.appimage_list_files.argtypes = [ctypes.c_char_p]
    lib.appimage_string_list_free.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    return lib


@pytest.mark.slow
def test_hello_desktop_entry_is_valid_and_inert(hello: Path, tmp_path: Path) -> None:
    desktop = tmp_path / "org.example.hello.desktop"
    desktop.write_bytes(_cat(hello, "org.example.hello.desktop"))
    result = _run([_tool("desktop-file-validate"), desktop], cwd=tmp_path)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout
    text = desktop.read_text(encoding="utf-8")
    assert len(text.splitlines()) == 9 and "\x1b" not in text
    expected = {"Type": "Application", "Name": one_line(HOSTILE_TITLE), "Comment": one_line(HOSTILE_DESCRIPTION),
                "Exec": "hello", "Icon": "hello", "Terminal": "true", "Categories": "Utility;",
                "X-AppImage-Version": "1.0.0"}
    assert {key: _glib_string(text, key) for key in expected} == expected
    assert not (tmp_path / "PWNED").exists()


def _glib_string(text: str, key: str) -> str | None:
    """One value of the [Desktop Entry] group as GLib's key-file parser (what desktops use) reads it."""
    name = ctypes.util.find_library("glib-2.0")
    if name is None:
        pytest.skip("libglib-2.0 is missing")
    glib = ctypes.CDLL(name)
    glib.g_key_file_new.restype = ctypes.c_void_p
    glib.g_key_file_load_from_data.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                               ctypes.c_void_p]
    glib.g_key_file_get_string.restype = ctypes.c_void_p
    glib.g_key_file_get_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
    glib.g_free.argtypes = glib.g_key_file_free.argtypes = [ctypes.c_void_p]
    keyfile = glib.g_key_file_new()
    data = text.encode("utf-8")
    try:
        assert glib.g_key_file_load_from_data(keyfile, data, len(data), 0, None)
        pointer = glib.g_key_file_get_string(keyfile, b"Desktop Entry", key.encode(), None)
        if not pointer:
            return None
        value = ctypes.string_at(pointer).decode("utf-8")
        glib.g_free(pointer)
        return value
    finally:
        glib.g_key_file_free(keyfile)


@pytest.mark.slow
def test_hello_inspect_through_the_cli(hello: Path, tmp_path: Path) -> None:
    result = kiln("inspect", hello, cwd=tmp_path, env={"PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert "AppImage (type 2)" in result.stdout and ", zstd," in result.stdout
    assert f"Name={one_line(HOSTILE_TITLE)}".replace("\\", "\\\\") in result.stdout
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.slow
def test_two_builds_are_byte_identical(hello: Path, tmp_path: Path, kiln_cache: Path) -> None:
    # Another folder, and the portable kind first on the shared bundle: the AppImage must not change.
    again = _build_example(tmp_path, "hello", kiln_cache, HELLO_APP, ["portable", "appimage"])
    assert (again / hello.name).read_bytes() == hello.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fuse", "extract"])
def test_qt_hello_offscreen(qt_hello: Path, tmp_path: Path, mode: str, request: pytest.FixtureRequest) -> None:
    if mode == "fuse":
        request.getfixturevalue("fuse")
    env = {"TMPDIR": str(tmp_path), "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_RUNTIME_DIR": str(tmp_path)}
    if mode == "extract":
        env["APPIMAGE_EXTRACT_AND_RUN"] = "1"
    result = _hide_host_python([qt_hello], env)
    assert result.returncode == 0, result.stderr
    assert "window shown: Qt Hello / Hello from a Qt window packaged by Kiln / platform offscreen" in result.stdout
    desktop = tmp_path / "qt-hello.desktop"
    desktop.write_bytes(_cat(qt_hello, "qt-hello.desktop"))
    assert "Terminal=false" in desktop.read_text(encoding="utf-8").splitlines()
    assert _run([_tool("desktop-file-validate"), desktop]).returncode == 0


def _extract(image: Path, dest: Path) -> dict[str, bytes]:
    """Every file of the payload, read out by unsquashfs: path in the AppImage -> bytes."""
    subprocess.run([_tool("unsquashfs"), "-q", "-d", str(dest), "-o", str(elf_end_offset(image)), str(image)],
                   check=True, capture_output=True)
    return sbom_kit.read_tree(dest)


BUNDLE_IN_APPDIR = ["usr/runtime", "usr/packages", "usr/kiln_boot.py", "app"]


@pytest.mark.slow
def test_hello_sbom_names_every_file_it_ships(hello: Path, tmp_path: Path) -> None:
    files = _extract(hello, tmp_path / "root")
    report = json.loads((hello.parent / "hello-report.json").read_text(encoding="utf-8"))
    document = sbom_kit.check(hello.with_name(hello.name + ".cdx.json"), files["sbom.cdx.json"], files,
                              BUNDLE_IN_APPDIR, report["dependencies"]["linux-x86_64"]["installed"])
    refs = sbom_kit.by_ref(document)
    assert {refs[f"dist:{name}"]["name"] for name in ("rich", "markdown-it-py", "mdurl", "pygments")}
    assert refs["runtime"]["version"] == report["runtimes"]["linux-x86_64"]["full_version"]
    runtime = hello.read_bytes()[: elf_end_offset(hello)]  # Kiln's runtime: the start of the file, not the payload
    # hashed with the start cache's section blank: that section holds the digest of the payload, which holds the SBOM
    assert refs["kiln-appimage-runtime"]["hashes"][0]["content"] == hashlib.sha256(
        sections.blank(runtime, start_cache.SECTION)).hexdigest()
    assert start_cache.read(runtime)[0] == hashlib.sha256(hello.read_bytes()[elf_end_offset(hello):]).hexdigest()[:32]
    assert refs["kiln-appimage-runtime"]["pedigree"]["ancestors"][0]["hashes"][0]["content"] == hashlib.sha256(
        runtime_path().read_bytes()).hexdigest()
    assert sbom_kit.listed_files(document)["AppRun"] == hashlib.sha256(files["AppRun"]).hexdigest()
    assert report["artifacts"][0]["sbom"] == str(hello.with_name(hello.name + ".cdx.json"))


@pytest.mark.slow
def test_hello_metainfo_validates_and_agrees_with_the_desktop_entry(hello: Path, tmp_path: Path) -> None:
    metainfo = tmp_path / "org.example.hello.metainfo.xml"
    metainfo.write_bytes(_cat(hello, "usr/share/metainfo/org.example.hello.metainfo.xml"))
    result = _run([_tool("appstreamcli"), "validate", "--no-net", metainfo])
    assert result.returncode == 0, result.stdout + result.stderr
    root = ElementTree.parse(metainfo).getroot()
    desktop = _cat(hello, "usr/share/applications/org.example.hello.desktop").decode("utf-8")
    assert desktop == _cat(hello, "org.example.hello.desktop").decode("utf-8")
    assert root.findtext("name") == _glib_string(desktop, "Name") == one_line(HOSTILE_TITLE)
    assert root.findtext("summary") == _glib_string(desktop, "Comment") == one_line(HOSTILE_DESCRIPTION)
    assert root.findtext("launchable") == "org.example.hello.desktop"
    assert root.find("releases/release").attrib["version"] == "1.0.0"
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.slow
def test_qt_hello_sbom_lists_the_qt_libraries_kept(qt_hello: Path, tmp_path: Path) -> None:
    files = _extract(qt_hello, tmp_path / "root")
    document = sbom_kit.check(qt_hello.with_name(qt_hello.name + ".cdx.json"), files["sbom.cdx.json"], files,
                              BUNDLE_IN_APPDIR)
    shipped = {m.group(1) for name in files if (m := re.search(r"/lib(Qt6\w+)\.so[.\d]*$", name))}
    assert {"Qt6Core", "Qt6Gui", "Qt6Widgets"} <= shipped
    listed = {c["name"]: c for c in sbom_kit.all_components(document) if c.get("bom-ref", "").count("#")}
    assert set(listed) == shipped  # one component per Qt library in the image, none for those pruning dropped
    core = listed["Qt6Core"]
    assert core["bom-ref"].startswith("dist:pyside6-essentials#") and core["cpe"].startswith("cpe:2.3:a:qt:qt:")


@pytest.fixture(autouse=True)
def _no_stray_files() -> Iterator[None]:
    yield
    assert not (REPO / "PWNED").exists()
