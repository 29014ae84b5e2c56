"""What the engine says, in the wizard's words: a plain sentence, what to do, and the technical detail (addresses,
error numbers, runtime file names, commands, environment variables) kept for a "Details" disclosure.

The engine's messages are written for a terminal and a log, where a URL or an errno helps; a person in the wizard
needs what happened and what to do. Nothing is lost: `Said.details` holds the message and hint as they were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SYSTEMS = {
    "linux-x86_64": "Linux", "windows-x86_64": "Windows", "macos-arm64": "macOS (Apple silicon)",
    "macos-x86_64": "macOS (Intel)",
}
"""Platform names as people say them."""
_NETWORK = re.compile(
    r"Errno -[235]\]|Name or service not known|Temporary failure in name resolution|Network is unreachable|"
    r"Connection refused|timed out|No route to host|urlopen error", re.IGNORECASE)
_TECHNICAL = re.compile(
    r"://|\[Errno|`|\bsha256\b|\bglibc\b|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\bkiln [a-z]+ |--[a-z]|"
    r"\.(?:tar\.gz|tar\.zst|zip|whl|so(?:\.\d+)*|dll)\b|\w+/\w+/")
_PARENTHESES = re.compile(r"\s*\(([^()]*)\)")
_URL = re.compile(r"\s*\bhttps?://\S+")
_RUNTIME_FILE = re.compile(r"\bcpython-\S+?\.(?:tar\.gz|tar\.zst|zip)\b")
_ERRNO = re.compile(r"\[Errno -?\d+\]\s*([^.;,()]*)")


@dataclass(frozen=True)
class Said:
    text: str
    """What happened, in plain words."""
    todo: str = ""
    """What to do, in plain words; empty when the only fix the engine gave is technical (then see `details`)."""
    details: str = ""
    """The message and the hint as the engine wrote them (for the Details disclosure); empty when nothing was cut."""


def technical(text: str) -> bool:
    """Whether `text` holds what a non-expert should not have to read (a URL, errno, command, variable, file name)."""
    return bool(_TECHNICAL.search(text))


def plain(text: str) -> str:
    """`text` with its technical fragments left out or said in words (see the module's doc)."""

    def parenthesis(match: re.Match[str]) -> str:
        inner = match.group(1)
        if _NETWORK.search(inner):
            return " (no connection to the internet)"
        return "" if technical(inner) else match.group(0)

    text = _PARENTHESES.sub(parenthesis, text)
    text = _ERRNO.sub(lambda m: "no connection to the internet" if _NETWORK.search(m.group(0)) else
                      m.group(1).strip().lower(), text)
    text = _URL.sub("", text)
    text = _RUNTIME_FILE.sub("its Python runtime", text)
    text = re.sub(r"python-build-standalone(?:'s Python)?", "the standalone Python", text)
    for platform, words in SYSTEMS.items():
        text = re.sub(rf"\b{platform}\b", words, text)
    return re.sub(r"\s+([,.;:])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()


def say(message: str, hint: str = "") -> Said:
    """The engine's `message` and `hint` for a person: see `Said`."""
    text = plain(message)
    todo = "" if not hint or technical(hint) else plain(hint)
    cut = text != message or (hint and not todo)
    details = "\n".join(part for part in (message, f"Fix: {hint}" if hint else "") if part) if cut else ""
    return Said(text, todo, details)


def sentence(text: str) -> str:
    """`text` as a sentence: a capital first letter (unless it starts with a name such as main.py) and a full stop."""
    text = text.strip()
    if not text:
        return text
    if re.match(r"[a-z]+(?![\w.:/\\-])", text):
        text = text[:1].upper() + text[1:]
    return text + ("" if text.endswith((".", "!", "?")) else ".")
