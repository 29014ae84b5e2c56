"""Bytecode compiled once in the cache and finished per build is the same as bytecode compiled in the bundle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiln.support.bytecode import Keep, compile_tree, finish_tree, precompile_tree


def _tree(root: Path) -> Path:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text('"""Docs."""\nassert True\nVALUE = 1\n', encoding="utf-8")
    (root / "pkg" / "sub" / "mod.py").write_text("def f():\n    return 2\n", encoding="utf-8")
    (root / "pkg" / "sub" / "pruned.py").write_text("X = 3\n", encoding="utf-8")
    (root / "pkg" / "gone").mkdir()
    (root / "pkg" / "gone" / "only.py").write_text("Y = 4\n", encoding="utf-8")
    (root / "pkg" / "template.py").write_text("print 'python 2'\n", encoding="utf-8")  # stays a source
    (root / "pkg" / "data.txt").write_text("data\n", encoding="utf-8")
    (root / "top.py").write_text("import pkg\n", encoding="utf-8")
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("optimize", [0, 2])
@pytest.mark.parametrize("keep", [False, True, frozenset({"pkg"}), frozenset({"top.py"})])
def test_precompiled_and_finished_equals_compiled_in_place(tmp_path: Path, optimize: int, keep: Keep) -> None:
    direct = _tree(tmp_path / "direct")
    cached = tmp_path / "cached"
    shutil.copytree(direct, cached)
    for removed in ("pkg/sub/pruned.py", "pkg/gone/only.py"):  # removed (as Qt pruning does) before compiling
        (direct / removed).unlink()
    failed = compile_tree(None, direct, optimize, keep)

    compiled = precompile_tree(None, cached, optimize, keep)
    assert (cached / "pkg" / "sub" / "mod.py").is_file(), "sources stay for the checks that read them"
    assert compiled.failed == failed == ["pkg/template.py"]
    bundle = tmp_path / "bundle"
    shutil.copytree(cached, bundle)
    for removed in ("pkg/sub/pruned.py", "pkg/gone/only.py"):  # removed after it was compiled in the cache
        (bundle / removed).unlink()
    finish_tree(bundle, compiled)

    assert _files(bundle) == _files(direct)
    assert sorted(p.relative_to(bundle) for p in bundle.rglob("*")) == sorted(p.relative_to(direct)
                                                                            for p in direct.rglob("*"))
    assert any(name.endswith(".pyc") for name in _files(bundle))
    assert ("pkg/sub/mod.py" in _files(bundle)) is (keep is True or keep == {"pkg"})
    assert ("top.py" in _files(bundle)) is (keep is True or keep == {"top.py"})


@pytest.mark.parametrize("keep", [False, True, frozenset({"pkg"})])
def test_two_workers_write_what_one_writes(tmp_path: Path, keep: Keep) -> None:
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    failed_one = compile_tree(None, one, 0, keep)
    failed_two = compile_tree(None, two, 0, keep, workers=2)
    assert failed_two == failed_one
    assert _files(two) == _files(one)
