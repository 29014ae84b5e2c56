"""Desktop entry writing: escaping checked by desktop-file-validate, GLib's key-file reader and `gio launch`."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit.testing import find_tool as _tool

from kiln.installers.appimage.desktop_entry import (
    DesktopEntry,
    escape_list,
    escape_text,
    exec_value,
    normalize_categories,
    one_line,
    quote_exec_arg,
    read_group,
    unescape_text,
    write_desktop_file,
)

HOSTILE = [
    'Evil "$(touch PWNED)" `touch PWNED`; rm -rf ~',
    "two\nlines\tand\ttabs\r\nand CR",
    "back\\slash \\n not-a-newline \\s \\\\",
    "semi;colons;here; %f %U %% 100%",
    "'single' \"double\" <angle> |pipe| &amp; *glob? #hash (paren) ~tilde =equals",
    "  leading and trailing spaces  ",
    "unicode: Grüße, 日本語, emoji 🎉, rtl \u202e, line sep\u2028para\u2029end, nbsp\u00a0x",
    "controls: \x00nul \x07bell \x1b[31mred\x1b[0m \x7fdel \x85nel",
]



class GKeyFile:
    """GLib's own desktop-file parser (libglib-2.0 through ctypes): the reader desktops really use."""

    def __init__(self, text: str) -> None:
        name = ctypes.util.find_library("glib-2.0")
        if name is None:
            if os.environ.get("CI"):
                pytest.fail("libglib-2.0 is missing")
            pytest.skip("libglib-2.0 is missing")
        glib = self.glib = ctypes.CDLL(name)
        glib.g_key_file_new.restype = ctypes.c_void_p
        glib.g_key_file_load_from_data.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                                   ctypes.c_void_p]
        glib.g_key_file_get_string.restype = ctypes.c_void_p
        glib.g_key_file_get_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
        glib.g_key_file_get_string_list.restype = ctypes.POINTER(ctypes.c_char_p)
        glib.g_key_file_get_string_list.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                                    ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p]
        glib.g_free.argtypes = [ctypes.c_void_p]
        glib.g_key_file_free.argtypes = [ctypes.c_void_p]
        self.handle = glib.g_key_file_new()
        data = text.encode("utf-8")
        assert glib.g_key_file_load_from_data(self.handle, data, len(data), 0, None), "GLib could not parse the file"

    def string(self, key: str) -> str | None:
        pointer = self.glib.g_key_file_get_string(self.handle, b"Desktop Entry", key.encode(), None)
        if not pointer:
            return None
        value = ctypes.string_at(pointer).decode("utf-8")
        self.glib.g_free(pointer)
        return value

    def string_list(self, key: str) -> list[str]:
        length = ctypes.c_size_t()
        items = self.glib.g_key_file_get_string_list(self.handle, b"Desktop Entry", key.encode(),
                                                     ctypes.byref(length), None)
        return [items[i].decode("utf-8") for i in range(length.value)]


