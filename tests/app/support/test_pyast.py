"""kiln.support.pyast: ast.parse, with the fresh-thread retry for CPython 3.11's spurious SystemError."""

from __future__ import annotations

import ast
import threading

import pytest

from kiln.support import pyast


def test_parses_as_ast_does() -> None:
    assert ast.dump(pyast.parse(b"def main():\n    pass\n")) == ast.dump(ast.parse(b"def main():\n    pass\n"))
    with pytest.raises(SyntaxError):
        pyast.parse("def (")


def test_the_spurious_recursion_error_is_retried_on_a_fresh_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """What CPython 3.11 raises when a Qt virtual override calls ast.parse (python/cpython#106905): the thread that
    raised it gets it again, a fresh one does not."""
    real = ast.parse
    main = threading.get_ident()

    def flaky(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
        if threading.get_ident() == main:
            raise SystemError("AST constructor recursion depth mismatch (before=147, after=30)")
        return real(source, filename)

    monkeypatch.setattr(ast, "parse", flaky)
    assert isinstance(pyast.parse("x = 1\n").body[0], ast.Assign)
