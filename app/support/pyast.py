"""Reading Python source with `ast`, never running it."""

from __future__ import annotations

import ast
from concurrent.futures import ThreadPoolExecutor


def parse(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse`, once more on a fresh thread when CPython 3.11 raises its spurious "AST constructor recursion
    depth mismatch" SystemError (python/cpython#106905), as it does when a Qt virtual override (a wizard page's
    validatePage) calls it: a new thread starts with a recursion count of its own."""
    try:
        return ast.parse(source, filename)
    except SystemError:
        with ThreadPoolExecutor(1, thread_name_prefix="kiln-ast") as pool:
            return pool.submit(ast.parse, source, filename).result()
