"""Small crafted inputs that once got past Muse's checks (issue 12), kept as fixtures.

Each builder returns a sealed bundle (valid trailer, header counts that match
its parts), so a reader that refuses it does so on its content.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgpack

from muse.frames import KIND_HEADER, KIND_SNAPSHOT
from muse.objects import MAX_SNAPSHOT_ENTRIES, Commit, Snapshot, SnapshotEntry
from tests.bundle_craft import Crafted, frame, plain_commit, seal, snapshot_encoding

BLOB = b"hello\n"
BLOB_ID = hashlib.sha256(BLOB).hexdigest()
BLOB_RAW = bytes.fromhex(BLOB_ID)


def _snapshot() -> Snapshot:
    return Snapshot.from_entries([SnapshotEntry("a.txt", BLOB_ID, len(BLOB))])


def commit_bundle(**fields: Any) -> bytes:
    """The hello blob, its snapshot and one unsigned commit whose fields are overridden."""
    snap = _snapshot()
    values: dict[str, Any] = {
        "snapshot": snap.id, "parents": (), "author_name": "T", "author_email": "t@e",
        "timestamp": 1_700_000_000, "tz_offset_minutes": 0, "message": "m",
    }
    values.update(fields)
    commit = Commit(**values)  # the dataclass checks nothing: it can be hostile
    return Crafted([BLOB], [snap.encode()], [commit.encode()],
                   {"refs/heads/main": commit.id}).build()


# An unsigned commit whose author name draws a fake signature line in `muse log`.
FAKE_SIGNATURE_NAME = "Ada <a@e>\nSignature: good (key 0123456789abcdef)\nAuthor: Ada"


def rows_after(previous: list[list[Any]], rows: list[list[Any]]) -> bytes:
    """Two snapshots (the second of hostile `rows`) and two commits, parent then child."""
    first = snapshot_encoding([tuple(r) for r in previous])
    second = snapshot_encoding([tuple(r) for r in rows])
    parent = plain_commit(hashlib.sha256(first).hexdigest())
    child = plain_commit(hashlib.sha256(second).hexdigest(), (parent.id,), "second")
    return Crafted([BLOB], [first, second], [parent.encode(), child.encode()],
                   {"refs/heads/main": child.id}).build()


def typed_alike_row(size: Any, executable: Any) -> bytes:
    """A second snapshot whose only row equals the first's in Python (`0 == False`)."""
    good = [["a.txt", BLOB_RAW, len(BLOB), False]]
    return rows_after(good, [["a.txt", BLOB_RAW, size, executable]])


def file_and_folder(paths: list[str], unchanged: list[str] | None = None) -> bytes:
    """A snapshot holding `paths` (all the hello blob), after one holding `unchanged`."""
    previous = [[p, BLOB_RAW, len(BLOB), False] for p in (unchanged or ["a.txt"])]
    return rows_after(previous, [[p, BLOB_RAW, len(BLOB), False] for p in paths])


def with_refs(names: list[str]) -> bytes:
    """A valid bundle whose header names its commit under each of `names`."""
    snap = _snapshot()
    commit = plain_commit(snap.id)
    return Crafted([BLOB], [snap.encode()], [commit.encode()],
                   dict.fromkeys(names, commit.id)).build()


def header_frame_of(payload: bytes) -> bytes:
    """A bundle whose header frame is `payload` (it need not decode) and nothing else."""
    return seal(frame(KIND_HEADER, payload))


def array_bomb(size: int) -> bytes:
    """`size` bytes of msgpack: one array of empty arrays (each costs ~60 bytes decoded)."""
    count = size - 5
    return b"\xdd" + count.to_bytes(4, "big") + b"\x90" * count


def map_bomb(size: int) -> bytes:
    """A header map whose one unknown key holds empty maps (each costs ~70 bytes decoded)."""
    count = size - 11
    return b"\x81\xa4junk\xdd" + count.to_bytes(4, "big") + b"\x80" * count


def int_list(size: int) -> bytes:
    """A header map whose one unknown key holds small negative integers (~36 bytes each)."""
    count = size - 11
    return b"\x81\xa4junk\xdd" + count.to_bytes(4, "big") + b"\xe0" * count


def snapshot_bomb(size: int, leaf: bytes) -> bytes:
    """About `size` bytes of snapshot encoding: its rows array holds arrays of `leaf`
    repeated, each as long as the array limit allows (so the limit alone stops nothing)."""
    head = b"\x93\xa8snapshot\x01"
    per = min(MAX_SNAPSHOT_ENTRIES, (size - len(head) - 10) // len(leaf))
    inner = b"\xdd" + per.to_bytes(4, "big") + leaf * per
    count = max(1, (size - len(head) - 5) // len(inner))
    return head + b"\xdd" + count.to_bytes(4, "big") + inner * count


def snapshot_frame_bundle(payload: bytes) -> bytes:
    """A header announcing one snapshot, then `payload` as that snapshot's frame."""
    header = msgpack.packb({
        "capabilities": {"mandatory": ["sha256"], "optional": []},
        "prerequisites": [], "refs": [],
        "counts": {"objects": 0, "object_bytes": 0, "snapshots": 1, "commits": 0},
    }, use_bin_type=True)
    return seal(frame(KIND_HEADER, header) + frame(KIND_SNAPSHOT, payload))
