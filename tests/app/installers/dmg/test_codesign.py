"""Signing an .app from Linux (codesign.py): ad hoc by default, keeping valid signatures; Developer ID with a
self-made certificate; everything read back by Kiln's reader and, independently, by lief and the tests' own hashing."""

from __future__ import annotations

import hashlib
import plistlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from kit.macos import COMMON_NAME, IDENTIFIER, ODD, P12_PASSWORD, Certificate, recompute_signatures
from kit.testing import find_tool

from kiln.installers.dmg.codesign import (
    DEFAULT_ENTITLEMENTS,
    Identity,
    check_app,
    entitlements_file,
    find_macho_files,
    seal_problems,
    sign_app,
    sign_dmg,
    signing_identity,
)
from kiln.installers.dmg.hfs_volume import make_dmg
from kiln.installers.dmg.macho import CS_RUNTIME, check_signature, parse_superblob
from kiln.installers.dmg.options import DmgSigning
from kiln.installers.dmg.reader import read_image, verify_dmg
from kiln.support.errors import KilnError

CS_ADHOC = 0x2


def code_files(app_dir: Path) -> dict[str, bytes]:
    return {f.relpath: f.path.read_bytes() for f in find_macho_files(app_dir)}


def independent_checks(app_dir: Path) -> None:
    """Every real Mach-O file: lief finds a signature whose every page hash the test recomputes; the seal covers
    every file, some recomputed here."""
    for item in find_macho_files(app_dir):
        if item.problem:
            continue
        for recomputed in recompute_signatures(item.path):
            assert recomputed.pages == recomputed.pages_matching, (item.relpath, recomputed.arch)
    contents = app_dir / "Contents"
    seal = plistlib.loads((contents / "_CodeSignature" / "CodeResources").read_bytes())["files2"]
    for rel in ("Resources/app-bundle/kiln_boot.py", "Resources/app-bundle/runtime/lib/fake.dylib",
                f"Resources/app-bundle/packages/{ODD}/e\u0301.so", "Resources/hello.icns"):
        assert seal[rel]["hash2"] == hashlib.sha256((contents / rel).read_bytes()).digest(), rel
    assert seal["Resources/app-bundle/runtime/bin/python3"] == {"symlink": "python3.11"}


def test_ad_hoc_signs_what_lacks_a_valid_signature_and_keeps_the_rest(app: Path) -> None:
    before = code_files(app)
    report = sign_app(app, IDENTIFIER, None, None, timestamp=False)
    after = code_files(app)
    base = "Contents/Resources/app-bundle/"
    kept = [f"{base}packages/markupsafe/_speedups.cpython-311-darwin.so", f"{base}packages/vendor/signed.so",
            f"{base}runtime/lib/fake.dylib", f"{base}runtime/lib/header.dylib", f"{base}runtime/lib/magic.dylib"]
    assert all(before[rel] == after[rel] for rel in kept), "valid (and unreadable) files are left as they were"
    changed = [rel for rel in before if before[rel] != after[rel]]
    assert sorted(changed) == sorted(["Contents/MacOS/hello", f"{base}runtime/bin/python3.11",
                                      f"{base}runtime/lib/libpython3.11.dylib", f"{base}packages/uni/uni.so",
                                      f"{base}packages/{ODD}/e\u0301.so"])
    assert (report.mode, report.signed, report.kept, report.timestamped) == ("ad hoc", 5, 2, False)
    assert report.not_signable == (f"{base}runtime/lib/fake.dylib (fake.dylib: the Mach-O header is cut short)",
                                   f"{base}runtime/lib/header.dylib (no __LINKEDIT segment to sign)",
                                   f"{base}runtime/lib/magic.dylib (magic.dylib: the Mach-O header is cut short)")
    assert check_app(app, None) == []
    states = {f.relpath: f.state for f in find_macho_files(app)}
    assert states[f"{base}packages/vendor/signed.so"] == "certificate"
    assert {states[rel] for rel in changed} == {"ad hoc"}
    # The main executable carries the bundle identifier and binds Info.plist and the seal.
    (main,) = recompute_signatures(app / "Contents" / "MacOS" / "hello")
    assert main.identifier == IDENTIFIER and main.flags & CS_ADHOC and not main.cms
    independent_checks(app)


