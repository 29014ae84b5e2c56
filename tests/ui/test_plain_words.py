"""What the engine says, in the wizard's words: no URL, errno, runtime file name, command or variable in the sentence;
all of it kept for Details."""

from __future__ import annotations

import pytest

from kiln.ui.linux_reach import linux_note
from kiln.ui.plain_words import say, sentence, technical

DMG_OFFLINE = ("no Python 3.11 runtime for macos-arm64 is cached and "
               "cpython-3.11.17+20261021-aarch64-apple-darwin-install_only_stripped.tar.gz cannot be downloaded "
               "([Errno -2] Name or service not known)")
DMG_FIX = ("`kiln runtimes add ARCHIVE --platform macos-arm64` (ARCHIVE: a Python 3.11 install_only archive, "
           "downloaded on a machine that can reach GitHub), or point PBS_INSTALLER_BASE_URL at a mirror")


def test_the_offline_dmg_in_words_and_its_command_behind_details() -> None:
    said = say(DMG_OFFLINE, DMG_FIX)
    assert said.text == ("no Python 3.11 runtime for macOS (Apple silicon) is cached and its Python runtime cannot "
                         "be downloaded (no connection to the internet)")
    assert said.todo == ""  # the only fix given is a command: it is in the details, not in the sentence
    assert said.details == f"{DMG_OFFLINE}\nFix: {DMG_FIX}"


@pytest.mark.parametrize(("message", "plain"), [
    ("cannot download https://pypi.org/simple/x/ ([Errno -3] Temporary failure in name resolution)",
     "cannot download (no connection to the internet)"),
    ("python-build-standalone's Python 3.12 is not available (HTTP 404 for https://x/y.tar.gz)",
     "the standalone Python 3.12 is not available"),
    ("could not open /tmp/x.zip: [Errno 13] Permission denied", "could not open /tmp/x.zip: permission denied"),
    ("the app's wheel is missing hello/data.txt", "the app's wheel is missing hello/data.txt"),
])
def test_technical_fragments_leave_the_sentence(message: str, plain: str) -> None:
    assert say(message).text == plain


def test_plain_messages_stay_as_they_are_with_no_details() -> None:
    said = say("could not get wheels", "check the requirement names")
    assert (said.text, said.todo, said.details) == ("could not get wheels", "check the requirement names", "")
    assert not technical("check the requirement names") and technical("set PBS_INSTALLER_BASE_URL")
    assert sentence("main.py:1 imports tkinter") == "main.py:1 imports tkinter."
    assert sentence("no runtime here") == "No runtime here."


def test_where_the_appimage_runs_says_systems_and_keeps_glibc_for_details() -> None:
    text, details = linux_note({"source": "host", "notes": ["needs glibc 2.36 or newer on the user's machine"]})
    assert text.startswith("The AppImage runs on Linux systems from about Debian 12, Fedora 37 on; not on older ones "
                           "such as Ubuntu 22.04.")
    assert "glibc" not in text and "glibc 2.36" in details and "glibc 2.17" in details
    assert linux_note({"source": "download"}) == (
        "The AppImage runs on Linux systems from about CentOS 7 / RHEL 7 on.",
        "The bundled Python needs the C library glibc 2.17 or newer on the user's system (glibc is part of every "
        "Linux system, newer on newer systems).")
