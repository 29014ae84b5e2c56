"""Signed DMGs end to end: `kiln build` of examples/qt-hello and of a project with a compiled dependency
(markupsafe), ad hoc and with a self-made Developer ID certificate, read back without Kiln's reader: 7-Zip extracts
the app, lief reads each Mach-O file, the tests re-hash every page its CodeDirectory lists and some files the seal
lists; dmg2img and 7-Zip still read the image. The runtime is a stand-in (no macOS CPython can be downloaded here)
whose interpreter and libpython are real, unsigned Mach-O files; the dependencies are the real macOS wheels.
"""

from __future__ import annotations

import hashlib
import json
import plistlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import lief
import pytest
import tomlkit
from kit import sbom as sbom_kit
from kit.macos import COMMON_NAME, P12_PASSWORD, Certificate, macos_runtime_archive, recompute_signatures
from kit.projects import write_project
from kit.runner import KilnRun, kiln
from kit.testing import REPO, find_tool

from kiln.installers.dmg.apple_network import NOTARY_SERVICE, unreachable
from kiln.installers.dmg.macho import CS_RUNTIME, is_macho, read_macho
from kiln.installers.dmg.reader import read_image, verify_dmg

SEAL_OMITTED = ("Info.plist", "PkgInfo")


def build(root: Path, project: dict[str, Any], cache: Path, **env: str) -> KilnRun:
    """`kiln build --events jsonl` of `project`, written as root/kiln.toml, with its own runtime cache."""
    return kiln("build", write_project(root, project), "--events", "jsonl", cwd=root, timeout=1800,
                env={"KILN_CACHE_DIR": str(cache), **env})


def artifact(run: KilnRun) -> Path:
    return Path(next(e for e in run.events if e.kind == "artifact").data["path"])


def messages(run: KilnRun, kind: str) -> list[str]:
    return [e.message for e in run.events if e.kind == kind]


def markupsafe_project(root: Path, signing: dict[str, Any] | None = None) -> dict[str, Any]:
    (root / "src" / "web").mkdir(parents=True)
    code = "import markupsafe\n\n\ndef main():\n    print(markupsafe.escape('<'))\n"
    (root / "src" / "web" / "__init__.py").write_text(code)
    runtime = macos_runtime_archive(root)
    installer: dict[str, Any] = {"kind": "dmg", "platform": "macos-arm64"}
    if signing:
        installer["signing"] = signing
    return {"app": {"name": "web", "version": "1.0", "identifier": "org.example.web"},
            "entry": {"module": "web:main"}, "source": {"root": "src"},
            "dependencies": {"requirements": ["markupsafe==3.0.2"]},
            "python": {"version": "3.11", "source": str(runtime)}, "installer": [installer]}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kiln-cache")


def extract_app(dmg: Path, out: Path) -> Path:
    """The .app, as 7-Zip extracts it (links kept as links)."""
    subprocess.run([find_tool("7z", "7zz"), "x", "-y", f"-o{out}", "-snl", str(dmg)], check=True,
                   capture_output=True, timeout=600)
    (app,) = out.glob("*/*.app")
    return app


