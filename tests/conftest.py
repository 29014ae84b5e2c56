"""What every test run shares."""

from __future__ import annotations

import os

# An AppImage a test runs with the environment it inherited (the real HOME) must not leave a start cache copy in the
# user's cache folder: the cache is off for those starts. Tests of the cache give each start their own HOME and
# XDG_CACHE_HOME (and leave this variable out).
os.environ["APPIMAGE_KILN_CACHE"] = "0"
