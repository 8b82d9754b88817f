"""Receiving a bundle into a store: verify all of it, then keep it whole as a pack.

The bundle is copied to a temporary file while it is read and verified; only
when the trailer checks out is it renamed into `packs/` with its index. A bad
bundle leaves nothing behind. Refs are the caller's business, and come last.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import BinaryIO

from .bundle import BundleReader, BundleSummary, Progress
from .store import ObjectStore, PackEntry


@dataclass(frozen=True)
class Received:
    summary: BundleSummary
    new_items: int  # objects, snapshots and commits the store did not have before


def receive_bundle(store: ObjectStore, source: BinaryIO, *, progress: Progress | None = None,
                   require_signatures: bool = False) -> Received:
    """Verify the bundle in `source` against `store` and install it as a pack."""
    tmp = store.new_tmp_file(".bundle")
    try:
        with open(tmp, "wb") as pack:
            reader = BundleReader(source, store=store, sink=pack.write, progress=progress,
                                  require_signatures=require_signatures)
            entries = [PackEntry(item.oid, item.offset, item.size)
                       for item in reader.items() if not store.has(item.oid)]
        summary = reader.summary
        assert summary is not None
        if entries:
            store.add_pack(tmp, entries, summary.bundle_id)
        return Received(summary, len(entries))
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
