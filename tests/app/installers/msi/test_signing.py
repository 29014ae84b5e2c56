"""Authenticode signing with osslsigncode: PEM and PKCS#12 identities, passwords only via the environment."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from kit import msi as msi_kit
from kit.testing import REPO

from kiln.installers.msi.installer import describe
from kiln.installers.msi.options import MsiOptions
from kiln.installers.msi.signing import SigningIdentity, sign_file, signing_identity, verify_signature
from kiln.support.errors import KilnError

PASSWORD = "s3cret-Pässword with spaces"
LAUNCHER = REPO / "resources" / "launchers" / "windows" / "launcher-console.exe"




@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway self-signed code-signing certificate: cert.pem, key.pem (encrypted), cert.p12 (same password)."""
    msi_kit.need("openssl", "osslsigncode")
    folder = tmp_path_factory.mktemp("certs")
    env = {**os.environ, "CERT_PASS": PASSWORD}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", "key.pem", "-out", "cert.pem",
                    "-days", "2", "-subj", "/CN=Kiln Test Signing", "-addext", "extendedKeyUsage=codeSigning",
                    "-passout", "env:CERT_PASS"], cwd=folder, env=env, check=True, capture_output=True)
    subprocess.run(["openssl", "pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem", "-out", "cert.p12",
                    "-passin", "env:CERT_PASS", "-passout", "env:CERT_PASS"], cwd=folder, env=env, check=True,
                   capture_output=True)
    return folder


def options(**values: str) -> MsiOptions:
    return MsiOptions(upgrade_code=msi_kit.UPGRADE_CODE, signing_password_env="KILN_TEST_SIGNING_PASSWORD", **values)


def test_pem_identity_signs_an_exe_that_verifies(certs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("KILN_TEST_SIGNING_PASSWORD", PASSWORD)
    identity = signing_identity(options(signing_certificate="cert.pem", signing_key="key.pem"), certs)
    assert identity is not None and identity.key == certs / "key.pem" and not identity.is_pkcs12
    assert PASSWORD not in repr(identity)
    caplog.set_level(logging.DEBUG, logger="kiln.tools")
    sign_file(identity, LAUNCHER, tmp_path / "signed.exe", "Hellö <App>", "https://example.org/?a=1&b=2")
    report = verify_signature(tmp_path / "signed.exe", certs / "cert.pem")
    assert "Signature verification: ok" in report
    assert LAUNCHER.read_bytes() != (tmp_path / "signed.exe").read_bytes()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "osslsigncode" in logged and PASSWORD not in logged  # handed over on stdin, never in argv


def test_pkcs12_identity(certs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_TEST_SIGNING_PASSWORD", PASSWORD)
    identity = signing_identity(options(signing_certificate="cert.p12"), certs)
    assert identity is not None and identity.is_pkcs12 and identity.key is None
    sign_file(identity, LAUNCHER, tmp_path / "signed.exe", "App")
    assert "Signature verification: ok" in verify_signature(tmp_path / "signed.exe", certs / "cert.pem")


def test_a_file_signed_by_someone_else_does_not_verify(certs: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out",
                    "cert.pem", "-days", "2", "-subj", "/CN=Someone Else"], cwd=other, check=True,
                   capture_output=True)
    sign_file(SigningIdentity(other / "cert.pem", other / "key.pem", ""), LAUNCHER, tmp_path / "s.exe", "App")
    with pytest.raises(KilnError):
        verify_signature(tmp_path / "s.exe", certs / "cert.pem")


def test_wrong_or_missing_password_fails_fast_with_a_hint(certs: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KILN_TEST_SIGNING_PASSWORD", raising=False)
    identity = signing_identity(options(signing_certificate="cert.pem", signing_key="key.pem"), certs)
    assert identity is not None and identity.password is None
    with pytest.raises(KilnError) as caught:  # no terminal prompt: it must fail, not wait
        sign_file(identity, LAUNCHER, tmp_path / "out.exe", "App")
    assert "KILN_TEST_SIGNING_PASSWORD" in str(caught.value)
    monkeypatch.setenv("KILN_TEST_SIGNING_PASSWORD", "wrong")
    identity = signing_identity(options(signing_certificate="cert.p12"), certs)
    assert identity is not None
    with pytest.raises(KilnError, match=r"signing launcher-console\.exe failed"):
        sign_file(identity, LAUNCHER, tmp_path / "out.exe", "App")
    assert not (tmp_path / "out.exe").exists()


def test_identity_problems(certs: Path) -> None:
    assert signing_identity(options(), certs) is None
    with pytest.raises(KilnError, match="signing_key is empty"):
        signing_identity(options(signing_certificate="cert.pem"), certs)
    with pytest.raises(KilnError, match="does not exist"):
        signing_identity(options(signing_certificate="missing.p12"), certs)


def test_signed_msi_build(certs: Path, tmp_path: Path) -> None:
    msi_kit.need("wixl", "msibuild", "msiinfo", "msiextract")
    msi_kit.write_app(tmp_path)
    for name in ("cert.pem", "key.pem"):
        shutil.copy(certs / name, tmp_path / name)
    project = msi_kit.write_project(tmp_path, msi_kit.fake_runtime_archive(tmp_path), signing_certificate="cert.pem",
                                signing_key="key.pem", signing_password_env="KILN_TEST_SIGNING_PASSWORD")
    msi = msi_kit.built_msi(project, tmp_path / "cache", env={"KILN_TEST_SIGNING_PASSWORD": PASSWORD})
    assert "Signature verification: ok" in verify_signature(msi, certs / "cert.pem")
    launcher = msi_kit.extract(msi, tmp_path / "x") / "hello.exe"  # signed before it was packed
    assert "Signature verification: ok" in verify_signature(launcher, certs / "cert.pem")
    assert msi_kit.table(msi, "Property", tmp_path)  # signing left a readable database
    assert "signed:       yes (Authenticode)" in describe(msi)
    for text_file in (project, tmp_path / "dist" / "hello-build.log", tmp_path / "dist" / "hello-report.json"):
        assert PASSWORD not in text_file.read_text(encoding="utf-8")
