"""Notarization (notarize.py): the API key from the environment, the request built and checked without sending it,
and a build without network that says plainly that notarization was skipped."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
from pathlib import Path

import pytest
from kit.testing import require_tools

from kiln.installers.dmg.apple_network import NOTARY_SERVICE, unreachable
from kiln.installers.dmg.notarize import api_key_file, load_api_key, notarization_request, notarize_dmg
from kiln.installers.dmg.options import DmgSigning
from kiln.support.errors import KilnError

ISSUER = "69a6de7e-0000-47e3-e053-5b8c7c11a4d1"
KEY_ID = "DEADBEEF42"


@pytest.fixture(scope="module")
def p8(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """An EC P-256 private key as App Store Connect hands it out (.p8: PKCS#8 PEM), and its DER, made by openssl."""
    require_tools("openssl")
    folder = tmp_path_factory.mktemp("p8")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(folder / "ec.pem")],
                   check=True, capture_output=True, timeout=60)
    pem = subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", str(folder / "ec.pem")], check=True,
                         capture_output=True, timeout=60).stdout.decode()
    der = subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", str(folder / "ec.pem"), "-outform", "DER"],
                         check=True, capture_output=True, timeout=60).stdout
    return pem, der


def key_json(private_key: str, **extra: str) -> str:
    return json.dumps({"issuer_id": ISSUER, "key_id": KEY_ID, "private_key": private_key, **extra})


def test_the_api_key_comes_from_the_environment_as_json_or_a_file(p8: tuple[str, bytes], tmp_path: Path) -> None:
    pem, der = p8
    from_text = load_api_key("KEY", {"KEY": key_json(pem)})
    (tmp_path / "key.json").write_text(key_json(base64.b64encode(der).decode()))
    from_file = load_api_key("KEY", {"KEY": str(tmp_path / "key.json")})
    assert from_text == from_file
    assert (from_text.issuer_id, from_text.key_id) == (ISSUER, KEY_ID)
    assert base64.b64decode(from_text.private_key) == der
    assert pem.splitlines()[1] not in repr(from_text)  # the key never shows in a log line


@pytest.mark.parametrize(
    "value, message",
    [("", "is not set"), ("{not json", "neither API key JSON"), ("/nonexistent/key.json", "neither API key JSON"),
     ('{"issuer_id": "x"}', "lacks key_id, private_key"), ('{"issuer_id": "x", "key_id": "y", "private_key": "abc"}',
                                                          "not an EC private key")],
    ids=["unset", "bad-json", "no-file", "missing-fields", "bad-key"],
)
def test_a_bad_api_key_is_a_clear_error(value: str, message: str) -> None:
    with pytest.raises(KilnError, match=message) as caught:
        load_api_key("KILN_NOTARY_API_KEY", {"KILN_NOTARY_API_KEY": value} if value else {})
    assert "KILN_NOTARY_API_KEY" in str(caught.value.hint)


def test_the_request_is_built_and_checked_without_sending_it(p8: tuple[str, bytes], tmp_path: Path) -> None:
    pem, der = p8
    dmg = tmp_path / "Hello-1.0-arm64.dmg"
    dmg.write_bytes(b"image")
    key = load_api_key("KEY", {"KEY": key_json(pem)})
    with api_key_file(key, tmp_path / "work") as key_file:
        request = notarization_request(dmg, key_file, wait_minutes=45).request()
        assert request == {"credentials": {"api_key_path": str(key_file)}, "path": str(dmg), "wait_seconds": 2700}
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        written = json.loads(key_file.read_text())
        assert written == {"issuer_id": ISSUER, "key_id": KEY_ID, "private_key": base64.b64encode(der).decode()}
    assert not key_file.exists(), "the key file is removed after the upload"


def test_without_network_notarization_is_skipped_plainly(p8: tuple[str, bytes], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_NOTARY_API_KEY", key_json(p8[0]))
    dmg = tmp_path / "hello.dmg"
    dmg.write_bytes(b"image")
    asked: list[tuple[str, int]] = []
    warnings: list[str] = []

    def offline(service: tuple[str, int]) -> str:
        asked.append(service)
        return "appstoreconnect.apple.com cannot be resolved (no network or no DNS)"

    done = notarize_dmg(dmg, DmgSigning(certificate="x.p12", notarize=True), tmp_path, lambda m: None,
                        warnings.append, probe=offline)
    assert done is False and asked == [NOTARY_SERVICE]
    assert warnings == ["notarization skipped: appstoreconnect.apple.com cannot be resolved (no network or no DNS). "
                        "hello.dmg is signed but not notarized; build again with network to notarize it"]
    assert dmg.read_bytes() == b"image" and list(tmp_path.glob("*.json")) == []


def test_a_missing_key_is_an_error_even_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KILN_NOTARY_API_KEY", raising=False)
    with pytest.raises(KilnError, match="KILN_NOTARY_API_KEY is not set"):
        notarize_dmg(tmp_path / "x.dmg", DmgSigning(notarize=True), tmp_path, print, print,
                     probe=lambda s: "offline")


def test_reachability_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert unreachable(("kiln-test.invalid", 443)) == "kiln-test.invalid cannot be resolved (no network or no DNS)"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert unreachable(("kiln-test.invalid", 443)) is None  # the library goes through the proxy: no verdict here
