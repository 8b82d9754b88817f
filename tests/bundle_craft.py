"""Test helpers: parse a bundle's frames, and craft bundles (with valid trailers) byte by byte.

Crafted bundles carry a correct frame count and checksum, so a reader that
refuses them must do so on their content, not on the trailer.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from muse.bundle import MAGIC, OBJECT_START, TRAILER, VERSION
from muse.frames import (
    HEADER,
    KIND_COMMIT,
    KIND_DATA,
    KIND_HEADER,
    KIND_OBJECT,
    KIND_SNAPSHOT,
    KIND_TRAILER,
)
from muse.objects import canonical_pack


@dataclass(frozen=True)
class Frame:
    offset: int  # of the 5-byte frame header
    kind: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + 5 + self.length


def parse_frames(data: bytes, *, strict: bool = True) -> list[Frame]:
    """Every frame of a well-formed bundle, in order (the preamble is the first 10 bytes).

    With strict=False, stop quietly at the first frame that does not fit (damaged input).
    """
    frames = []
    pos = len(MAGIC) + 2
    while pos + 5 <= len(data):
        kind, length = HEADER.unpack_from(data, pos)
        if pos + 5 + length > len(data):
            break
        frames.append(Frame(pos, kind, length))
        pos += 5 + length
    assert not strict or pos == len(data)
    return frames


def frame(kind: int, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def object_frames(data: bytes, oid: str | None = None, size: int | None = None,
                  chunk: int = 1 << 20) -> bytes:
    """An object start frame and its data frames; `oid`/`size` override the true ones."""
    raw_id = bytes.fromhex(oid or hashlib.sha256(data).hexdigest())
    out = frame(KIND_OBJECT, OBJECT_START.pack(raw_id, len(data) if size is None else size))
    for start in range(0, len(data), chunk):
        out += frame(KIND_DATA, data[start : start + chunk])
    return out


def snapshot_encoding(rows: Sequence[tuple[Any, Any, Any, Any]]) -> bytes:
    """A snapshot encoding from raw rows, with no validation (so it can be hostile)."""
    return canonical_pack(["snapshot", 1, [list(r) for r in rows]])


def header(*, refs: dict[str, str] | None = None, prerequisites: Sequence[str] = (),
           mandatory: Sequence[str] = ("sha256",), optional: Sequence[str] = (),
           objects: int = 0, object_bytes: int = 0, snapshots: int = 0,
           commits: int = 0) -> bytes:
    return msgpack.packb({
        "capabilities": {"mandatory": list(mandatory), "optional": list(optional)},
        "prerequisites": [bytes.fromhex(p) for p in prerequisites],
        "refs": [[name, bytes.fromhex(oid)] for name, oid in sorted((refs or {}).items())],
        "counts": {"objects": objects, "object_bytes": object_bytes,
                   "snapshots": snapshots, "commits": commits},
    }, use_bin_type=True)


def seal(body: bytes, *, magic: bytes = MAGIC, version: int = VERSION) -> bytes:
    """Preamble + `body` (header frame first) + a trailer with the right count and digest."""
    start = magic + struct.pack(">H", version) + body
    count = len(parse_frames(MAGIC + struct.pack(">H", VERSION) + body))
    digest = hashlib.sha256(start).digest()
    return start + frame(KIND_TRAILER, TRAILER.pack(count, digest))


@dataclass
class Crafted:
    """A bundle built from parts; counts in the header follow the parts unless overridden."""

    objects: list[bytes]
    snapshots: list[bytes]
    commits: list[bytes]
    refs: dict[str, str]
    prerequisites: Sequence[str] = ()
    mandatory: Sequence[str] = ("sha256",)
    header_overrides: dict[str, int] | None = None

    def build(self) -> bytes:
        counts = {"objects": len(self.objects),
                  "object_bytes": sum(len(o) for o in self.objects),
                  "snapshots": len(self.snapshots), "commits": len(self.commits)}
        counts.update(self.header_overrides or {})
        body = frame(KIND_HEADER, header(
            refs=self.refs, prerequisites=self.prerequisites, mandatory=self.mandatory,
            objects=counts["objects"], object_bytes=counts["object_bytes"],
            snapshots=counts["snapshots"], commits=counts["commits"]))
        for data in self.objects:
            body += object_frames(data)
        for enc in self.snapshots:
            body += frame(KIND_SNAPSHOT, enc)
        for enc in self.commits:
            body += frame(KIND_COMMIT, enc)
        return seal(body)


def plain_commit(snapshot: str, parents: tuple[str, ...] = (), message: str = "m") -> Any:
    """An unsigned commit with fixed author and time."""
    from muse.objects import Commit

    return Commit(snapshot=snapshot, parents=parents, author_name="T", author_email="t@e",
                  timestamp=1_700_000_000, tz_offset_minutes=0, message=message)


def valid_parts() -> tuple[bytes, bytes, Any]:
    """One blob, a snapshot holding it as a.txt, and an unsigned commit of that snapshot."""
    from muse.objects import Snapshot, SnapshotEntry

    blob = b"hello\n"
    snap = Snapshot.from_entries([SnapshotEntry("a.txt", hashlib.sha256(blob).hexdigest(),
                                                len(blob))])
    return blob, snap.encode(), plain_commit(snap.id)


def with_snapshot_rows(rows: Sequence[tuple[Any, Any, Any, Any]]) -> bytes:
    """A sealed bundle: the hello blob, a snapshot of hostile `rows`, a commit of it."""
    blob = b"hello\n"
    enc = snapshot_encoding(rows)
    commit = plain_commit(hashlib.sha256(enc).hexdigest())
    return Crafted([blob], [enc], [commit.encode()], {"refs/heads/main": commit.id}).build()
