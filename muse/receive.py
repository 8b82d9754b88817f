"""Receiving a bundle into a store: verify all of it, then keep it whole as a pack.

The bundle is copied to a temporary file while it is read and verified; only
when the trailer checks out is it renamed into `packs/` with its index. A bad
bundle leaves nothing behind. Refs are the caller's business, and come last.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from .bundle import BundleReader, BundleSummary, Progress, VerifiedCommit
from .store import ObjectStore, PackEntry

# Called once the whole bundle has verified and before the pack is installed, with
# the summary and each carried commit's parents; raising here installs nothing.
BeforeInstall = Callable[[BundleSummary, Mapping[str, tuple[str, ...]]], None]


@dataclass(frozen=True)
class Received:
    summary: BundleSummary
    new_items: int  # objects, snapshots and commits the store did not have before


def receive_bundle(store: ObjectStore, source: BinaryIO, *, progress: Progress | None = None,
                   require_signatures: bool = False,
                   before_install: BeforeInstall | None = None) -> Received:
    """Verify the bundle in `source` against `store` and install it as a pack."""
    tmp = store.new_tmp_file(".bundle")
    try:
        entries: list[PackEntry] = []
        parents: dict[str, tuple[str, ...]] = {}
        with open(tmp, "wb") as pack:
            reader = BundleReader(source, store=store, sink=pack.write, progress=progress,
                                  require_signatures=require_signatures)
            for item in reader.items():
                if isinstance(item, VerifiedCommit):
                    parents[item.oid] = item.commit.parents
                if not store.has(item.oid):
                    entries.append(PackEntry(item.oid, item.offset, item.size))
        summary = reader.summary
        assert summary is not None
        if before_install is not None:
            before_install(summary, parents)
        if entries:
            store.add_pack(tmp, entries, summary.bundle_id)
        return Received(summary, len(entries))
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
