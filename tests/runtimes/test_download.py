"""Verified downloads over a loopback HTTP server: checksums, interruptions, retries, HTTP and network errors."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any

import pytest

from kiln.runtimes.download import download
from kiln.support.errors import KilnError

BODY = bytes(range(256)) * 4096  # 1 MiB


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_reports_progress(mirror: Any, tmp_path: Path) -> None:
    mirror.files["/mirror/a.tar.gz"] = BODY
    seen: list[float] = []
    dest = tmp_path / "dl" / "a.tar.gz"
    assert download(f"{mirror.base_url}/a.tar.gz", dest, _sha(BODY), lambda f, m: seen.append(f)) == dest
    assert dest.read_bytes() == BODY
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    assert _leftovers(dest.parent) == ["a.tar.gz"]


def test_checksum_mismatch_is_refused_and_nothing_is_kept(mirror: Any, tmp_path: Path) -> None:
    mirror.files["/mirror/a.tar.gz"] = BODY
    dest = tmp_path / "dl" / "a.tar.gz"
    with pytest.raises(KilnError, match="checksum mismatch") as error:
        download(f"{mirror.base_url}/a.tar.gz", dest, _sha(b"something else"))
    assert "discarded" in error.value.message
    assert _leftovers(dest.parent) == []


def test_interrupted_download_leaves_nothing_and_a_retry_works(mirror: Any, tmp_path: Path) -> None:
    mirror.files["/mirror/a.tar.gz"] = BODY
    mirror.truncate.add("/mirror/a.tar.gz")
    dest = tmp_path / "dl" / "a.tar.gz"
    with pytest.raises(KilnError, match="interrupted") as error:
        download(f"{mirror.base_url}/a.tar.gz", dest, _sha(BODY))
    assert "run the command again" in (error.value.hint or "")
    assert _leftovers(dest.parent) == []
    download(f"{mirror.base_url}/a.tar.gz", dest, _sha(BODY))
    assert dest.read_bytes() == BODY
    assert len(mirror.hits) == 2


def test_http_404_names_the_mirror(mirror: Any, tmp_path: Path) -> None:
    with pytest.raises(KilnError, match="HTTP 404") as error:
        download(f"{mirror.base_url}/missing.tar.gz", tmp_path / "x", _sha(BODY))
    assert "PBS_INSTALLER_BASE_URL" in (error.value.hint or "")
    assert _leftovers(tmp_path) == []


def test_unreachable_server_suggests_offline_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(KilnError, match="cannot download") as error:
        download(f"http://127.0.0.1:{port}/a.tar.gz", tmp_path / "a", _sha(BODY))
    assert "kiln runtimes add" in (error.value.hint or "")
    assert _leftovers(tmp_path) == []


def test_timeout_is_a_kiln_error(mirror: Any, tmp_path: Path) -> None:
    mirror.files["/mirror/slow.tar.gz"] = BODY
    mirror.stall["/mirror/slow.tar.gz"] = 2.0
    with pytest.raises(KilnError, match="timed out") as error:
        download(f"{mirror.base_url}/slow.tar.gz", tmp_path / "slow", _sha(BODY), timeout=0.3)
    assert "kiln runtimes add" in (error.value.hint or "")
    assert _leftovers(tmp_path) == []


def test_missing_checksum_is_refused_before_any_request(mirror: Any, tmp_path: Path) -> None:
    mirror.files["/mirror/a.tar.gz"] = BODY
    with pytest.raises(KilnError, match="no sha256"):
        download(f"{mirror.base_url}/a.tar.gz", tmp_path / "a", None)
    assert mirror.hits == []
