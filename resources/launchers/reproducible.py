"""Reproducible builds of Kiln's prebuilt binaries, shared by appimage/build.py and windows/build.py.

Each build.py describes one `Product` (its sources, the files it ships, the Debian packages whose versions decide
the bytes, and how to compile) and hands it to `main()`. Standard library only, any python3: the build scripts
must run before (and without) Kiln's own package.

What is checked, and why it cannot rot:

- Reproducibility ("same sources + same toolchain give the same bytes") is checked on *this* machine by building
  twice, from two different folders, and comparing the two results. It does not depend on what was shipped.
- The shipped binaries are compared with a fresh build only when this machine's toolchain equals the one recorded
  next to them (the `.buildinfo` record). When the toolchain moved (Debian security updates of the static
  libraries, a new compiler), the check says so in one line, names the packages that moved, and passes if the
  double build agreed: the shipped bytes cannot be reproduced with other packages, and that is not an error.
- `--rebuilt-dir DIR` writes the fresh build (binaries, sums, toolchain record) to DIR, so CI can run the tests
  against what this machine builds from the sources (KILN_APPIMAGE_RUNTIME, KILN_WINDOWS_LAUNCHERS).

For the tests only: with KILN_REPRODUCIBLE_TEST_NOISE set, every build appends a few random bytes to each binary
(as a `__DATE__` or a leaked build path would), so the double build must fail.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

NOISE_VARIABLE = "KILN_REPRODUCIBLE_TEST_NOISE"
UNKNOWN = "unknown"  # a package version that could not be determined (not installed, or no dpkg)


class BuildError(Exception):
    """A build could not be made (compiler missing or failing, unexpected output)."""


@dataclass(frozen=True)
class Product:
    """One set of shipped binaries built from one set of sources."""

    label: str  # for messages: "runtime-x86_64", "Windows launchers"
    folder: Path  # holds the sources, and the shipped binaries with their sums and toolchain record
    sources: tuple[str, ...]  # files copied into the build folder
    outputs: tuple[str, ...]  # the shipped binaries, produced by `compile` in the build folder
    packages: tuple[str, ...]  # Debian packages whose versions decide the bytes of the outputs
    record: str  # file name of the toolchain record ("package version" per line)
    sums: str  # file name of the sha256 sums (sha256sum format, so `sha256sum -c` works)
    compile: Callable[[Path], None]  # compiles the sources inside the given folder; outputs land there


# ----------------------------------------------------------------------------- toolchain record


def installed_versions(packages: Sequence[str]) -> dict[str, str]:
    """The installed Debian version of each package, or UNKNOWN (not installed, not a Debian system)."""
    if shutil.which("dpkg-query") is None:
        return {package: UNKNOWN for package in packages}
    versions = {}
    for package in packages:
        found = subprocess.run(
            ["dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}\n", package],
            capture_output=True,
            text=True,
            check=False,
        )
        # One line per installed architecture (libc6-dev:amd64, libc6-dev:i386 ...); their versions, once each.
        lines = found.stdout.splitlines()
        installed = sorted({line.split(" ", 1)[1] for line in lines if line.startswith("installed ")})
        versions[package] = ",".join(installed) if found.returncode == 0 and installed else UNKNOWN
    return versions


def format_record(product: Product, versions: dict[str, str]) -> str:
    header = (
        f"# Debian packages that decide the bytes of {', '.join(product.outputs)}, with the versions they were\n"
        "# built with. build.py --check compares the shipped files with a fresh build only when this machine\n"
        "# has exactly these versions (see README.md: refreshing after security updates).\n"
    )
    return header + "".join(f"{package} {versions[package]}\n" for package in product.packages)


def parse_record(text: str) -> dict[str, str]:
    """{package: version} from a record; comments and blank lines are skipped."""
    versions = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "(")):
            continue
        package, _, version = line.partition(" ")
        versions[package] = version.strip() or UNKNOWN
    return versions


def toolchain_drift(product: Product, recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """'package old -> new' for every package whose version here is not the recorded one (or is unknown)."""
    moved = []
    for package in product.packages:
        before, now = recorded.get(package, UNKNOWN), current.get(package, UNKNOWN)
        if before != now or now == UNKNOWN:
            moved.append(f"{package} {before} -> {now}")
    return moved


# ----------------------------------------------------------------------------- sums


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def format_sums(sums: dict[str, str]) -> str:
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))


def parse_sums(text: str) -> dict[str, str]:
    result = {}
    for line in text.splitlines():
        digest, _, name = line.strip().partition("  ")
        if digest and name:
            result[name.strip()] = digest
    return result


# ----------------------------------------------------------------------------- building


def run_compiler(argv: Sequence[str], cwd: Path, what: str, allowed: Callable[[str], bool] | None = None) -> None:
    """Run one compiler command in a fixed locale; it must succeed and print nothing unexpected."""
    env = {**os.environ, "LC_ALL": "C", "SOURCE_DATE_EPOCH": "0"}
    try:
        result = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise BuildError(f"{what}: {argv[0]} is not installed") from e
    output = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    noise = [line for line in output if not (allowed and allowed(line))]
    if result.returncode != 0:
        raise BuildError(f"{what} failed:\n" + "\n".join((noise or output)[-30:]))
    if noise:
        raise BuildError(f"{what}: unexpected compiler output (the build must be warning-free):\n" + "\n".join(noise))


def build(product: Product, out: Path, work_prefix: str = "kiln-build-") -> dict[str, str]:
    """Compile in a fresh folder; write the outputs, their sums and the toolchain record to `out`.

    Returns {output name: sha256}. The sources are copied first, so the build never depends on (or writes
    into) the checkout's path.
    """
    versions = installed_versions(product.packages)
    with tempfile.TemporaryDirectory(prefix=work_prefix) as tmp:
        work = Path(tmp)
        for name in product.sources:
            shutil.copyfile(product.folder / name, work / name)
        product.compile(work)
        out.mkdir(parents=True, exist_ok=True)
        sums = {}
        for name in product.outputs:
            built = work / name
            if not built.is_file():
                raise BuildError(f"the build did not produce {name}")
            if os.environ.get(NOISE_VARIABLE):
                with built.open("ab") as f:
                    f.write(os.urandom(8))
            partial = out / f".{name}.partial"
            shutil.copyfile(built, partial)
            partial.chmod(0o755)
            os.replace(partial, out / name)
            sums[name] = file_sha256(out / name)
    (out / product.sums).write_text(format_sums(sums), encoding="utf-8")
    (out / product.record).write_text(format_record(product, versions), encoding="utf-8")
    return sums


def double_build(product: Product, root: Path) -> dict[str, str]:
    """Build twice, from two different folders, into root/first and root/second; the digests of the first.

    Raises BuildError naming the outputs whose bytes differ between the two builds.
    """
    first = build(product, root / "first", work_prefix="kiln-build-")
    second = build(product, root / "second", work_prefix="kiln-second-build-in-another-folder-")
    differing = [name for name in product.outputs if first[name] != second[name]]
    if differing:
        raise BuildError(
            f"{product.label} is not reproducible: two builds with the same sources and toolchain, in two "
            f"folders, gave different bytes for {', '.join(differing)}"
        )
    return first


def install(product: Product, built: Path, target: Path) -> None:
    """Copy the outputs, sums and record of a build from `built` into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for name in (*product.outputs, product.sums, product.record):
        partial = target / f".{name}.partial"
        shutil.copy2(built / name, partial)
        os.replace(partial, target / name)


