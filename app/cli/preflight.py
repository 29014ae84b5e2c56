"""`kiln preflight PROJECT`: which installers will get no Python runtime, and the command that fixes each, before a
build spends minutes finding out. One JSON object a line with --events jsonl (the wizard's Build page)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_subcommands(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("preflight", help="say which installers will get no Python runtime, and what to do")
    parser.add_argument("project", type=Path)
    parser.add_argument("--base-dir", type=Path, help="the folder relative paths start in (default: the file's)")
    parser.add_argument("--events", choices=["jsonl"], help="one JSON object per installer, then a summary")
    parser.set_defaults(handler=cmd_preflight)


def cmd_preflight(args: argparse.Namespace) -> int:
    from kiln.engine.engine import default_cache_dir
    from kiln.engine.preflight import runtime_issues
    from kiln.model.project_file import load_project

    project_file = load_project(args.project)
    issues = runtime_issues(project_file.project, args.base_dir or project_file.base_dir, default_cache_dir())
    for issue in issues:
        if args.events == "jsonl":
            print(json.dumps({"kind": issue.kind, "platform": issue.platform, "message": issue.message,
                              "hint": issue.hint}), flush=True)
        else:
            print(f"{issue}\n  fix: {issue.hint}")
    if args.events == "jsonl":
        print(json.dumps({"done": True, "issues": len(issues)}), flush=True)
    elif not issues:
        print("every installer can get its Python runtime")
    return 0
