"""`kiln resolve --python 3.X --platform P [--platform …] [index options] -- REQUIREMENTS…`: do the requirements
resolve to wheels for each platform? One JSON object a line per platform with --events jsonl (the wizard)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kiln.support.targets import PLATFORMS


def add_subcommands(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("resolve", help="check with pip's resolver that requirements have wheels for "
                                   "each platform (nothing is installed)")
    parser.add_argument("--python", required=True, help="Python version, 3.X")
    parser.add_argument("--platform", action="append", choices=PLATFORMS, required=True, help="repeatable")
    parser.add_argument("--index-url")
    parser.add_argument("--find-links", action="append", default=[])
    parser.add_argument("--no-index", action="store_true")
    parser.add_argument("--events", choices=["jsonl"], help="one JSON object per platform")
    parser.add_argument("requirements", nargs="*")
    parser.set_defaults(handler=cmd_resolve)


def cmd_resolve(args: argparse.Namespace) -> int:
    from kiln.engine.resolve import resolve_all
    from kiln.support.errors import KilnError
    from kiln.support.pip import require_pip

    if args.events == "jsonl":  # the wizard shows one line for a check that cannot run, not a ✗ per platform
        try:
            require_pip()
        except KilnError as e:
            reason = f"{e.message} (fix: {e.hint})" if e.hint else e.message
            print(json.dumps({"platform": "all", "ok": False, "packages": [], "reason": reason}), flush=True)
            return 1
    index = (["--index-url", args.index_url] if args.index_url else []) + \
        [arg for link in args.find_links for arg in ("--find-links", str(Path(link)))] + \
        (["--no-index"] if args.no_index else [])
    results = resolve_all(list(args.requirements), list(args.platform), args.python, index)
    for result in results:
        if args.events == "jsonl":
            print(json.dumps(result.as_dict()), flush=True)
        elif result.ok:
            print(f"ok    {result.platform}: {', '.join(result.packages) or 'nothing to install'}")
        else:
            print(f"FAIL  {result.platform}: {result.reason}")
    return 0 if all(r.ok for r in results) else 1
