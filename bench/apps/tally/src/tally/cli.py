"""`tally [FILE]...`: words, lines and the most common word of each file (the bundled sample without FILE)."""

from __future__ import annotations

import collections
import re
from importlib import metadata, resources

import click


@click.command()
@click.argument("files", nargs=-1, type=click.File("r", encoding="utf-8"))
@click.option("--top", default=1, show_default=True, help="How many of the most common words to show.")
def tally(files: tuple[click.utils.LazyFile, ...], top: int) -> None:
    """Count the words of FILES (the bundled sample when none is given)."""
    texts = [(f.name, f.read()) for f in files] or [
        ("sample.txt", resources.files("tally").joinpath("sample.txt").read_text(encoding="utf-8"))]
    for name, text in texts:
        words = re.findall(r"[a-z']+", text.lower())
        common = ", ".join(f"{w} ({n})" for w, n in collections.Counter(words).most_common(top))
        click.echo(f"tally: {name}: {len(words)} words, {len(text.splitlines())} lines; most common: {common}")
    click.echo(f"click {metadata.version('click')}")


def main() -> int:
    tally()  # click exits with the command's status
    return 0