def test_developer_id_signs_everything_with_the_hardened_runtime(app: Path, tmp_path: Path,
                                                                 certificates: dict[str, Certificate]) -> None:
    certificate = certificates["developer-id"]
    identity = Identity(certificate.p12, None, "KILN_TEST_PASSWORD", P12_PASSWORD)
    entitlements = entitlements_file(DmgSigning(), tmp_path, tmp_path)
    report = sign_app(app, IDENTIFIER, identity, entitlements, timestamp=False)
    assert (report.mode, report.signed, report.kept) == ("Developer ID", 7, 0)
    assert check_app(app, identity) == []
    der = certificate_der(certificate)
    for item in find_macho_files(app):
        if item.problem:
            continue
        for check in item.checks:
            assert (check.state, check.signer, check.hardened_runtime) == ("Developer ID", COMMON_NAME, True)
        for recomputed in recompute_signatures(item.path):
            assert recomputed.flags & CS_RUNTIME and der in recomputed.cms  # the signature carries the certificate
    executables = {f.relpath: f for f in find_macho_files(app) if f.executable}
    assert set(executables) == {"Contents/MacOS/hello", "Contents/Resources/app-bundle/runtime/bin/python3.11"}
    for item in executables.values():
        assert plistlib.loads(item.checks[0].entitlements) == DEFAULT_ENTITLEMENTS
    libraries = [f for f in find_macho_files(app) if not f.executable and not f.problem]
    assert libraries and all(not c.entitlements for f in libraries for c in f.checks)
    independent_checks(app)


def certificate_der(certificate: Certificate) -> bytes:
    import base64

    text = certificate.pem.read_text()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def test_a_file_changed_after_signing_is_found(app: Path) -> None:
    sign_app(app, IDENTIFIER, None, None, timestamp=False)
    (app / "Contents" / "Resources" / "app-bundle" / "kiln_boot.py").write_text("# changed\n")
    (app / "Contents" / "Resources" / "app-bundle" / "new.txt").write_text("added\n")
    assert sorted(seal_problems(app)) == ["Resources/app-bundle/kiln_boot.py: the sealed hash differs",
                                          "Resources/app-bundle/new.txt is not sealed"]
    assert sorted(check_app(app, None)) == sorted(seal_problems(app))
    # A seal edited to match is no longer the one the main executable's signature binds.
    seal = app / "Contents" / "_CodeSignature" / "CodeResources"
    seal.write_bytes(seal.read_bytes().replace(b"</plist>", b"</plist>\n"))
    assert "Contents/MacOS/hello: broken (the CodeResources do not match the sha256 CodeDirectory)" in check_app(
        app, None)


