"""AppImage update information (.upd_info) and the .zsync file: read back by the runtime, by lief and readelf, and
used by zsync's own client against a loopback HTTP server to turn an old AppImage into the new one."""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import lief
import pytest
from kit import appimage as T
from kit.testing import find_tool as need
from pydantic import ValidationError

from kiln.installers.appimage import update
from kiln.installers.appimage.format import runtime_path
from kiln.installers.appimage.installer import describe
from kiln.installers.appimage.options import AppImageOptions
from kiln.support.errors import KilnError


def tiny_appimage(root: Path, options: AppImageOptions, data: str = "payload data\n") -> Path:
    root.mkdir(parents=True)
    staged = T.tiny_staged(root)
    (staged.bundle / "app" / "data.txt").write_text(data * 2000, encoding="utf-8")  # something for zsync to reuse
    return Path(T.tiny_build(root, staged, options))


def section_with_lief(path: Path) -> bytes:
    binary = lief.ELF.parse(str(path))
    assert binary is not None
    section = binary.get_section(".upd_info")
    assert section is not None
    return bytes(section.content)


# -- the model and the text ---------------------------------------------------------------------------------------


def test_update_information_from_url_or_verbatim() -> None:
    assert update.update_information("https://example.org/dl/", "", "App.AppImage") == \
        "zsync|https://example.org/dl/App.AppImage.zsync"
    assert update.update_information("https://example.org/dl", "", "App.AppImage") == \
        "zsync|https://example.org/dl/App.AppImage.zsync"
    verbatim = "gh-releases-zsync|me|app|latest|App-*x86_64.AppImage.zsync"
    assert update.update_information("", verbatim, "App.AppImage") == verbatim
    assert update.update_information("", "", "App.AppImage") == ""