def macho_files(app: Path) -> list[Path]:
    found = []
    for path in sorted(app.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                if is_macho(f.read(8)):
                    found.append(path)
    return found


def check_code(app: Path, arch: str) -> list[Path]:
    """The acceptance checks on an extracted app; returns its Mach-O files."""
    contents = app / "Contents"
    info = plistlib.loads((contents / "Info.plist").read_bytes())
    main = contents / "MacOS" / info["CFBundleExecutable"]
    parsed = lief.MachO.parse(str(main))
    assert parsed is not None and parsed.at(0).header.file_type == lief.MachO.Header.FILE_TYPE.EXECUTE
    files = macho_files(app)
    assert main in files
    for path in files:
        # Thinned: only the target's architecture is left.
        kiln_view = read_macho(path)
        assert kiln_view.archs == (arch,), f"{path.relative_to(app)} holds {kiln_view.archs}"
        # lief, a second reader, finds the same load commands and the same signature blob.
        binary = lief.MachO.parse(str(path)).at(0)  # type: ignore[union-attr]
        (piece,) = kiln_view.slices
        assert [c.cmd for c in piece.load_commands] == [int(c.command) for c in binary.commands], path
        assert piece.signature is not None
        data = path.read_bytes()
        assert bytes(binary.code_signature.content) == data[piece.signature.offset:][:piece.signature.size]
        # Every page hash of the signature, recomputed here.
        for recomputed in recompute_signatures(path):
            assert recomputed.pages and recomputed.pages == recomputed.pages_matching, path
    # The seal lists every file of the bundle (but Info.plist, bound by the main executable, and PkgInfo) ...
    seal = plistlib.loads((contents / "_CodeSignature" / "CodeResources").read_bytes())["files2"]
    every = {p.relative_to(contents).as_posix() for p in contents.rglob("*") if not p.is_dir() or p.is_symlink()}
    every -= {*SEAL_OMITTED, main.relative_to(contents).as_posix(), "_CodeSignature/CodeResources"}
    assert every == set(seal)
    # ... with their hashes: a few recomputed (the interpreter, the compiled module, plain files).
    chosen = [p for p in sorted(every) if p.endswith((".so", ".dylib", "kiln_boot.py", ".icns"))][:12]
    for rel in chosen:
        assert seal[rel]["hash2"] == hashlib.sha256((contents / rel).read_bytes()).digest(), rel
    return files


def readers_agree(dmg: Path, tmp_path: Path) -> None:
    tested = subprocess.run([find_tool("7z", "7zz"), "t", str(dmg)], capture_output=True, text=True, timeout=600)
    assert tested.returncode == 0 and "Everything is Ok" in tested.stdout, tested.stdout
    image = tmp_path / "image.img"
    subprocess.run([find_tool("dmg2img"), "-i", str(dmg), "-o", str(image)], check=True, capture_output=True,
                   timeout=600)
    assert image.read_bytes() == read_image(dmg) and verify_dmg(dmg) == []


@pytest.mark.slow
def test_markupsafe_dmg_is_signed_ad_hoc_and_sealed(tmp_path: Path, cache: Path) -> None:
    built = build(tmp_path, markupsafe_project(tmp_path), cache)
    assert built.returncode == 0, built.output
    dmg = artifact(built)
    app = extract_app(dmg, tmp_path / "x")
    files = check_code(app, "arm64")
    names = {p.name for p in files}
    assert {"web", "python3.11", "libpython3.11.dylib", "_speedups.cpython-311-darwin.so"} <= names
    for path in files:
        for recomputed in recompute_signatures(path):
            assert recomputed.flags & 0x2 and not recomputed.cms  # ad hoc
    logs = messages(built, "log")
    assert any(m.startswith("signed web.app (ad hoc): ") and "every file sealed" in m for m in logs), logs
    # The SBOM names the signed bytes of every Mach-O file (written after signing them), and the seal covers it.
    files = sbom_kit.read_tree(app.parent)
    resources = f"{app.name}/Contents/Resources"
    sbom_kit.check(dmg.with_name(dmg.name + ".cdx.json"), files[f"{resources}/sbom.cdx.json"], files,
                   [f"{resources}/app-bundle"])
    readers_agree(dmg, tmp_path)


@pytest.mark.slow
def test_developer_id_dmg_carries_the_certificate_and_the_hardened_runtime(
        tmp_path: Path, cache: Path, certificates: dict[str, Certificate]) -> None:
    shutil.copy(certificates["developer-id"].p12, tmp_path / "developer-id.p12")
    project = markupsafe_project(tmp_path, {"certificate": "developer-id.p12", "timestamp": False})
    built = build(tmp_path, project, cache, KILN_MACOS_SIGNING_PASSWORD=P12_PASSWORD)
    assert built.returncode == 0, built.output
    assert P12_PASSWORD not in built.output
    dmg = artifact(built)
    app = extract_app(dmg, tmp_path / "x")
    for path in check_code(app, "arm64"):
        for recomputed in recompute_signatures(path):
            assert recomputed.flags & CS_RUNTIME and COMMON_NAME.encode() in recomputed.cms, path
    listing = kiln("inspect", dmg)
    assert listing.returncode == 0, listing.output
    assert f"disk image: Developer ID ({COMMON_NAME})" in listing.stdout
    readers_agree(dmg, tmp_path)


@pytest.mark.slow
def test_without_network_the_build_says_notarization_was_skipped(
        tmp_path: Path, cache: Path, certificates: dict[str, Certificate]) -> None:
    if unreachable(NOTARY_SERVICE) is None:
        pytest.skip("this machine reaches Apple's notary service; the offline path is what is tested here")
    shutil.copy(certificates["developer-id"].p12, tmp_path / "developer-id.p12")
    project = markupsafe_project(tmp_path, {"certificate": "developer-id.p12", "notarize": True})
    # A well-formed key (PKCS#8 of P-256) that is never sent: the build stops at the reachability check.
    der = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" + "A" * 40
    key = {"issuer_id": "x", "key_id": "KEY1", "private_key": der}
    built = build(tmp_path, project, cache, KILN_MACOS_SIGNING_PASSWORD=P12_PASSWORD,
                  KILN_NOTARY_API_KEY=json.dumps(key))
    assert built.returncode == 0, built.output
    warnings = messages(built, "warning")
    assert any(w.startswith("signing without a secure timestamp: timestamp.apple.com") for w in warnings), warnings
    assert any(w.startswith("notarization skipped: appstoreconnect.apple.com") and "signed but not notarized" in w
               for w in warnings), warnings


@pytest.mark.slow
def test_qt_hello_dmg_is_thinned_to_arm64_and_signed(tmp_path: Path, cache: Path) -> None:
    source = REPO / "examples" / "qt-hello"
    requirements = tomlkit.parse((source / "pyproject.toml").read_text())["project"]["dependencies"]
    runtime = macos_runtime_archive(tmp_path)
    project = {"app": {"name": "qt-hello", "version": "1.0.0", "display_name": "Qt Hello",
                       "identifier": "org.example.qt-hello"},
               "entry": {"module": "qt_hello.window:main", "kind": "gui"},
               "source": {"root": str(source), "include": ["qt_hello/**"]},
               "dependencies": {"requirements": list(requirements)},
               "python": {"version": "3.11", "source": str(runtime)},
               "installer": [{"kind": "dmg", "platform": "macos-arm64"}]}
    built = build(tmp_path, project, cache)
    assert built.returncode == 0, built.output
    logs = messages(built, "log")
    thinned = [m for m in logs if m.startswith("thinned ")]
    assert thinned and "universal Mach-O files to arm64" in thinned[0], logs
    dmg = artifact(built)
    app = extract_app(dmg, tmp_path / "x")
    files = check_code(app, "arm64")
    qt = [p for p in files if "PySide6" in p.parts]
    assert len(qt) > 20 and any(p.name == "QtCore" or p.name.startswith("QtCore") for p in qt)
    readers_agree(dmg, tmp_path)