def test_signing_identity_and_its_errors(tmp_path: Path, certificates: dict[str, Certificate],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    certificate = certificates["developer-id"]
    shutil.copy(certificate.p12, tmp_path / "id.p12")
    shutil.copy(certificate.pem, tmp_path / "cert.pem")
    shutil.copy(certificate.key, tmp_path / "key.pem")
    assert signing_identity(DmgSigning(), tmp_path) is None
    monkeypatch.setenv("KILN_MACOS_SIGNING_PASSWORD", P12_PASSWORD)
    identity = signing_identity(DmgSigning(certificate="id.p12"), tmp_path)
    assert identity is not None and identity.password == P12_PASSWORD and P12_PASSWORD not in repr(identity)
    pem = signing_identity(DmgSigning(certificate="cert.pem", key="key.pem"), tmp_path)
    assert pem is not None and pem.key == tmp_path / "key.pem"
    with pytest.raises(KilnError, match="holds no private key"):
        signing_identity(DmgSigning(certificate="cert.pem"), tmp_path)
    with pytest.raises(KilnError, match="does not exist"):
        signing_identity(DmgSigning(certificate="missing.p12"), tmp_path)


@pytest.mark.parametrize("password", [None, "wrong"], ids=["unset", "wrong"])
def test_a_bad_password_is_a_clear_error(app: Path, certificates: dict[str, Certificate],
                                         password: str | None) -> None:
    identity = Identity(certificates["developer-id"].p12, None, "KILN_MACOS_SIGNING_PASSWORD", password)
    with pytest.raises(KilnError) as caught:
        sign_app(app, IDENTIFIER, identity, None, timestamp=False)
    assert "KILN_MACOS_SIGNING_PASSWORD" in str(caught.value.hint)
    assert "-legacy" in str(caught.value.hint)  # OpenSSL 3's default PKCS#12 encryption is not readable


def test_project_entitlements_are_checked(tmp_path: Path) -> None:
    (tmp_path / "good.plist").write_bytes(plistlib.dumps({"com.apple.security.cs.allow-jit": True}))
    (tmp_path / "bad.plist").write_text("<plist><array/></plist>")
    assert entitlements_file(DmgSigning(entitlements="good.plist"), tmp_path, tmp_path) == tmp_path / "good.plist"
    with pytest.raises(KilnError, match="not a usable entitlements plist"):
        entitlements_file(DmgSigning(entitlements="bad.plist"), tmp_path, tmp_path)
    default = entitlements_file(DmgSigning(), tmp_path, tmp_path / "work")
    assert plistlib.loads(default.read_bytes()) == DEFAULT_ENTITLEMENTS


def test_a_signed_disk_image_still_reads_and_its_signature_holds(app: Path, tmp_path: Path,
                                                                 certificates: dict[str, Certificate]) -> None:
    sign_app(app, IDENTIFIER, None, None, timestamp=False)
    dmg, unsigned = tmp_path / "hello.dmg", tmp_path / "unsigned.dmg"
    make_dmg(app.parent, "Hello", dmg, epoch=946684800)
    shutil.copy(dmg, unsigned)
    identity = Identity(certificates["developer-id"].p12, None, "X", P12_PASSWORD)
    sign_dmg(dmg, IDENTIFIER, identity, timestamp=False)
    signed = dmg.read_bytes()
    offset, length = struct.unpack_from(">QQ", signed, len(signed) - 512 + 0x128)
    assert length and signed[:offset] == unsigned.read_bytes()[:-512]  # between the plist and the trailer
    signature = parse_superblob(signed[offset:offset + length], offset)
    check = check_signature(lambda at, n: signed[at:at + n], len(signed), signature)
    assert (check.state, check.signer) == ("Developer ID", COMMON_NAME)
    # Kiln's reader, 7-Zip and dmg2img still read the image, and the disk inside is the unsigned one's.
    assert verify_dmg(dmg) == [] and read_image(dmg) == read_image(unsigned)
    tested = subprocess.run([find_tool("7z", "7zz"), "t", str(dmg)], capture_output=True, text=True)
    assert tested.returncode == 0 and "Everything is Ok" in tested.stdout
    subprocess.run([find_tool("dmg2img"), "-i", str(dmg), "-o", str(tmp_path / "signed.img")], check=True,
                   capture_output=True)
    assert (tmp_path / "signed.img").read_bytes() == read_image(dmg)


# --- the [installer.signing] table --------------------------------------------------------------------------------

SIGNED_PROJECT = """\
[app]
name = "hello"
version = "1.0"

[entry]
module = "hello:main"

[[installer]]
kind = "dmg"

[installer.signing]  # Developer ID (the password comes from the environment)
certificate = "certs/developer-id.p12"
notarize = true
"""


def test_the_signing_table_loads_saves_and_is_checked(tmp_path: Path) -> None:
    from kiln.model.project_file import load_project
    from kiln.source.checks import check_project

    (tmp_path / "kiln.toml").write_text(SIGNED_PROJECT, encoding="utf-8")
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "__init__.py").write_text("def main():\n    pass\n")
    project_file = load_project(tmp_path / "kiln.toml")
    signing = project_file.project.installer[0].signing  # type: ignore[union-attr]
    assert (signing.certificate, signing.notarize, signing.password_env) == (
        "certs/developer-id.p12", True, "KILN_MACOS_SIGNING_PASSWORD")
    problems = {p.location: p.message for p in check_project(project_file)}
    assert problems["installer[0].signing.certificate"] == "file 'certs/developer-id.p12' does not exist"
    project_file.save()
    assert "# Developer ID (the password comes from the environment)" in (tmp_path / "kiln.toml").read_text()
    assert load_project(tmp_path / "kiln.toml").project == project_file.project


@pytest.mark.parametrize(
    "installer, location, message",
    [({"signing": {"notarize": True}}, "signing.notarize", "needs a Developer ID certificate"),
     ({"signing": {"certificate": "id.p12", "key": "key.pem"}}, "signing.key", "holds its key"),
     ({"platform": "macos-x86_64", "minimum_macos": "10.12"}, "minimum_macos", "needs macOS 10.13 or later"),
     ({"minimum_macos": "10.15"}, "minimum_macos", "needs macOS 11.0 or later")],
    ids=["notarize-ad-hoc", "key-with-p12", "old-intel-macos", "old-arm-macos"],
)
def test_signing_options_that_cannot_work_are_problems(tmp_path: Path, installer: dict[str, object], location: str,
                                                       message: str) -> None:
    from kiln.model.project import Project

    for name in ("id.p12", "key.pem"):
        (tmp_path / name).write_bytes(b"x")
    project = Project.model_validate({"app": {"name": "x"}, "entry": {"module": "x"},
                                      "installer": [{"kind": "dmg", **installer}]})
    problems = project.installer[0].problems(project, tmp_path, "installer[1]")
    assert [(p.location, message in p.message) for p in problems] == [(f"installer[1].{location}", True)]


@pytest.mark.parametrize("field, value", [("password_env", "NOT A NAME"), ("api_key_env", "$X"),
                                          ("notarize_wait_minutes", 0), ("certificate", "a\nb")])
def test_bad_signing_values_are_refused(field: str, value: object) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        DmgSigning.model_validate({field: value})
