"""`kiln resolve --python 3.X --platform P [--platform …] [index and lock options] -- REQUIREMENTS…`: do the
requirements resolve for each platform, and where does each version come from? One JSON object a line per platform
with --events jsonl (the wizard's Dependencies page)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from kiln.support.targets import PLATFORMS


def add_subcommands(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("resolve", help="resolve requirements for each platform (nothing is installed) "
                                   "and say where each version comes from")
    parser.add_argument("--python", required=True, help="Python version, 3.X")
    parser.add_argument("--platform", action="append", choices=PLATFORMS, required=True, help="repeatable")
    parser.add_argument("--index-url")
    parser.add_argument("--find-links", action="append", default=[])
    parser.add_argument("--no-index", action="store_true")
    parser.add_argument("--extra", action="append", default=[], help="an extra of the app (repeatable)")
    parser.add_argument("--lock", default="none",
                        help='the developer\'s lock: "auto" (found in the --folder folders), "none", or a path')
    parser.add_argument("--folder", action="append", type=Path, default=[],
                        help="where the developer's lock is looked for (the first: what a --lock path is relative to)")
    parser.add_argument("--lock-dir", type=Path, help="the folder of Kiln's own locks (pylock.<platform>.toml): "
                        "their versions are preferred")
    parser.add_argument("--cache-dir", type=Path, help="Kiln's cache folder (default: the user cache dir)")
    parser.add_argument("--events", choices=["jsonl"], help="one JSON object per platform")
    parser.add_argument("requirements", nargs="*")
    parser.set_defaults(handler=cmd_resolve)


def cmd_resolve(args: argparse.Namespace) -> int:
    from kiln.engine.engine import default_cache_dir
    from kiln.engine.resolve import Request, resolve_all, source_words
    from kiln.model.developer_lock import find
    from kiln.support.errors import KilnError
    from kiln.support.pip import require_pip
    from kiln.support.uv import uv_binary

    cache_dir = args.cache_dir or default_cache_dir()
    try:
        require_pip()
        uv_binary()
        folders = [f.resolve() for f in args.folder] or [Path.cwd()]
        developer = find(args.lock, folders[0], folders, None, args.extra, cache_dir)
    except KilnError as e:
        if args.events != "jsonl":
            raise
        # the wizard shows one line for a check that cannot run, not a ✗ per platform
        reason = f"{e.message} (fix: {e.hint})" if e.hint else e.message
        print(json.dumps({"platform": "all", "ok": False, "checked": False, "packages": [], "reason": reason}),
              flush=True)
        return 1
    index = (["--index-url", args.index_url] if args.index_url else []) + \
        [arg for link in args.find_links for arg in ("--find-links", str(Path(link)))] + \
        (["--no-index"] if args.no_index else [])
    request = Request(requirements=tuple(args.requirements), extras=tuple(args.extra), developer_lock=developer,
                      index=tuple(index))
    with tempfile.TemporaryDirectory(prefix="kiln-resolve-") as work:
        results = resolve_all(request, list(args.platform), args.python, Path(work), cache_dir, args.lock_dir)
    for result in results:
        if args.events == "jsonl":
            print(json.dumps(result.as_dict()), flush=True)
        elif result.ok:
            shown = ", ".join(f"{p.name} {p.version} ({source_words(p.source, result.developer_lock)})"
                              for p in result.packages)
            print(f"ok    {result.platform}: {shown or 'nothing to install'}")
        elif not result.checked:
            print(f"--    {result.platform}: {result.reason}")
        else:
            print(f"FAIL  {result.platform}: {result.reason}")
    return 0 if all(r.ok for r in results) else 1
