"""How much the readers of built artifacts (`kiln inspect`, the tests' read-backs) accept from a file.

An artifact can come from anywhere (`kiln inspect` of a download), so what its headers declare is checked against
these before anything is allocated or inflated: a 1 KB file must not make Kiln reserve a terabyte, and a 1 MB one
must not make it inflate a gigabyte. The project file's own limits are beside its fields (kiln.model.project).
"""

from __future__ import annotations

MiB = 1 << 20
GiB = 1 << 30

INFLATED_MAX_BYTES = 32 * GiB
"""The most a disk image may unpack to in all (the sum of what its chunk tables declare). A Kiln DMG unpacks to
its app plus a little free space, well under a few GiB; past this, reading it would take many minutes."""

CHUNK_MAX_BYTES = 16 * MiB
"""The most one stored chunk of a disk image may hold (declared inflated size, and bytes stored). Kiln writes
1 MiB chunks and hdiutil smaller ones; a chunk is inflated whole in memory, so this bounds the reader's memory."""

WHOLE_READ_MAX_BYTES = 512 * MiB
"""`read_partition` / `read_image` return a whole partition as one bytes object: only for images up to this."""

PLIST_MAX_BYTES = 16 * MiB
"""A disk image's XML plist (its chunk tables): a few hundred KB for a Kiln DMG of several GiB."""

APPIMAGE_RUNTIME_MAX_BYTES = 64 * MiB
"""The ELF runtime at the start of an AppImage is read whole (its version and notes are found in its bytes); Kiln's
is about 2 MB, the AppImage project's under 1 MB."""

ARCHIVE_MEMBERS_MAX = 1_000_000
"""Members of a portable .tar.zst that `kiln inspect` reads before refusing: a bundle holds tens of thousands, and
past a million the listing alone would take minutes."""


TOOL_OUTPUT_MAX_BYTES = 256 * MiB
"""What a tool listing an artifact (msiinfo, unsquashfs -lls, 7-Zip) may print before it is stopped: a Kiln
artifact lists in a few MB, and the output is read into memory whole."""
