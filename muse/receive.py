"""Receiving a bundle into a store: verify all of it, then keep it whole as a pack.

The bundle is copied to a temporary file while it is read and verified (or,
when it already is a file on the same filesystem, hard-linked there and read
in place: a local push then writes its bytes once, not twice); only when the
trailer checks out is it renamed into `packs/` with its index. A bad bundle
leaves nothing behind. Refs are the caller's business, and come last.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .bundle import BundleReader, BundleSummary, Progress, VerifiedCommit, VerifiedSnapshot
from .errors import CorruptObjectError
from .frames import read_stored
from .objects import Snapshot, decode_snapshot, hash_bytes
from .storage import BLOB, COMMIT, SNAPSHOT
from .store import ObjectStore, PackEntry


@dataclass(frozen=True)
class Received:
    summary: BundleSummary
    new_items: int  # objects, snapshots and commits the store did not have before


class Pending:
    """A bundle that has verified but is not installed yet: what a last check may look at."""

    def __init__(self, summary: BundleSummary, store: ObjectStore, pack: Path,
                 entries: dict[str, PackEntry], commits: dict[str, tuple[str, ...]],
                 snapshots: dict[str, str]) -> None:
        self.summary = summary
        self.parents = commits      # each carried commit's parents
        self._snapshots = snapshots  # each carried commit's snapshot id
        self._store = store
        self._pack = pack
        self._entries = entries

    def snapshot_of(self, commit_id: str) -> Snapshot:
        """The snapshot of a commit in the bundle or already in the store."""
        snap_id = self._snapshots.get(commit_id)
        if snap_id is None:
            snap_id = self._store.read_commit(commit_id).snapshot
        entry = self._entries.get(snap_id)
        if entry is None:
            return self._store.read_snapshot(snap_id)
        with open(self._pack, "rb") as handle:
            data = b"".join(read_stored(handle, entry.offset, entry.size))
        if hash_bytes(data) != snap_id:
            raise CorruptObjectError(f"snapshot {snap_id} changed on disk while receiving")
        return decode_snapshot(data)


# Called once the whole bundle has verified and before the pack is installed;
# raising here installs nothing.
BeforeInstall = Callable[[Pending], None]


def receive_bundle(store: ObjectStore, source: BinaryIO, *, progress: Progress | None = None,
                   require_signatures: bool = False,
                   before_install: BeforeInstall | None = None) -> Received:
    """Verify the bundle in `source` against `store` and install it as a pack."""
    tmp = store.new_tmp_file(".bundle")
    try:
        entries: dict[str, PackEntry] = {}
        parents: dict[str, tuple[str, ...]] = {}
        snapshots: dict[str, str] = {}
        adopted = _adopt_file(source, tmp)
        with contextlib.ExitStack() as stack:
            sink = None if adopted else stack.enter_context(open(tmp, "wb")).write
            reader = BundleReader(source, store=store, sink=sink, progress=progress,
                                  require_signatures=require_signatures)
            for item in reader.items():
                if isinstance(item, VerifiedCommit):
                    parents[item.oid] = item.commit.parents
                    snapshots[item.oid] = item.commit.snapshot
                if item.oid not in entries and not store.has(item.oid):
                    kind = (COMMIT if isinstance(item, VerifiedCommit) else
                            SNAPSHOT if isinstance(item, VerifiedSnapshot) else BLOB)
                    entries[item.oid] = PackEntry(item.oid, item.offset, item.size, kind)
        summary = reader.summary
        assert summary is not None
        if before_install is not None:
            before_install(Pending(summary, store, tmp, entries, parents, snapshots))
        if entries:
            store.put_pack(summary.bundle_id, tmp, list(entries.values()))
        return Received(summary, len(entries))
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _adopt_file(source: BinaryIO, tmp: Path) -> bool:
    """Hard-link `source` to `tmp` when it is a disposable regular file read from its start.

    The link shares the inode, so the bytes verified are the bytes installed.
    Only a file marked `disposable` (a sender's private temporary file, never
    written again) may be shared: a user's bundle file could be rewritten in
    place later. Any other case (a pipe, another filesystem) is copied.
    """
    name = getattr(source, "name", None)
    if getattr(source, "disposable", False) is not True or not isinstance(name, (str, Path)):
        return False
    try:
        if source.tell() != 0 or not os.path.isfile(name):
            return False
        tmp.unlink()
        os.link(name, tmp)
    except (OSError, AttributeError, ValueError):
        return False
    return True