def validate(path: Path) -> None:
    result = subprocess.run([_tool("desktop-file-validate"), str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), f"{path.read_text()}\n{result.stdout}"


# -- unit behaviour ---------------------------------------------------------------------------------------------


def test_one_line_collapses_breaks_and_drops_controls() -> None:
    assert one_line("  a\n\nb\tc\r\nd\u2028e  ") == "a b c d e"
    assert one_line("red \x1b[31mX\x00") == "red [31mX"


def test_escape_text_doubles_backslashes_only() -> None:
    assert escape_text("a\\nb; c") == "a\\\\nb; c"


def test_escape_list_escapes_semicolons_and_terminates() -> None:
    assert escape_list(["Utility", "a;b", "c\\d"]) == "Utility;a\\;b;c\\\\d;"
    assert escape_list([]) == ""


@pytest.mark.parametrize(("arg", "quoted"), [
    ("hello", "hello"),
    ("my-app_1.0", "my-app_1.0"),
    ("a b", '"a b"'),
    ("$(touch x)", '"\\$(touch x)"'),
    ("`id`", '"\\`id\\`"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("100%", "100%%"),
    ("50% off", '"50%% off"'),
    ("", '""'),
])
def test_quote_exec_arg(arg: str, quoted: str) -> None:
    assert quote_exec_arg(arg) == quoted


def test_exec_value_applies_string_escaping_after_quoting() -> None:
    # A literal backslash inside a quoted argument takes four backslashes in the file (spec, "The Exec key").
    assert exec_value(["app", "a\\b"]) == 'app "a\\\\\\\\b"'
    assert exec_value(["app"], ["%F"]) == "app %F"


@pytest.mark.parametrize("argv", [["a=b"], [""], [], ["app", "line\nbreak"], ["app", "tab\there"]])
def test_exec_value_rejects_what_cannot_be_written(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        exec_value(argv)


def test_categories_are_checked_and_audio_gets_audiovideo() -> None:
    assert normalize_categories(["Audio", "Utility", "Utility", "X-Kiln"]) == ["AudioVideo", "Audio", "Utility",
                                                                              "X-Kiln"]
    for bad in (["Utilty"], ["X-Only"], ["Utility;Game"], [""], ["TextEditor"]):
        with pytest.raises(ValueError, match="main category"):
            normalize_categories(bad)


@pytest.mark.parametrize("categories", [["Office", "WordProcessor"], ["Utility", "TextEditor"],
                                        ["Graphics", "2DGraphics", "VectorGraphics"], ["Game", "KidsGame", "X-Kiln"],
                                        ["Education", "Math", "NumericalAnalysis"], ["Development", "IDE", "Qt"]])
def test_additional_categories_of_the_specification_pass_desktop_file_validate(tmp_path: Path,
                                                                              categories: list[str]) -> None:
    assert normalize_categories(categories) == categories
    path = tmp_path / "org.example.app.desktop"
    write_desktop_file(DesktopEntry(name="App", exec_argv=("app",), icon="app", categories=tuple(categories)), path)
    result = subprocess.run([_tool("desktop-file-validate"), str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout  # not even a hint


@pytest.mark.parametrize(("categories", "words"), [
    (["Utility", "WordProcessor"], "'WordProcessor' goes with Office: add it, e.g. Office; WordProcessor"),
    (["Utility", "texteditor"], "(the spelling is TextEditor)"),
    (["Utility", "TrayIcon"], "reserved for desktop-specific entries"),
])
def test_misused_categories_say_what_to_write(categories: list[str], words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        normalize_categories(categories)


def test_render_layout_and_own_reader_round_trip(tmp_path: Path) -> None:
    entry = DesktopEntry(name="Hello", exec_argv=("hello",), icon="hello", categories=("Development",),
                         terminal=True, comment="Says hi", extra=(("X-AppImage-Version", "1.0"),))
    path = tmp_path / "org.example.hello.desktop"
    write_desktop_file(entry, path)
    assert path.stat().st_mode & 0o777 == 0o644
    assert path.read_text(encoding="utf-8") == (
        "[Desktop Entry]\nType=Application\nName=Hello\nComment=Says hi\nExec=hello\nIcon=hello\nTerminal=true\n"
        "Categories=Development;\nX-AppImage-Version=1.0\n"
    )
    group = read_group(path.read_text(encoding="utf-8"))
    assert group["Exec"] == "hello" and unescape_text("a\\sb\\\\n\\n") == "a b\\n\n"
    validate(path)


def test_render_refuses_bad_extension_keys_and_empty_names() -> None:
    with pytest.raises(ValueError):
        DesktopEntry(name="A", exec_argv=("a",), icon="a", extra=(("Name", "x"),)).render()
    with pytest.raises(ValueError):
        DesktopEntry(name=" \n\t ", exec_argv=("a",), icon="a").render()


# -- hostile text through the real readers ----------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_name_and_comment_stay_valid_data(text: str, tmp_path: Path) -> None:
    entry = DesktopEntry(name=text, exec_argv=("hello",), icon="hello", comment=text + " (comment)",
                         extra=(("X-AppImage-Version", text),))
    path = tmp_path / "hostile.desktop"
    write_desktop_file(entry, path)
    validate(path)
    keyfile = GKeyFile(path.read_text(encoding="utf-8"))
    assert keyfile.string("Name") == one_line(text)
    assert keyfile.string("Comment") == one_line(text + " (comment)")
    assert keyfile.string("X-AppImage-Version") == one_line(text)
    assert keyfile.string("Exec") == "hello"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 9  # no value spilled onto a line of its own
    assert not (tmp_path / "PWNED").exists()


def test_list_items_round_trip_through_glib(tmp_path: Path) -> None:
    path = tmp_path / "list.desktop"
    items = ["a;b", "c\\d", "plain", "x\\;y"]
    path.write_text("[Desktop Entry]\nKeywords=" + escape_list(items) + "\n", encoding="utf-8")
    assert GKeyFile(path.read_text(encoding="utf-8")).string_list("Keywords") == items


def _launch(tmp_path: Path, argv: list[str]) -> list[str]:
    """Launch a desktop entry with `gio launch` (GLib's real Exec parser); return the argv the program got."""
    gio = _tool("gio")
    out = tmp_path / "argv.json"
    out.unlink(missing_ok=True)
    dumper = tmp_path / "dump args"
    dumper.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"open({str(out) + '.tmp'!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        f"os.replace({str(out) + '.tmp'!r}, {str(out)!r})\n",
        encoding="utf-8",
    )
    dumper.chmod(0o755)
    path = tmp_path / "launch.desktop"
    write_desktop_file(DesktopEntry(name="Launch", exec_argv=(str(dumper), *argv), icon="x"), path)
    validate(path)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    subprocess.run([gio, "launch", str(path)], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=30)
    deadline = time.monotonic() + 15
    while not out.exists():  # gio starts the program and returns without waiting for it
        assert time.monotonic() < deadline, "the launched program never ran"
        time.sleep(0.05)
    received: list[str] = json.loads(out.read_text(encoding="utf-8"))
    return received


def test_exec_arguments_reach_the_program_verbatim(tmp_path: Path) -> None:
    argv = ["$(touch PWNED)", "`touch PWNED`", "; touch PWNED", "a b", "'q'", '"dq"', "back\\slash", "100%",
            "%f", "~", "*", "#x", "(p)", "<>|&", "", "Grüße 🎉"]
    assert _launch(tmp_path, argv) == argv
    assert not (tmp_path / "PWNED").exists()


# -- properties -------------------------------------------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(name=_TEXT.filter(lambda t: one_line(t) != ""), comment=_TEXT)
def test_any_text_gives_a_valid_file_glib_reads_back(tmp_path: Path, name: str, comment: str) -> None:
    path = tmp_path / "any.desktop"
    write_desktop_file(DesktopEntry(name=name, exec_argv=("app",), icon="app", comment=comment), path)
    validate(path)
    keyfile = GKeyFile(path.read_text(encoding="utf-8"))
    assert keyfile.string("Name") == one_line(name)
    repeats_name = one_line(comment).casefold() == one_line(name).casefold()
    assert keyfile.string("Comment") == (None if repeats_name else one_line(comment) or None)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=12), max_size=4))
def test_any_exec_arguments_reach_the_program_verbatim(tmp_path: Path, args: list[str]) -> None:
    assert _launch(tmp_path, args) == args
