"""Kiln's wheel cache: the locked files of one target, fetched by URL and sha256, and pure wheels built from sdists.

A wheel in the cache is trusted only when its sha256 is the lock's (a file that does not match is fetched again);
pip downloads what is missing from the exact URL the lock names, checking the hash (`--require-hashes`), with
pip's own network settings (certificates, proxies, credentials). A package with only a source distribution for the
target is built into a wheel on this machine, kept only when it is pure (py3-none-any), once per sdist sha256.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from kiln.model.pylock import LockedPackage
from kiln.support.errors import KilnError, ToolFailed
from kiln.support.hashing import file_sha256
from kiln.support.pip import pip_argv
from kiln.support.targets import Target
from kiln.support.tools import run

_PURE_INTERPRETERS = frozenset({"py3", "py2"})


def target_args(target: Target, python_version: str) -> list[str]:
    """pip options that select wheels for the target interpreter instead of the one running pip."""
    args = ["--python-version", python_version, "--implementation", "cp", "--only-binary=:all:"]
    for tag in target.pip_platform_tags():
        args += ["--platform", tag]
    return args


def exact_line(package: LockedPackage, location: str | None = None) -> str:
    """A requirement line for exactly one file: `name @ URL --hash=sha256:H`."""
    return f"{package.name} @ {location or package.url} --hash=sha256:{package.sha256}"


def fetch(packages: Sequence[LockedPackage], wheelhouse: Path, target: Target, python_version: str,
          work: Path) -> dict[str, tuple[Path, str]]:
    """Each package's wheel file in the cache and its sha256 (downloaded or built when missing), by name."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if p.wheel and not _verified(wheelhouse / p.wheel, p.sha256)]
    if missing:
        work.mkdir(parents=True, exist_ok=True)
        lines = work / "download.txt"
        lines.write_text("".join(exact_line(p) + "\n" for p in missing), encoding="utf-8")
        argv = [*pip_argv(), "download", "--disable-pip-version-check", "--no-input", "--no-deps",
                "--require-hashes", "--no-index", "--dest", str(wheelhouse), *target_args(target, python_version),
                "-r", str(lines)]
        try:
            run(argv, what=f"downloading the locked wheels for {target.name}")
        except ToolFailed as e:
            names = ", ".join(f"{p.name} {p.version}" for p in missing)
            raise KilnError(f"could not download the locked wheels for {target.name} ({names}):\n  {e.message}",
                            hint="check the network; a wheel whose sha256 changed on the index is refused: "
                                 "delete Kiln's lock of this platform to resolve again") from None
    files = {}
    for package in packages:
        if package.wheel:
            path = wheelhouse / package.wheel
            if not _verified(path, package.sha256):
                raise KilnError(f"{package.wheel} in Kiln's wheel cache does not have the locked sha256",
                                hint="run `kiln cache clean` and build again")
            files[package.name] = (path, package.sha256)
        else:
            path = built_from_sdist(package, wheelhouse, target.name, work)
            files[package.name] = (path, file_sha256(path))
    return files


def _verified(path: Path, sha256: str) -> bool:
    if not path.is_file():
        return False
    if file_sha256(path) == sha256:
        return True
    path.unlink(missing_ok=True)  # a damaged or different file under the same name: fetched again
    return False


def built_from_sdist(package: LockedPackage, wheelhouse: Path, platform: str, work: Path) -> Path:
    """The pure wheel built from a locked sdist (checked by its sha256), built once and kept under its hash."""
    folder = wheelhouse / "built" / package.sha256
    found = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if found:
        return found[0]
    work.mkdir(parents=True, exist_ok=True)
    lines = work / f"sdist-{package.name}.txt"
    lines.write_text(exact_line(package) + "\n", encoding="utf-8")
    return build_pure_wheel(package.name, folder, platform=platform, pip_args=["--require-hashes", "-r", str(lines)])


def is_pure_wheel(filename: str) -> bool:
    """True for wheels every platform can use: py3-none-any or py2.py3-none-any."""
    _name, _version, _build, tags = parse_wheel_filename(filename)
    interpreters = {t.interpreter for t in tags}
    return all(t.abi == "none" and t.platform == "any" for t in tags) and "py3" in interpreters and \
        interpreters <= _PURE_INTERPRETERS


def build_pure_wheel(
    requirement: str,
    wheelhouse: Path,
    *,
    platform: str = "the target platform",
    pip_args: Sequence[str] = (),
) -> Path:
    """Build `requirement` (which has only an sdist) into a wheel on this machine; keep it only if it is pure.

    A pure wheel (py3-none-any) works on every platform, so it can go into another target's bundle. Anything
    else was compiled for this machine and would be wrong there: KilnError naming the package and `platform`.
    `pip_args` say where the sdist is (index options, or `-r FILE` with its exact URL and hash; `requirement` is then
    only its name). Returns the wheel, now in `wheelhouse`.
    """
    try:
        name = Requirement(requirement).name
    except InvalidRequirement as e:
        raise KilnError(f"'{requirement}' is not a valid requirement: {e}") from None
    options = (
        f"options: find a wheel of {name} for {platform} (another version, or an index / find_links folder that has "
        f"one), drop the dependency, or build the {platform} installer on {platform}"
    )
    wheelhouse.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kiln-sdist-", dir=wheelhouse) as temp:
        what = [] if "-r" in pip_args else ["--", requirement]
        argv = [*pip_argv(), "wheel", "--disable-pip-version-check", "--no-input", "--no-deps",
                "--wheel-dir", temp, *pip_args, *what]
        try:
            run(argv, what=f"building a wheel of {name} from its source")
        except ToolFailed as e:
            raise KilnError(
                f"{name} has no wheel for {platform}, and building it from source on this machine failed:\n"
                f"  {e.message}",
                hint=options,
            ) from None
        built = sorted(Path(temp).glob("*.whl"))
        if len(built) != 1:
            raise KilnError(f"building {name} produced {len(built)} wheels instead of one", hint=options)
        wheel = built[0]
        try:
            pure = is_pure_wheel(wheel.name)
        except InvalidWheelFilename as e:
            raise KilnError(f"building {name} produced a wheel with an invalid name ({e})", hint=options) from None
        if not pure:
            raise KilnError(
                f"{name} has no wheel for {platform}, and its source build is platform-specific "
                f"({wheel.name}): a wheel built on this machine would not work on {platform}",
                hint=options,
            )
        final = wheelhouse / wheel.name
        shutil.move(str(wheel), final)
    return final
