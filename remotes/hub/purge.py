"""Purging a takedown's bytes: each pack holding them is rewritten without them.

The rewritten pack keeps every other object, snapshot and commit (its
snapshots still name the purged objects, which it now leaves out); its index
rows replace the old pack's in one transaction, and the old bytes are deleted
unless another repository's index still names them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from muse.bundle import (
    BundlePlan,
    BundleReader,
    BundleSummary,
    VerifiedCommit,
    VerifiedObject,
    VerifiedSnapshot,
    write_bundle,
)
from muse.errors import CorruptObjectError
from muse.frames import read_stored


class _PackObjects:
    """The objects of a local pack file, read by offset (an ObjectSource for the writer)."""

    def __init__(self, path: Path, rows: dict[str, tuple[int, int]]) -> None:
        self._path = path
        self._rows = rows

    def read(self, oid: str) -> bytes:
        return b"".join(self.iter_chunks(oid))

    def iter_chunks(self, oid: str, *, verify: bool = True) -> Iterator[bytes]:
        offset, size = self._rows[oid]
        digest = hashlib.sha256()
        with open(self._path, "rb") as handle:
            for chunk in read_stored(handle, offset, size):
                digest.update(chunk)
                yield chunk
        if verify and digest.hexdigest() != oid:
            raise CorruptObjectError(f"object {oid} changed in its pack while purging")


def rewrite_without(pack: Path, drop: set[str], out: Path) -> tuple[BundleSummary,
                                                                     dict[str, tuple[str, ...]]]:
    """Write `pack` less the objects in `drop` to `out`; its summary and commits' parents."""
    with open(pack, "rb") as source:
        reader = BundleReader(source)
        header = reader.read_header()
        items = list(reader.items())
        summary = reader.summary
        assert summary is not None
        encodings: dict[str, bytes] = {}
        for item in items:
            if isinstance(item, VerifiedSnapshot):
                encodings[item.oid] = item.encoding
            elif isinstance(item, VerifiedCommit):
                encodings[item.oid] = b"".join(read_stored(source, item.offset, item.size))
    blobs = [i for i in items if isinstance(i, VerifiedObject)]
    commits = [i for i in items if isinstance(i, VerifiedCommit)]
    plan = BundlePlan(refs=header.refs, commits=[c.oid for c in commits],
                      prerequisites=list(header.prerequisites),
                      snapshots=[i.oid for i in items if isinstance(i, VerifiedSnapshot)],
                      objects=[(b.oid, b.size) for b in blobs if b.oid not in drop],
                      signed=summary.signatures_good, encodings=encodings)
    source_objects = _PackObjects(pack, {b.oid: (b.offset, b.size) for b in blobs})
    with open(out, "wb") as written:
        rewritten = write_bundle(source_objects, plan, written)
    return rewritten, {c.oid: c.commit.parents for c in commits}