# ----------------------------------------------------------------------------- checking


def shipped_problems(product: Product, shipped: Path) -> list[str]:
    """What is wrong with the shipped files themselves: missing, or not matching their recorded sums."""
    if not (shipped / product.sums).is_file():
        return [f"{product.sums} is missing"]
    recorded = parse_sums((shipped / product.sums).read_text(encoding="utf-8"))
    problems = []
    for name in product.outputs:
        path = shipped / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif recorded.get(name) != file_sha256(path):
            problems.append(f"{name} does not match its sha256 in {product.sums}")
    if not (shipped / product.record).is_file():
        problems.append(f"{product.record} (the toolchain record) is missing")
    return problems


def check(product: Product, shipped: Path, rebuilt_dir: Path | None = None) -> int:
    """The whole --check; prints one line when all is well, and returns the exit code."""
    tag = f"build.py --check ({product.label})"
    problems = shipped_problems(product, shipped)
    if problems:
        print(f"{tag}: " + "; ".join(problems) + " - rebuild with build.py", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="kiln-check-") as tmp:
        try:
            fresh = double_build(product, Path(tmp))
        except BuildError as e:
            print(f"{tag}: {e}", file=sys.stderr)
            return 1
        if rebuilt_dir is not None:
            install(product, Path(tmp) / "first", rebuilt_dir)
        current = parse_record((Path(tmp) / "first" / product.record).read_text(encoding="utf-8"))
    recorded = parse_record((shipped / product.record).read_text(encoding="utf-8"))
    moved = toolchain_drift(product, recorded, current)
    if moved:
        print(
            f"{tag}: toolchain differs from {product.record} ({'; '.join(moved)}): two fresh builds are identical, "
            f"the shipped bytes were not compared; refresh them with build.py (see README.md)"
        )
        return 0
    shipped_sums = parse_sums((shipped / product.sums).read_text(encoding="utf-8"))
    differing = [name for name in product.outputs if fresh[name] != shipped_sums[name]]
    if differing:
        print(
            f"{tag}: same toolchain as {product.record}, but a fresh build differs from the shipped "
            + ", ".join(f"{name} (rebuilt {fresh[name]}, shipped {shipped_sums[name]})" for name in differing)
            + ": the sources changed without a rebuild, or something outside the record decides the bytes",
            file=sys.stderr,
        )
        return 1
    print(f"{tag}: the shipped files match a fresh build with the recorded toolchain (two builds, identical)")
    return 0


def main(product: Product, doc: str, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="verify instead of replacing the shipped files")
    parser.add_argument(
        "--out", type=Path, default=product.folder, help="where a build writes its files (default: next to build.py)"
    )
    parser.add_argument(
        "--shipped-dir",
        type=Path,
        default=product.folder,
        help="--check: the folder holding the shipped files and their record (default: next to build.py)",
    )
    parser.add_argument(
        "--rebuilt-dir", type=Path, help="--check: also write the freshly built files (with sums and record) here"
    )
    args = parser.parse_args(argv)
    if args.check:
        return check(product, args.shipped_dir, args.rebuilt_dir)
    try:
        with tempfile.TemporaryDirectory(prefix="kiln-build-") as tmp:
            sums = double_build(product, Path(tmp))
            install(product, Path(tmp) / "first", args.out)
    except BuildError as e:
        print(f"build.py ({product.label}): {e}", file=sys.stderr)
        return 1
    for name, digest in sorted(sums.items()):
        print(f"built {args.out / name} ({(args.out / name).stat().st_size} bytes, sha256 {digest})")
    return 0
