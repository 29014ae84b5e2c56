"""The launchers' reproducibility check (resources/launchers/reproducible.py, used by every build.py).

Whatever this machine's toolchain is, `build.py --check` must: build twice and require identical bytes; compare
with the shipped binaries exactly when the toolchain is the recorded one; otherwise say in one line which packages
moved, pass, and still hand the fresh build to CI (--rebuilt-dir).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from kit.testing import require_tools

LAUNCHERS = Path(__file__).resolve().parents[2] / "resources" / "launchers"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


reproducible = load(LAUNCHERS / "reproducible.py", "kiln_test_reproducible")

# kind: (build script, files it ships, a package of its record, the tools it needs)
KINDS = {
    "appimage": (
        LAUNCHERS / "appimage" / "build.py",
        ["runtime-x86_64", "runtime-x86_64.sha256", "runtime-x86_64.buildinfo"],
        "libzstd-dev",
        ["gcc"],
    ),
    "windows": (
        LAUNCHERS / "windows" / "build.py",
        ["launcher-console.exe", "launcher-gui.exe", "SHA256SUMS", "launchers.buildinfo"],
        "mingw-w64-x86-64-dev",
        ["x86_64-w64-mingw32-gcc-win32"],
    ),
    "macos": (
        LAUNCHERS / "macos" / "build.py",
        ["launcher-arm64", "launcher-x86_64", "launcher-universal", "SHA256SUMS", "launchers.buildinfo"],
        "lld-14",
        ["clang-14", "ld64.lld-14", "llvm-lipo-14"],
    ),
}


def need_build_tools(kind: str) -> None:
    require_tools("dpkg-query", *KINDS[kind][3])
    headers = ("squashfuse/ll.h", "fuse3/fuse_lowlevel.h", "sqfs/super.h") if kind == "appimage" else ()
    missing = [h for h in headers if not Path("/usr/include", h).exists()]
    if missing:
        message = f"missing build headers: {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must install them)")
        pytest.skip(message)


def run_build(kind: str, *args: object, noise: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != reproducible.NOISE_VARIABLE}
    if noise:
        env[reproducible.NOISE_VARIABLE] = "1"
    return subprocess.run(
        [sys.executable, str(KINDS[kind][0]), *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def record_file(kind: str) -> str:
    return next(name for name in KINDS[kind][1] if name.endswith(".buildinfo"))


def sums_file(kind: str) -> str:
    return KINDS[kind][1][-2]


def binaries(kind: str) -> list[str]:
    return KINDS[kind][1][:-2]


FreshShipped = Callable[[str, Path], Path]


@pytest.fixture(scope="module")
def fresh_shipped(tmp_path_factory: pytest.TempPathFactory) -> FreshShipped:
    """make(kind, folder): a copy in `folder` of what build.py ships when run on this machine now (binaries, sums
    and a record of today's toolchain). Each kind is built once for all the tests of this module."""
    built: dict[str, Path] = {}

    def make(kind: str, folder: Path) -> Path:
        if kind not in built:
            out = tmp_path_factory.mktemp(f"built-{kind}")
            result = run_build(kind, "--out", out)
            assert result.returncode == 0, result.stderr
            built[kind] = out
        shutil.copytree(built[kind], folder)
        return folder

    return make


def rewrite_record(folder: Path, kind: str, package: str, version: str) -> None:
    path = folder / record_file(kind)
    lines = path.read_text().splitlines()
    replaced = [f"{package} {version}" if line.split(" ")[0] == package else line for line in lines]
    assert replaced != lines, f"{package} is not in {path.name}"
    path.write_text("\n".join(replaced) + "\n")


def replace_binary(folder: Path, kind: str, name: str, data: bytes) -> None:
    """Replace a shipped binary and keep its sums file consistent (an old, different but intact binary)."""
    (folder / name).write_bytes(data)
    sums = folder / sums_file(kind)
    entries = reproducible.parse_sums(sums.read_text())
    entries[name] = hashlib.sha256(data).hexdigest()
    sums.write_text(reproducible.format_sums(entries))


# ----------------------------------------------------------------------------- no compiler needed


def product(packages: tuple[str, ...] = ("gcc-12", "libzstd-dev", "zlib1g-dev")) -> object:
    return reproducible.Product(
        label="x",
        folder=Path("."),
        sources=(),
        outputs=("x",),
        packages=packages,
        record="x.buildinfo",
        sums="x.sha256",
        compile=lambda work: None,
    )


def test_record_round_trip_ignores_comments() -> None:
    p = product()
    versions = {"gcc-12": "12.2.0-14+deb12u1", "libzstd-dev": "1.5.4+dfsg2-5+deb12u1", "zlib1g-dev": "1:1.2.13.dfsg-1"}
    text = reproducible.format_record(p, versions)
    assert text.startswith("#")
    assert reproducible.parse_record(text) == versions


def test_drift_names_each_moved_package_with_both_versions() -> None:
    p = product()
    recorded = {"gcc-12": "12.2.0-14+deb12u1", "libzstd-dev": "1.5.4+dfsg2-5", "zlib1g-dev": "1:1.2.13.dfsg-1"}
    current = {**recorded, "libzstd-dev": "1.5.4+dfsg2-5+deb12u1", "zlib1g-dev": "1:1.2.13.dfsg-1+deb12u1"}
    assert reproducible.toolchain_drift(p, recorded, current) == [
        "libzstd-dev 1.5.4+dfsg2-5 -> 1.5.4+dfsg2-5+deb12u1",
        "zlib1g-dev 1:1.2.13.dfsg-1 -> 1:1.2.13.dfsg-1+deb12u1",
    ]
    assert reproducible.toolchain_drift(p, recorded, recorded) == []


def test_unknown_versions_never_count_as_matching() -> None:
    """Without dpkg (or with a package missing) nothing can be compared, even if the record says 'unknown' too."""
    p = product(("gcc-12",))
    assert reproducible.toolchain_drift(p, {"gcc-12": "unknown"}, {"gcc-12": "unknown"}) == [
        "gcc-12 unknown -> unknown"
    ]
    assert reproducible.toolchain_drift(p, {}, {"gcc-12": "12"}) == ["gcc-12 unknown -> 12"]


def test_shipped_records_name_every_package_their_build_script_lists() -> None:
    for kind, (script, shipped, package, _) in KINDS.items():
        build = load(script, f"kiln_test_build_{kind}")
        recorded = reproducible.parse_record((script.parent / record_file(kind)).read_text())
        assert list(recorded) == list(build.PRODUCT.packages)
        assert package in recorded
        assert set(build.PRODUCT.outputs) | {build.PRODUCT.sums, build.PRODUCT.record} == set(shipped)
        assert all(version != reproducible.UNKNOWN for version in recorded.values()), kind


def test_build_scripts_are_standalone() -> None:
    """The build scripts run before (and without) Kiln's package: standard library and reproducible.py only."""
    for path in [LAUNCHERS / "reproducible.py", *(script for script, *_ in KINDS.values())]:
        kiln_imports = re.findall(
            r"^\s*(?:from|import)\s+(?:app|kiln|ui|runtimes|resources)\b.*$", path.read_text(), re.M
        )
        assert kiln_imports == [], f"{path.name} imports Kiln's package"
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(KINDS["windows"][0]), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--rebuilt-dir" in result.stdout


# ----------------------------------------------------------------------------- building for real


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_drifted_toolchain_is_one_line_and_passes(kind: str, tmp_path: Path, fresh_shipped: FreshShipped) -> None:
    """A record naming an older package: one line says what moved, exit 0, the fresh build goes to --rebuilt-dir.

    The shipped binary here is a different (older) one, as on a machine with newer Debian packages: it is not
    compared, because it cannot be reproduced with other packages.
    """
    need_build_tools(kind)
    shipped = fresh_shipped(kind, tmp_path / "shipped")
    package = KINDS[kind][2]
    rewrite_record(shipped, kind, package, "0.0.1-1")
    first = binaries(kind)[0]
    replace_binary(shipped, kind, first, (shipped / first).read_bytes() + b"built with older libraries")

    result = run_build(kind, "--check", "--shipped-dir", shipped, "--rebuilt-dir", tmp_path / "rebuilt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, lines
    assert f"{package} 0.0.1-1 -> " in lines[0] and "toolchain differs" in lines[0]
    for name in binaries(kind):
        rebuilt = (tmp_path / "rebuilt" / name).read_bytes()
        assert os.access(tmp_path / "rebuilt" / name, os.X_OK)
        same_as_shipped = rebuilt == (shipped / name).read_bytes()
        assert same_as_shipped != (name == first), "the fresh build, not the shipped (older) binary"
    rebuilt_sums = reproducible.parse_sums((tmp_path / "rebuilt" / sums_file(kind)).read_text())
    assert rebuilt_sums[first] == hashlib.sha256((tmp_path / "rebuilt" / first).read_bytes()).hexdigest()


@pytest.mark.slow
def test_matching_toolchain_and_shipped_bytes_pass(tmp_path: Path, fresh_shipped: FreshShipped) -> None:
    need_build_tools("appimage")
    shipped = fresh_shipped("appimage", tmp_path / "shipped")
    result = run_build("appimage", "--check", "--shipped-dir", shipped)
    assert result.returncode == 0, result.stderr
    assert "match a fresh build" in result.stdout and len(result.stdout.splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_matching_toolchain_compares_bytes_with_shipped(kind: str, tmp_path: Path, fresh_shipped: FreshShipped) -> None:
    """With this machine's toolchain in the record, a shipped binary that a fresh build does not reproduce fails."""
    need_build_tools(kind)
    shipped = fresh_shipped(kind, tmp_path / "shipped")
    name = binaries(kind)[-1]
    data = bytearray((shipped / name).read_bytes())
    data[-1] ^= 0xFF
    replace_binary(shipped, kind, name, bytes(data))
    result = run_build(kind, "--check", "--shipped-dir", shipped)
    assert result.returncode == 1, result.stdout
    assert "differs from the shipped" in result.stderr and name in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("drifted", [False, True], ids=["same-toolchain", "drifted-toolchain"])
def test_two_differing_builds_fail_even_when_the_toolchain_moved(
    drifted: bool, tmp_path: Path, fresh_shipped: FreshShipped
) -> None:
    """Builds that vary (a __DATE__-like byte, injected by the test-only hook) fail the check, drift or not."""
    kind = "appimage"  # the quickest to build; the logic is the same module for both
    need_build_tools(kind)
    shipped = fresh_shipped(kind, tmp_path / "shipped")
    if drifted:
        rewrite_record(shipped, kind, KINDS[kind][2], "0.0.1-1")
    result = run_build(kind, "--check", "--shipped-dir", shipped, "--rebuilt-dir", tmp_path / "rebuilt", noise=True)
    assert result.returncode == 1, result.stdout
    assert "not reproducible" in result.stderr
    assert "runtime-x86_64" in result.stderr
    assert not (tmp_path / "rebuilt").exists(), "a non-reproducible build must not be handed to the tests"


@pytest.mark.slow
def test_a_varying_build_is_never_written(tmp_path: Path) -> None:
    """build.py itself builds twice: it refuses to ship bytes that a second build does not reproduce."""
    need_build_tools("appimage")
    result = run_build("appimage", "--out", tmp_path / "out", noise=True)
    assert result.returncode == 1
    assert "not reproducible" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_shipped_files_fail_before_building(kind: str, tmp_path: Path) -> None:
    """A binary that does not match its own sums file, or a missing record, fails (and needs no compiler)."""
    shipped = tmp_path / "shipped"
    shutil.copytree(KINDS[kind][0].parent, shipped)
    name = binaries(kind)[0]
    (shipped / name).write_bytes((shipped / name).read_bytes() + b"x")
    result = run_build(kind, "--check", "--shipped-dir", shipped)
    assert result.returncode == 1 and "does not match its sha256" in result.stderr

    shutil.copy2(KINDS[kind][0].parent / name, shipped / name)
    (shipped / record_file(kind)).unlink()
    result = run_build(kind, "--check", "--shipped-dir", shipped)
    assert result.returncode == 1 and "toolchain record" in result.stderr and "missing" in result.stderr


# ----------------------------------------------------------------------------- the shipped files, here


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_check_of_the_shipped_files_passes_here(kind: str, tmp_path: Path) -> None:
    """What CI runs. With the recorded toolchain it must have compared bytes; otherwise it says what moved."""
    need_build_tools(kind)
    script = KINDS[kind][0]
    recorded = reproducible.parse_record((script.parent / record_file(kind)).read_text())
    here = reproducible.installed_versions(list(recorded))
    result = run_build(kind, "--check", "--rebuilt-dir", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(result.stdout.splitlines()) == 1
    if here == recorded:
        assert "match a fresh build" in result.stdout
        for name in binaries(kind):
            assert (tmp_path / name).read_bytes() == (script.parent / name).read_bytes()
    else:
        assert "toolchain differs" in result.stdout
