"""A disk that fills up is named in the message: the path being written, with the free space of its own disk."""

from __future__ import annotations

import sys
from pathlib import Path

from kit.disk import on_small_disk

_COPY = """
import shutil, sys
from pathlib import Path
from kiln.support.oserrors import user_error
try:
    shutil.copyfile(sys.argv[1], sys.argv[2])
except OSError as error:
    found = user_error(error)
    print(found.message if found else f"not a user error: {error!r}")
"""


def test_a_copy_that_fills_the_disk_names_the_destination(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"  # on the roomy disk
    source.write_bytes(bytes(6 << 20))
    small = tmp_path / "small"
    done = on_small_disk(small, 4, [sys.executable, "-c", _COPY, str(source), str(small / "copy.bin")])
    assert done.returncode == 0, done.stderr
    # shutil reports the source as the error's first file name: the message must not blame it
    assert done.stdout.strip() == f"{small / 'copy.bin'}: no space left on the device (0 bytes free there)"