@pytest.mark.parametrize("fields", [
    pytest.param({"update_url": "ftp://example.org/"}, id="not-http"),
    pytest.param({"update_url": "https://example.org/a b/"}, id="space"),
    pytest.param({"update_url": "https://example.org/|x"}, id="pipe"),
    pytest.param({"update_information": "http://example.org/App.zsync"}, id="no-transport"),
    pytest.param({"update_information": "zsync|https://x/\nA.zsync"}, id="two-lines"),
    pytest.param({"update_information": "zsync|" + "x" * 1100}, id="too-long"),
    pytest.param({"update_url": "https://example.org/", "update_information": "zsync|https://x/A.zsync"}, id="both"),
])
def test_bad_update_settings_are_refused_with_the_field(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as raised:
        AppImageOptions(**fields)  # type: ignore[arg-type]
    fields_named = {str(e["loc"][0]) for e in raised.value.errors() if e["loc"]}
    assert set(fields) & fields_named or "update_url or update_information, not both" in str(raised.value)


def test_text_longer_than_the_section_is_a_kiln_error() -> None:
    runtime = runtime_path().read_bytes()
    with pytest.raises(KilnError, match="room for 1023"):
        update.embed(runtime, "zsync|" + "x" * 1200)


def test_bare_runtime_has_an_empty_1024_byte_section() -> None:
    runtime = runtime_path()
    assert section_with_lief(runtime) == bytes(1024)
    assert update.section_range(runtime.read_bytes()) is not None and update.read(runtime.read_bytes()) == ""


# -- a built AppImage -----------------------------------------------------------------------------------------------


def test_update_information_is_read_back_by_the_runtime_lief_readelf_and_inspect(tmp_path: Path) -> None:
    need("mksquashfs")
    need("zsyncmake")
    image = tiny_appimage(tmp_path / "a", AppImageOptions(update_url="https://example.org/downloads/"))
    expected = "zsync|https://example.org/downloads/tiny-2.0-linux-x86_64.AppImage.zsync"
    printed = subprocess.run([str(image), "--appimage-updateinformation"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    assert printed == expected + "\n"
    assert section_with_lief(image) == expected.encode().ljust(1024, b"\0")
    dump = subprocess.run([need("readelf"), "-p", ".upd_info", str(image)], capture_output=True, text=True,
                          check=True).stdout
    assert expected in dump
    assert f"updates:  {expected}" in describe(image)
    assert "(the one this Kiln ships)" in describe(image)  # the shipped runtime, bar the filled-in section
    header = (image.parent / (image.name + ".zsync")).read_bytes().split(b"\n\n", 1)[0].decode()
    assert "Filename: tiny-2.0-linux-x86_64.AppImage" in header and "URL: tiny-2.0-linux-x86_64.AppImage" in header
    assert "MTime" not in header  # the build time would make two builds differ


def test_verbatim_update_information_and_none(tmp_path: Path) -> None:
    need("mksquashfs")
    need("zsyncmake")
    verbatim = "gh-releases-zsync|example|tiny|latest|tiny-*x86_64.AppImage.zsync"
    image = tiny_appimage(tmp_path / "gh", AppImageOptions(update_information=verbatim))
    assert section_with_lief(image).rstrip(b"\0") == verbatim.encode()
    assert (image.parent / (image.name + ".zsync")).exists()
    plain = tiny_appimage(tmp_path / "plain", AppImageOptions())
    assert section_with_lief(plain) == bytes(1024)
    assert subprocess.run([str(plain), "--appimage-updateinformation"], capture_output=True, text=True,
                          timeout=60).stdout == "\n"
    assert "updates:  none" in describe(plain)
    assert not (plain.parent / (plain.name + ".zsync")).exists()


# -- zsync's own client updates an old AppImage from a loopback server ---------------------------------------------


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP Range support (single and multiple ranges), as zsync needs and web servers give."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        header = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not header.startswith("bytes=") or not path.is_file():
            super().do_GET()
            return
        data = path.read_bytes()
        ranges = []
        for part in header[len("bytes="):].split(","):
            first, _, last = part.strip().partition("-")
            start = int(first) if first else len(data) - int(last)
            end = min(int(last), len(data) - 1) if first and last else len(data) - 1
            ranges.append((start, end))
        self.send_response(206)
        if len(ranges) == 1:
            start, end = ranges[0]
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            self.wfile.write(data[start:end + 1])
            return
        boundary = "kilnzsyncboundary"
        body = b"\r\n" + b"".join(  # zsync, like RFC 2046, reads a line break before every boundary line
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Range: bytes {start}-{end}/{len(data)}\r\n\r\n".encode() + data[start:end + 1] + b"\r\n"
            for start, end in ranges) + f"--{boundary}--\r\n".encode()
        self.send_header("Content-Type", f"multipart/byteranges; boundary={boundary}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "published"
    folder.mkdir()

    def handler(*args: object, **kwargs: object) -> RangeHandler:
        return RangeHandler(*args, directory=str(folder), **kwargs)  # type: ignore[arg-type]

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", folder
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_zsync_turns_the_old_appimage_into_the_new_one(tmp_path: Path, server: tuple[str, Path]) -> None:
    need("mksquashfs")
    need("zsyncmake")
    zsync = need("zsync")
    url, published = server
    options = AppImageOptions(update_url=url, output_name="tiny")  # one stable name: the URL never changes
    old = tiny_appimage(tmp_path / "v1", options, "version one\n")
    new = tiny_appimage(tmp_path / "v2", options, "version two\n")
    again = tiny_appimage(tmp_path / "v2-again", options, "version two\n")
    assert (new.parent / "tiny.AppImage.zsync").read_bytes() == (again.parent / "tiny.AppImage.zsync").read_bytes()
    assert old.read_bytes() != new.read_bytes()
    for file in (new, new.parent / "tiny.AppImage.zsync"):
        shutil.copy(file, published / file.name)
    # What an updater does: read the old AppImage's update information, fetch the .zsync, reuse the old blocks.
    info = subprocess.run([str(old), "--appimage-updateinformation"], capture_output=True, text=True, timeout=60,
                          check=True).stdout.strip()
    transport, zsync_url = info.split("|", 1)
    assert (transport, zsync_url) == ("zsync", f"{url}tiny.AppImage.zsync")
    work = tmp_path / "update"
    work.mkdir()
    result = subprocess.run([zsync, "-i", str(old), "-o", str(work / "tiny.AppImage"), zsync_url],
                            cwd=work, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (work / "tiny.AppImage").read_bytes() == new.read_bytes()
    assert "checksum matches OK" in result.stdout + result.stderr
    used, fetched = map(int, re.search(r"used (\d+) local, fetched (\d+)", result.stdout + result.stderr).groups())
    assert used > new.stat().st_size // 2 and fetched < new.stat().st_size // 2  # a delta, not a download
