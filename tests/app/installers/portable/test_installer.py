"""The portable kind's .tar.zst: progress from the bytes compressed, the archive read back by GNU tar, reproducible."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
from pathlib import Path

import pytest
from kit.testing import StageRecorder, require_tools

from kiln.installers.portable.installer import PortableInstaller
from kiln.installers.portable.reader import describe
from kiln.installers.portable.run_here import run_here
from kiln.kinds.contract import BuildContext, StagedApp
from kiln.model.project import AppSection, EntrySection, Project
from kiln.support.targets import TARGETS

LARGE = 12 << 20
LONG_NAME = "a_module_with_a_name_long_enough_to_need_a_pax_header_" + "x" * 80 + ".pyc"


def staged_bundle(root: Path) -> StagedApp:
    """A bundle whose size is almost all one large file (a big shared library, a model), beside small ones."""
    bundle = root / "bundle"
    files = {"runtime/bin/python3.11": (b"#!/bin/sh\n", 0o755), "kiln_boot.py": (b"# boot\n", 0o644),
             f"app/hello/{LONG_NAME}": (b"pyc", 0o644), "packages/dep/__init__.py": (b"VALUE = 1\n", 0o600)}
    for rel, (data, mode) in files.items():
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_bytes(data)
        (bundle / rel).chmod(mode)
    rng = random.Random(17)  # half incompressible, half text-like: zstd does real work on both
    words = [bytes(rng.choices(b"abcdefghijklmnop", k=7)) for _ in range(500)]
    text = b" ".join(rng.choices(words, k=LARGE // 16))[: LARGE // 2].ljust(LARGE // 2, b" ")
    (bundle / "packages" / "libhuge.so").write_bytes(rng.randbytes(LARGE // 2) + text)
    (bundle / "runtime" / "bin" / "python3").symlink_to("python3.11")
    app = AppSection(name="hello", display_name="Hello", version="1.0")
    return StagedApp(bundle, TARGETS["linux-x86_64"], "3.11", app, EntrySection(module="hello:main"), None)


def build(root: Path, staged: StagedApp, name: str) -> tuple[Path, StageRecorder]:
    project = Project.model_validate({"app": staged.app.model_dump(), "entry": {"module": "hello:main"},
                                      "installer": [{"kind": "portable"}]})
    installer = PortableInstaller(project.installer[0])  # type: ignore[arg-type]
    recorder = StageRecorder()
    out = root / name
    installer.build(BuildContext(project, root, root / "work", root / "cache", recorder), staged, out)
    return out, recorder


@pytest.fixture
def staged(tmp_path: Path) -> StagedApp:
    return staged_bundle(tmp_path)


def test_progress_follows_the_bytes_compressed_through_one_large_file(tmp_path: Path, staged: StagedApp) -> None:
    _, recorder = build(tmp_path, staged, "hello.tar.zst")
    fractions = recorder.fractions
    assert fractions == sorted(fractions), fractions
    assert fractions[0] < 0.05 and fractions[-1] == 1.0
    # The large file is one tar member: a per-file count would jump over it in one step.
    inside = [f for f in fractions if 0.0 < f < 1.0]
    assert len(set(inside)) > 5, fractions
    assert max(b - a for a, b in itertools.pairwise(fractions)) < 0.1, fractions
    assert recorder.messages[-1] == f"packed {LARGE >> 20} MiB"


def test_the_archive_is_reproducible_and_gnu_tar_reads_it(tmp_path: Path, staged: StagedApp) -> None:
    require_tools("tar", "zstd")
    first, _ = build(tmp_path, staged, "first.tar.zst")
    second, _ = build(tmp_path, staged, "second.tar.zst")
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_mode & 0o777 == 0o644

    listing = subprocess.run(["tar", "--zstd", "--numeric-owner", "-tvf", first], check=True, capture_output=True,
                             text=True, env={**os.environ, "TZ": "UTC", "LC_ALL": "C"}).stdout.splitlines()
    entries, links = {}, {}
    for line in listing:
        mode, owner, size, day, clock, name = line.split(None, 5)
        assert (owner, day, clock) == ("0/0", "1970-01-01", "00:00"), line
        name, _, target = name.partition(" -> ")
        entries[name], links[name] = (mode, int(size)), target
    assert entries["hello/"][0] == "drwxr-xr-x"
    assert entries["hello/packages/libhuge.so"] == ("-rw-r--r--", LARGE)
    assert entries["hello/runtime/bin/python3.11"][0] == "-rwxr-xr-x"
    assert entries["hello/packages/dep/__init__.py"][0] == "-rw-r--r--"  # 0600 in the bundle: modes are normalised
    assert entries["hello/runtime/bin/python3"][0].startswith("l")
    assert links["hello/runtime/bin/python3"] == "python3.11"
    assert entries["hello/hello"][0] == "-rwxr-xr-x"  # the launcher
    assert f"hello/app/hello/{LONG_NAME}" in entries
    expected = {"hello/"} | {
        f"hello/{p.relative_to(staged.bundle).as_posix()}" + ("/" if p.is_dir() and not p.is_symlink() else "")
        for p in staged.bundle.rglob("*")
    }
    assert set(entries) == expected

    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", first, "-C", unpacked], check=True)
    huge = staged.bundle / "packages" / "libhuge.so"
    assert (unpacked / "hello" / "packages" / "libhuge.so").read_bytes() == huge.read_bytes()
    regular = [p for p in staged.bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    assert f", {len(regular)} files" in describe(first)  # Kiln's own reader agrees


def test_the_launcher_is_named_after_the_apps_command_and_run_here_finds_it(tmp_path: Path, staged: StagedApp) -> None:
    staged.command = "hello-cli"  # the project's own script name (kiln.source.command)
    archive, _ = build(tmp_path, staged, "hello.tar.zst")
    run = run_here(archive, tmp_path / "scratch")
    assert run.program == tmp_path / "scratch" / "hello" / "hello-cli" and os.access(run.program, os.X_OK)
    assert not (tmp_path / "scratch" / "hello" / "hello").exists()
