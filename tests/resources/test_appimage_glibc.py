"""The AppImage runtime says where the app runs: in a Debian 11 root (glibc 2.31), an AppImage of this machine's
Python (glibc 2.36) prints one clear line instead of the loader's "version `GLIBC_2.34' not found".

The Debian 11 root is made once with `debootstrap --variant=minbase bullseye` from Debian's mirror and kept in
the user's cache folder (never in the checkout) for later runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest
from kit.testing import REPO, require_tools

from kiln.installers.appimage import glibc_need, sections
from kiln.installers.appimage.format import elf_end_offset
from kiln.runtimes.glibc import host_version

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bullseye() -> Path:
    """A Debian 11 minbase root, made once (about 40 s to a few minutes) and cached."""
    require_tools("debootstrap", "unshare", "chroot")
    if os.geteuid() != 0:
        pytest.skip("debootstrap and chroot need root")
    root = Path(platformdirs.user_cache_dir("kiln-tests")) / "bullseye-root"
    if not (root / "lib" / "x86_64-linux-gnu" / "libc.so.6").exists():
        partial = root.with_name(root.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(["debootstrap", "--variant=minbase", "bullseye", str(partial), "http://deb.debian.org/debian"],
                       check=True, capture_output=True, timeout=1200)
        shutil.rmtree(root, ignore_errors=True)
        partial.rename(root)
    return root


@pytest.fixture(scope="module")
def host_appimage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small app's AppImage around this machine's Python (python.source = "host")."""
    require_tools("mksquashfs")
    folder = tmp_path_factory.mktemp("glibc-app")
    (folder / "tool").mkdir()
    (folder / "tool" / "__init__.py").write_text("def main():\n    print('started')\n    return 0\n", encoding="utf-8")
    (folder / "kiln.toml").write_text(
        'schema_version = 1\n[app]\nname = "tool"\nversion = "1.0"\n[entry]\nmodule = "tool:main"\n'
        f'[source]\ninclude = ["tool/**"]\n[python]\nversion = "{sys.version_info.major}.{sys.version_info.minor}"\n'
        'source = "host"\n[[installer]]\nkind = "appimage"\n', encoding="utf-8")
    env = {**os.environ, "KILN_CACHE_DIR": str(folder / "cache")}
    result = subprocess.run([sys.executable, "-m", "kiln", "build", str(folder / "kiln.toml")], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (image,) = (folder / "dist").glob("*.AppImage")
    return image


def test_build_records_the_newest_glibc_any_payload_file_needs(host_appimage: Path, tmp_path: Path) -> None:
    """The runtime trusts .kiln_glibc instead of scanning the payload at each start: it must be the newest
    GLIBC_2.N that readelf finds in any ELF file of the payload."""
    require_tools("readelf", "unsquashfs")
    offset = elf_end_offset(host_appimage)
    recorded = glibc_need.read(host_appimage.read_bytes()[:offset])
    subprocess.run(["unsquashfs", "-q", "-o", str(offset), "-d", str(tmp_path / "root"), str(host_appimage)],
                   check=True, capture_output=True)
    newest = 0
    for path in (tmp_path / "root").rglob("*"):
        if path.is_file() and not path.is_symlink() and path.read_bytes()[:4] == b"\x7fELF":
            out = subprocess.run(["readelf", "-V", "-W", str(path)], capture_output=True, text=True).stdout
            newest = max([newest, *(int(n) for n in re.findall(r"Name: GLIBC_2\.(\d+)", out))])
    assert newest > 0 and recorded == f"2.{newest}"


def test_host_appimage_says_which_glibc_it_needs(bullseye: Path, host_appimage: Path, tmp_path: Path) -> None:
    # Here (the build machine) it runs; its start cache, if any, stays in tmp_path.
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    here = subprocess.run([str(host_appimage)], capture_output=True, text=True, timeout=120, env=env)
    assert here.returncode == 0 and here.stdout == "started\n", here.stderr
    # In Debian 11 it stops before Python with one line naming what it needs and what the system has.
    target = bullseye / "tmp" / host_appimage.name
    shutil.copy(host_appimage, target)
    script = f'mount -t proc proc "{bullseye}/proc" && exec chroot "{bullseye}" /usr/bin/env -i HOME=/tmp ' \
             f"PATH=/usr/bin:/bin APPIMAGE_EXTRACT_AND_RUN=1 /tmp/{host_appimage.name}"
    there = subprocess.run(["unshare", "--mount", "--fork", "sh", "-c", script], capture_output=True, text=True,
                           timeout=300)
    need = host_version()
    assert need == "2.36", "this test expects a Debian 12 build machine"
    assert there.returncode == 127
    assert there.stdout == ""
    assert there.stderr == (f"{host_appimage.name}: this app needs a Linux with glibc {need} or newer, e.g. Debian 12, "
                            "Ubuntu 24.04; this system has 2.31\n")
    assert "GLIBC_2.34' not found" not in there.stderr

    # An AppImage whose runtime has no recorded version (section left empty) reads the payload's needs at start.
    unrecorded = bullseye / "tmp" / ("unrecorded-" + host_appimage.name)
    data = host_appimage.read_bytes()
    offset = elf_end_offset(host_appimage)
    unrecorded.write_bytes(sections.blank(data[:offset], glibc_need.SECTION) + data[offset:])
    unrecorded.chmod(0o755)
    script = script.replace(f"/tmp/{host_appimage.name}", f"/tmp/{unrecorded.name}")
    scanned = subprocess.run(["unshare", "--mount", "--fork", "sh", "-c", script], capture_output=True, text=True,
                             timeout=300)
    assert scanned.returncode == 127
    assert scanned.stderr == there.stderr.replace(host_appimage.name, unrecorded.name)
