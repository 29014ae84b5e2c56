""".ci/corpus reads its list of real apps (the run itself is too long for CI: docs/development.md): the shipped list
is valid, and a broken line is refused with its file and line number before anything runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def corpus(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-B", str(REPO / ".ci" / "kiln_corpus"), "--dry-run", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_shipped_list_is_valid() -> None:
    result = corpus()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) >= 10
    thonny = next(line for line in lines if line.startswith("thonny=="))
    assert "msi: refused (tkinter)" in thonny and "(xvfb)" in thonny
    assert all("appimage: built and working" in line for line in lines)


@pytest.mark.parametrize(("line", "message"), [
    pytest.param("cowsay run=cowsay expect=x", "must start with NAME==VERSION", id="no-version"),
    pytest.param("cowsay==6.0 expect=x", "run= names the command", id="no-command"),
    pytest.param("cowsay==6.0 run=cowsay", "needs expect=", id="console-without-expect"),
    pytest.param("cowsay==6.0 run=cowsay expect=x msi=built", "refused:WORDS", id="bad-expectation"),
    pytest.param("cowsay==6.0 run=cowsay expect=x display=tv", "display= is one of", id="bad-display"),
    pytest.param("cowsay==6.0 run=cowsay expect=x home_file=/etc/x:y", "relative to the home", id="home-escape"),
    pytest.param("cowsay==6.0 run=cowsay expect=x msi_run=works", "fails:WORDS", id="bad-run-expectation"),
    pytest.param("cowsay==6.0 run=cowsay expect=x colour=red", "unknown key 'colour'", id="unknown-key"),
])
def test_a_broken_line_is_refused_with_its_place(tmp_path: Path, line: str, message: str) -> None:
    listed = tmp_path / "apps.txt"
    listed.write_text(f"# a comment\nPygments==2.21.0 run='pygmentize -V' expect=Pygments\n{line}\n", encoding="utf-8")
    result = corpus("--list", listed)
    assert result.returncode == 2
    assert result.stderr.startswith("error: apps.txt:3: ") and message in result.stderr, result.stderr


def test_continued_lines_and_only(tmp_path: Path) -> None:
    listed = tmp_path / "apps.txt"
    listed.write_text("thonny==5.0.1 run=thonny display=xvfb\n    msi=refused:tkinter\n"
                      "cowsay==6.0 run='cowsay -t moo' expect=moo\n", encoding="utf-8")
    result = corpus("--list", listed, "--only", "thonny", "--kind", "msi")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["thonny==5.0.1: thonny (xvfb); msi: refused (tkinter)"]
