"""The frame: the unit of a bundle and of a stored pack (kind byte + u32 length + payload).

Both the bundle reader/writer and the object store's pack reader speak frames,
so the layout lives here, below both. docs/bundle-format.md is the spec.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from .errors import CorruptObjectError

HEADER = struct.Struct(">BI")
HEADER_SIZE = HEADER.size

KIND_HEADER = ord("H")     # bundle header (msgpack)
KIND_OBJECT = ord("O")     # object start: 32-byte id + u64 size; data frames follow
KIND_DATA = ord("D")       # a chunk of the current object's bytes
KIND_SNAPSHOT = ord("S")   # a snapshot's canonical encoding
KIND_COMMIT = ord("C")     # a commit's canonical encoding
KIND_TAG = ord("G")        # a tag object's canonical encoding (capability "tags")
KIND_TRAILER = ord("T")    # frame count + sha256 of everything before the trailer

MAX_FRAME_PAYLOAD = 64 << 20  # no frame may declare more; bounds a reader's memory
DATA_CHUNK = 1 << 20          # what writers put in one data frame


def encode_header(kind: int, length: int) -> bytes:
    return HEADER.pack(kind, length)


def read_stored(handle: BinaryIO, offset: int, size: int) -> Iterator[bytes]:
    """Yield an object's bytes from a pack: frames starting at `offset` until `size` bytes.

    Used for objects whose location came from a pack index written by Muse after
    the pack verified; a mismatch here means the pack or index changed on disk.
    """
    handle.seek(offset)
    remaining = size
    while remaining > 0:
        head = handle.read(HEADER_SIZE)
        if len(head) != HEADER_SIZE:
            raise CorruptObjectError("pack ends inside an object")
        kind, length = HEADER.unpack(head)
        if kind not in (KIND_DATA, KIND_SNAPSHOT, KIND_COMMIT, KIND_TAG) or length > remaining:
            raise CorruptObjectError("pack index points at something that is not the object")
        payload = handle.read(length)
        if len(payload) != length:
            raise CorruptObjectError("pack ends inside an object")
        remaining -= length
        yield payload
