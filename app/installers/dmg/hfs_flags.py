"""Finder flags xorriso cannot set: the root folder's "has custom icon", which makes Finder use `.VolumeIcon.icns`.

The flag is a bit in the root folder's catalog record (HFSPlusCatalogFolder.userInfo.frFlags). The volume has no
journal and B-tree nodes carry no checksums, so flipping the bit in place is all a Mac's own tools would do.
"""

from __future__ import annotations

import struct
from typing import IO

from kiln.support.errors import KilnError

HAS_CUSTOM_ICON = 0x0400  # kHasCustomIcon in Finder's frFlags
ROOT_FOLDER_ID = 2
_CATALOG_FORK = 272  # offset of catalogFile (HFSPlusForkData) in the volume header
_FOLDER_RECORD = 1
_FR_FLAGS = 56  # userInfo (FolderInfo) starts 48 bytes into the folder record, frFlags after its 8-byte Rect
_LEAF_NODE = -1


def set_root_custom_icon(image: IO[bytes], volume_offset: int) -> None:
    """Set kHasCustomIcon on the root folder of the HFS+ volume starting at byte `volume_offset` of `image`."""
    image.seek(volume_offset + 1024)
    header = image.read(512)
    if header[:2] not in (b"H+", b"HX"):
        raise KilnError("no HFS+ volume where the Finder flags were to be set")
    block_size: int = struct.unpack(">I", header[40:44])[0]
    fork = header[_CATALOG_FORK:_CATALOG_FORK + 80]
    extents: list[tuple[int, int]] = [struct.unpack(">II", fork[16 + 8 * i:24 + 8 * i]) for i in range(8)]
    spans = [(volume_offset + start * block_size, count * block_size) for start, count in extents if count]

    def at(position: int) -> int:
        """The image offset of byte `position` of the catalog file."""
        for offset, length in spans:
            if position < length:
                return offset + position
            position -= length
        raise KilnError("the HFS+ catalog is shorter than its B-tree says")

    image.seek(at(0))
    head = image.read(64)
    # After the 14-byte node descriptor, the header record: firstLeafNode at 10, nodeSize at 18.
    first_leaf, = struct.unpack(">I", head[14 + 10:14 + 14])
    node_size, = struct.unpack(">H", head[14 + 18:14 + 20])
    node = first_leaf
    while node:
        image.seek(at(node * node_size))
        data = image.read(node_size)
        forward, _, kind, _, count = struct.unpack(">IIbBH", data[:12])
        if kind != _LEAF_NODE:
            raise KilnError("the HFS+ catalog's leaf chain is broken")
        for index in range(count):
            start = struct.unpack(">H", data[node_size - 2 * (index + 1):node_size - 2 * index])[0]
            key_length = struct.unpack(">H", data[start:start + 2])[0]
            record = start + 2 + key_length
            kind_of_record, = struct.unpack(">h", data[record:record + 2])
            folder_id = struct.unpack(">I", data[record + 8:record + 12])[0]
            if kind_of_record == _FOLDER_RECORD and folder_id == ROOT_FOLDER_ID:
                flags = struct.unpack(">H", data[record + _FR_FLAGS:record + _FR_FLAGS + 2])[0]
                image.seek(at(node * node_size + record + _FR_FLAGS))
                image.write(struct.pack(">H", flags | HAS_CUSTOM_ICON))
                return
        node = forward
    raise KilnError("the HFS+ catalog has no root folder record")
