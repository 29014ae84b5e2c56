"""The adversarial campaign's ordinary mistakes: each is one clear problem from `kiln check`, never a traceback.

Run in-process through kiln.cli.main.main (what `kiln check` runs), so the many cases stay fast.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kit.testing import REPO

from kiln.cli.main import main
from kiln.support.errors import KilnError
from kiln.support.oserrors import user_error

GOOD = """\
[app]
name = "hello"
version = "1.0.0"
[entry]
module = "hello.cli:main"
[source]
include = ["hello/**"]
"""
LONG = "a" * 300


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "examples" / "hello", tmp_path / "hello", ignore=shutil.ignore_patterns("kiln.toml", "dist"))
    return tmp_path / "hello"


def check(folder: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = folder / "kiln.toml"
    path.write_bytes(text.encode("utf-8"))
    code = main(["check", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


CASES = [
    # (id, edit of GOOD, words the output must hold)
    ("name-trailing-newline", lambda t: t.replace('"hello"', '"hello\\n"', 1), ["app.name"]),
    ("identifier-trailing-newline", lambda t: t.replace('version = "1.0.0"', 'version = "1.0.0"\n'
                                                        'identifier = "org.example.hello\\n"'), ["app.identifier"]),
    ("version-trailing-newline", lambda t: t.replace('"1.0.0"', '"1.0.0\\n"'), ["app.version"]),
    ("python-version-newline", lambda t: t + '[python]\nversion = "3.11\\n"\n', ["python.version"]),
    ("module-trailing-newline", lambda t: t.replace('"hello.cli:main"', '"hello.cli:main\\n"'), ["entry.module"]),
    ("display-name-blank", lambda t: t.replace('[entry]', 'display_name = " "\n[entry]'), ["app.display_name"]),
    ("display-name-too-long", lambda t: t.replace('[entry]', f'display_name = "{"名" * 300}"\n[entry]'),
     ["app.display_name", "limit"]),
    ("name-too-long", lambda t: t.replace('"hello"', f'"{LONG}"', 1), ["app.name", "limit"]),
    ("bad-category", lambda t: t + '[[installer]]\nkind = "appimage"\ncategories = ["Utilty"]\n',
     ["installer[0].categories", "Utilty"]),
    ("bad-minimum-macos", lambda t: t + '[[installer]]\nkind = "dmg"\nminimum_macos = "eleven"\n',
     ["installer[0].minimum_macos"]),
    ("duplicate-key", lambda t: t.replace('name = "hello"', 'name = "a"\nname = "b"'),
     ["line 3", "`name` appears twice in [app] (lines 2 and 3)", "keep one"]),
    ("duplicate-table", lambda t: t + '[app]\nlicense = "MIT"\n', ["line 8", "[app] appears twice (lines 1 and 8)"]),
    ("unquoted-text", lambda t: t.replace('"hello"', "hello", 1), ["line 2", "without quotes"]),
    ("long-root", lambda t: t.replace("[source]", f'[source]\nroot = "{LONG}"'), ["source.root", "255"]),
    ("long-icon", lambda t: t + f'[icon]\npath = "{LONG}.png"\n', ["icon.path", "255"]),
    ("long-requirements-file", lambda t: t + f'[dependencies]\nrequirements_file = "{LONG}"\n',
     ["dependencies.requirements_file"]),
    ("long-python-source", lambda t: t + f'[python]\nsource = "{LONG}.tar.gz"\n', ["python.source"]),
    ("long-signing-file", lambda t: t + f'[[installer]]\nkind = "msi"\nsigning_certificate = "{LONG}.pem"\n',
     ["installer[0].signing_certificate"]),
    ("nul-in-path", lambda t: t + '[icon]\npath = "a\\u0000b.png"\n', ["icon.path", "control"]),
    ("output-name-parent", lambda t: t + '[[installer]]\nkind = "portable"\noutput_name = "../../../victim"\n',
     ["installer[0].output_name"]),
    ("output-name-absolute", lambda t: t + '[[installer]]\nkind = "portable"\noutput_name = "/tmp/victim"\n',
     ["installer[0].output_name"]),
    ("output-name-folder", lambda t: t + '[[installer]]\nkind = "portable"\noutput_name = "sub/x"\n',
     ["installer[0].output_name"]),
    ("output-name-long", lambda t: t + f'[[installer]]\nkind = "portable"\noutput_name = "{LONG}"\n',
     ["installer[0].output_name", "limit"]),
    ("output-name-dots", lambda t: t + '[[installer]]\nkind = "portable"\noutput_name = ".."\n',
     ["installer[0].output_name"]),
    ("output-dir-root", lambda t: t + '[build]\noutput_dir = "/"\n', ["build.output_dir", "system folder"]),
    ("output-dir-etc", lambda t: t + '[build]\noutput_dir = "/etc/kiln"\n', ["build.output_dir", "system folder"]),
    ("output-dir-proc", lambda t: t + '[build]\noutput_dir = "/proc/self"\n', ["build.output_dir"]),
    ("output-dir-dev-null", lambda t: t + '[build]\noutput_dir = "/dev/null"\n', ["build.output_dir"]),
    ("output-dir-parent", lambda t: t + '[build]\noutput_dir = "../../out"\n', ["build.output_dir", "outside"]),
    ("output-dir-is-file", lambda t: t + '[build]\noutput_dir = "hello/cli.py"\n', ["build.output_dir", "file"]),
    ("root-slash", lambda t: t.replace("[source]", '[source]\nroot = "/"'), ["source.root", "system"]),
    ("root-home", lambda t: t.replace("[source]", '[source]\nroot = "~"'), ["source.root"]),
    ("root-parent", lambda t: t.replace("[source]", '[source]\nroot = ".."'), ["source.root", "outside"]),
    ("too-many-patterns", lambda t: t.replace('include = ["hello/**"]', f"include = {['x'] * 1001}"),
     ["source.include", "limit"]),
    ("huge-pattern", lambda t: t.replace('include = ["hello/**"]', f'include = ["{"*" * 100_000}"]'),
     ["source.include", "limit"]),
]


@pytest.mark.parametrize(("edit", "words"), [pytest.param(e, w, id=i) for i, e, w in CASES])
def test_each_mistake_is_one_clear_problem(app_folder: Path, capsys: pytest.CaptureFixture[str],
                                           edit: object, words: list[str]) -> None:
    code, output = check(app_folder, edit(GOOD), capsys)  # type: ignore[operator]
    assert code == 1, output
    assert "Traceback" not in output and "internal error" not in output, output
    for word in words:
        assert word in output, output
    problem_lines = [line for line in output.splitlines() if line.startswith("  ") and not line.startswith("    ")]
    assert len(problem_lines) == len(set(problem_lines)), output  # each problem once


def test_bom_is_accepted(app_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = check(app_folder, "\ufeff" + GOOD, capsys)
    assert code == 0, output


def test_unwritable_output_dir(app_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write into any folder")
    locked = app_folder / "locked"
    locked.mkdir(mode=0o500)
    code, output = check(app_folder, GOOD + '[build]\noutput_dir = "locked/dist"\n', capsys)
    assert code == 1 and "permission denied" in output, output


def test_piped_output_is_not_wrapped(app_folder: Path) -> None:
    """Through a pipe (not a terminal) a long message stays on one line, whatever COLUMNS says."""
    (app_folder / "kiln.toml").write_text(GOOD + '[[installer]]\nkind = "appimage"\ncategories = ["Utilty"]\n')
    result = subprocess.run([sys.executable, "-m", "kiln", "check", str(app_folder / "kiln.toml")],
                            capture_output=True, text=True, env={**os.environ, "COLUMNS": "40"}, timeout=120)
    line = next(x for x in result.stderr.splitlines() if "categories" in x)
    assert "Utilty" in line and "X-Name extension" in line, result.stderr


def test_escaped_exception_is_one_screen_with_a_crash_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import kiln.cli.main as cli

    def broken(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cli, "_cmd_schema", broken)
    assert cli.main(["schema"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error in Kiln" in err and "RuntimeError: boom" in err
    assert "report it" in err and len(err.splitlines()) <= 6, err
    logs = list((tmp_path / "cache" / "logs").glob("kiln-crash-*.log"))
    assert len(logs) == 1 and "RuntimeError: boom" in logs[0].read_text()


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_os_errors_on_output_name_the_path(tmp_path: Path, number: int) -> None:
    error = user_error(OSError(number, os.strerror(number), str(tmp_path / "dist" / "x.AppImage")))
    assert isinstance(error, KilnError) and str(tmp_path / "dist" / "x.AppImage") in error.message
    assert "internal error" not in error.message
    if number == errno.ENOSPC:
        assert "free there" in error.message
    wrapped = RuntimeError("copy failed")
    wrapped.__cause__ = OSError(number, os.strerror(number), "/somewhere")
    assert user_error(wrapped) is not None
    assert user_error(ValueError("a bug")) is None


def test_full_disk_in_a_command_is_not_called_a_bug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import kiln.cli.main as cli

    def full(args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out.bin"))

    monkeypatch.setattr(cli, "_cmd_schema", full)
    assert cli.main(["schema"]) == 1
    err = capsys.readouterr().err
    assert "no space left" in err and str(tmp_path / "out.bin") in err and "internal error" not in err


def _snapshot(folder: Path, skip: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for path in folder.rglob("*"):
        if path != skip and skip not in path.parents:
            stat = path.lstat()
            found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


ESCAPES = [
    '[[installer]]\nkind = "portable"\noutput_name = "../../victim"\n',
    '[[installer]]\nkind = "portable"\noutput_name = "VICTIM_ABS"\n',
    '[[installer]]\nkind = "portable"\noutput_name = "sub/x"\n',
    '[build]\noutput_dir = "/"\n',
    '[build]\noutput_dir = "../outside"\n',
    '[build]\noutput_dir = "../../"\n',
    '[build]\noutput_dir = "/etc"\n',
    '[build]\noutput_dir = "/usr/local/kiln-out"\n',
    '[build]\noutput_dir = "/proc/self"\n',
    '[build]\noutput_dir = "/dev/null"\n',
    '[build]\noutput_dir = "~"\n',
]


@pytest.mark.parametrize("command", ["check", "build"])
def test_escapes_are_refused_and_change_nothing_outside_the_project(
        app_folder: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    victim = app_folder.parent / "victim"
    victim.write_text("precious")
    outside_before = _snapshot(app_folder.parent, app_folder)
    system_before = {folder: sorted(os.listdir(folder)) for folder in ("/", "/etc", "/usr/local", Path.home())}
    for escape in ESCAPES:
        text = GOOD + escape.replace("VICTIM_ABS", str(victim))
        (app_folder / "kiln.toml").write_text(text)
        code = main([command, str(app_folder / "kiln.toml"), *(["--cache-dir", str(app_folder / ".cache")]
                                                               if command == "build" else [])])
        output = "".join(capsys.readouterr())
        assert code == 1, (escape, output)
        assert "Traceback" not in output and "internal error" not in output, output
        assert "output_name" in output or "output_dir" in output, output
    assert _snapshot(app_folder.parent, app_folder) == outside_before
    assert victim.read_text() == "precious"
    assert {folder: sorted(os.listdir(folder)) for folder in system_before} == system_before


def test_check_names_a_link_leaving_the_source_folder(app_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.symlink("/etc/passwd", app_folder / "hello" / "passwd.txt")
    code, output = check(app_folder, GOOD, capsys)
    assert code == 1 and "hello/passwd.txt" in output and "outside the source folder" in output, output


def test_read_only_output_dir_is_a_problem(app_folder: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount_point)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only file system here: {mounted.stderr.decode().strip()}")
    try:
        code, output = check(app_folder, GOOD + f'[build]\noutput_dir = "{mount_point}/dist"\n', capsys)
        assert code == 1 and "read-only" in output and "build.output_dir" in output, output
        assert main(["build", str(app_folder / "kiln.toml"), "--cache-dir", str(tmp_path / "cache")]) == 1
        output = "".join(capsys.readouterr())
        assert "read-only" in output and "Traceback" not in output and "internal error" not in output, output
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_reader_going_away_stops_quietly(tmp_path: Path) -> None:
    """`kiln schema | head -1` where head has already gone: when the reader of stdout has closed it, Kiln stops
    like other tools (exit 141, the shell's SIGPIPE code), with no 'internal error' and no crash log."""
    env = {**os.environ, "KILN_CACHE_DIR": str(tmp_path / "cache")}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before Kiln writes anything
    try:
        result = subprocess.run([sys.executable, "-m", "kiln", "schema"], stdout=write_end, stderr=subprocess.PIPE,
                                env=env, cwd=tmp_path, timeout=60)
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert result.stderr == b""
    assert not (tmp_path / "cache" / "logs").exists()
