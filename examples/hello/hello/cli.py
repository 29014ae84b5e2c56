"""Prints a greeting from a data file and the version of its one dependency (rich)."""

from __future__ import annotations

import json
import sys
from importlib import metadata, resources


def loaded_libpython() -> str:
    """The libpython this process mapped (Linux), to prove a bundle uses its own."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                if "libpython" in line:
                    return line.split(None, 5)[5].strip()
    except OSError:
        pass
    return ""


def square(number: int) -> int:
    """Work for --pool: runs in a child process, which imports this module again."""
    return number * number


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--pool"]:
        # multiprocessing with "spawn" (the default on Windows and macOS) starts fresh interpreters.
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(2) as pool:
            print(f"pool: {pool.map(square, range(5))}")
        return 0
    if args[:1] == ["--diagnose"]:
        print(json.dumps({
            "prefix": sys.prefix,
            "executable": sys.executable,
            "libpython": loaded_libpython(),
            "path": sys.path,
            "version": sys.version,
        }))
        return 0
    from rich.console import Console

    greeting = resources.files("hello").joinpath("greeting.txt").read_text(encoding="utf-8").strip()
    console = Console(color_system=None, highlight=False)
    console.print(greeting)
    console.print(f"rich {metadata.version('rich')}")
    console.print(f"args: {json.dumps(args, ensure_ascii=False)}")
    if "--exit" in args[:-1]:
        return int(args[args.index("--exit") + 1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
