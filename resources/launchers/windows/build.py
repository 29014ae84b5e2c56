"""Build Kiln's prebuilt Windows launchers (console and GUI) from launcher.c with Debian's mingw-w64.

    python resources/launchers/windows/build.py            # rebuild the shipped .exe files and SHA256SUMS
    python resources/launchers/windows/build.py --check    # rebuild in a temp dir; fail if anything differs

The flags make the output byte-reproducible: no link timestamp, source paths mapped to '.', symbols stripped.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))  # run as a plain script: reach app.tools, the one way Kiln runs commands

from app.errors import KilnError  # noqa: E402
from app.tools import run  # noqa: E402

CC = "x86_64-w64-mingw32-gcc"
SOURCE = "launcher.c"
SUMS = "SHA256SUMS"
COMMON = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-municode", "-s", "-Wl,--no-insert-timestamp"]
VARIANTS: dict[str, tuple[list[str], list[str]]] = {
    # name: (compile flags, libraries)
    "launcher-console.exe": (["-mconsole"], ["-lshell32"]),
    "launcher-gui.exe": (["-mwindows", "-DKILN_GUI"], ["-lshell32", "-luser32"]),
}


def build(out_dir: Path) -> dict[str, str]:
    """Compile every variant into out_dir; return {file name: sha256}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sums: dict[str, str] = {}
    for name, (flags, libs) in VARIANTS.items():
        target = out_dir / name
        partial = out_dir / f".{name}.partial"
        argv = [CC, *COMMON, f"-ffile-prefix-map={HERE}=.", *flags, "-o", str(partial), SOURCE, *libs]
        run(argv, cwd=HERE, what=f"compiling {name}")
        os.replace(partial, target)
        sums[name] = hashlib.sha256(target.read_bytes()).hexdigest()
    return sums


def format_sums(sums: dict[str, str]) -> str:
    """sha256sum's format, so `sha256sum -c SHA256SUMS` works too."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))


def read_sums(path: Path) -> dict[str, str]:
    result: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            result[name.strip()] = digest.strip()
    return result


def compiler_version() -> str:
    return run([CC, "--version"], what="asking the compiler's version").stdout.decode().splitlines()[0]


def check() -> list[str]:
    """Rebuild in a temporary folder; list every difference from what is shipped."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kiln-launcher-") as tmp:
        fresh = build(Path(tmp))
    recorded = read_sums(HERE / SUMS) if (HERE / SUMS).is_file() else {}
    for name, digest in fresh.items():
        shipped = HERE / name
        if not shipped.is_file():
            problems.append(f"{name}: not shipped")
            continue
        shipped_digest = hashlib.sha256(shipped.read_bytes()).hexdigest()
        if shipped_digest != digest:
            problems.append(f"{name}: rebuilt sha256 {digest} != shipped {shipped_digest}")
        if recorded.get(name) != shipped_digest:
            problems.append(f"{name}: {SUMS} records {recorded.get(name)}, file is {shipped_digest}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="rebuild in a temp dir and compare with the shipped files")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check()
            if problems:
                print("launchers differ from a fresh build:", *problems, sep="\n  ", file=sys.stderr)
                print(f"compiler here: {compiler_version()} (see README.md for the one used)", file=sys.stderr)
                return 1
            print("launchers match a fresh build and SHA256SUMS")
            return 0
        sums = build(HERE)
        (HERE / SUMS).write_text(format_sums(sums), encoding="utf-8")
        print(format_sums(sums), end="")
        return 0
    except KilnError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
