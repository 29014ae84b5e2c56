"""What an installer would refuse, `kiln check` refuses first, naming the field; and its messages say what is wrong
in words (issue #27, items 7–9). Run in-process through kiln.cli.main.main, as tests/app/cli/test_hardening.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kit.testing import REPO

from kiln.cli.main import main
from kiln.installers.appimage.desktop_entry import DesktopEntry

HEAD = '[app]\nname = "NAME"\nversion = "1.0.0"\n[entry]\nmodule = "hello.cli:main"\n[source]\ninclude = ["hello/**"]\n'
MSI = '[[installer]]\nkind = "msi"\nupgrade_code = "6F1E0C7A-8F43-4E2B-9C1D-1A2B3C4D5E6F"\n'
APPIMAGE = '[[installer]]\nkind = "appimage"\n'
PORTABLE = '[[installer]]\nkind = "portable"\n'


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "examples" / "hello", tmp_path / "hello", ignore=shutil.ignore_patterns("kiln.toml", "dist"))
    return tmp_path / "hello"


def check(folder: Path, text: str, capsys: pytest.CaptureFixture[str], command: str = "check") -> tuple[int, str]:
    path = folder / "kiln.toml"
    path.write_text(text)
    code = main([command, str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(("name", "device"), [("con", "con"), ("aux.png", "aux"), ("NUL", "NUL"), ("com1.tar", "com1"),
                                              ("lpt9", "lpt9")])
def test_reserved_windows_names_are_refused_for_an_msi(app_folder: Path, capsys: pytest.CaptureFixture[str],
                                                       name: str, device: str) -> None:
    code, out = check(app_folder, HEAD.replace("NAME", name) + MSI, capsys)
    assert code == 1
    assert (f"app.name: names the Windows launcher '{name}.exe', which Windows cannot create: '{device}' is a "
            "reserved device name on Windows") in out
    assert "leave it out with [source] exclude" not in out  # the cause is the app's name, not one of its files


def test_a_reserved_windows_name_is_fine_without_an_msi(app_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(app_folder, HEAD.replace("NAME", "con") + PORTABLE, capsys)
    assert code == 0, out


@pytest.mark.parametrize("name", ["aux.png", "hello.svg", "Hello.PNG", "app.xpm", "x.svgz"])
def test_icon_names_with_a_file_ending_are_refused_for_an_appimage(app_folder: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  name: str) -> None:
    code, out = check(app_folder, HEAD.replace("NAME", name) + APPIMAGE, capsys)
    assert code == 1
    ending = name[name.rindex("."):]
    assert (f"app.name: ends with '{ending}': the AppImage's icon is named after the app, and an icon name with a "
            "file ending is not found in icon themes") in out


def test_the_build_applies_the_same_icon_rule() -> None:
    entry = DesktopEntry(name="Aux", exec_argv=("aux.png",), icon="aux.png")
    with pytest.raises(ValueError, match=r"ends with '\.png'"):
        entry.render()


def test_an_icon_that_is_text_is_called_text(app_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(app_folder, HEAD.replace("NAME", "hello") + '[icon]\npath = "/etc/passwd"\n', capsys)
    assert code == 1
    assert "icon.path: icon /etc/passwd is plain text, not an image (PNG, JPEG, BMP, GIF, ICO, WebP, TIFF or SVG)" \
        in out
    assert "BytesIO" not in out


@pytest.mark.parametrize(("value", "words"), [
    ("/dev/zero", "'/dev/zero' is a character device, not a file"),
    ("/tmp", "'/tmp' is a folder, not a file"),
    ("missing.txt", "file 'missing.txt' does not exist"),
])
def test_a_requirements_file_that_is_no_file_says_what_it_is(app_folder: Path, capsys: pytest.CaptureFixture[str],
                                                            value: str, words: str) -> None:
    code, out = check(app_folder, HEAD.replace("NAME", "hello") + f'[dependencies]\nrequirements_file = "{value}"\n',
                      capsys)
    assert code == 1 and f"dependencies.requirements_file: {words}" in out


@pytest.mark.parametrize("artifact", ["hello-1.0.0-x86_64.AppImage", "hello.msi", "hello.dmg", "hello.tar.zst"])
def test_try_of_an_artifact_says_it_wants_a_project_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        artifact: str) -> None:
    path = tmp_path / artifact
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(100))
    assert main(["try", str(path)]) == 1
    out = capsys.readouterr().err
    ending = ".AppImage" if artifact.endswith(".AppImage") else artifact[artifact.index("."):]
    assert f"(file): is not a project file: it is a built installer ({ending})" in out
    assert "kiln inspect describes a built installer" in out and "UTF-8" not in out


def test_other_binary_data_is_not_a_project_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "kiln.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert main(["check", str(path)]) == 1
    assert "(file): is not a project file: it is binary data, not text" in capsys.readouterr().err


def test_text_that_is_not_utf8_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "kiln.toml"
    path.write_bytes(b'[app]\nname = "caf\xe9"\n')
    assert main(["check", str(path)]) == 1
    assert "line 2: not UTF-8 text (byte 18 of the file, counting from 1)" in capsys.readouterr().err


@pytest.mark.parametrize(("key", "shown"), [
    ('""', 'app."": unknown key'),
    ('"quoted key"', 'app."quoted key": unknown key'),
    ('"a.b"', 'app."a.b": unknown key'),
    ("a.b", "app.a: unknown key"),  # a dotted key is a table a holding b: the unknown key is a
    ('"tab\\tthere"', 'app."tab\\tthere": unknown key'),
    ('"new\\nline"', 'app."new\\nline": unknown key'),
    ('"café"', 'app."café": unknown key'),
    ('" "', 'app." ": unknown key'),
    ("nmae", "app.nmae: unknown key"),
])
def test_unknown_keys_are_shown_as_toml_writes_them(app_folder: Path, capsys: pytest.CaptureFixture[str], key: str,
                                                    shown: str) -> None:
    code, out = check(app_folder, HEAD.replace("NAME", "hello").replace("[entry]", f"{key} = 1\n[entry]"), capsys)
    assert code == 1 and shown in out.splitlines()[1], out
