"""Receiving a bundle: `verify_pack` checks all of it as it streams; a backend then installs it.

Verification is written once, against an `ObjectIndex` (what the receiver
already stores) and a `ReceivePolicy`; it yields a `VerifiedPack`: every item
the bundle carries, with its offset and kind, and which of them are new. The
local store installs that by renaming its temporary copy into `packs/`
(`receive_bundle`); a hub installs it in the same database transaction that
moves its refs. A bad bundle leaves nothing behind. Refs come last.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .bundle import (
    BundleReader,
    BundleSummary,
    Progress,
    VerifiedCommit,
    VerifiedSnapshot,
    VerifiedTag,
    write_items,
)
from .errors import BundleError, CorruptObjectError
from .frames import read_stored
from .objects import Snapshot, decode_snapshot, hash_bytes
from .policy import DEFAULT_POLICY, ReceivePolicy
from .storage import BLOB, COMMIT, SNAPSHOT, TAG, ObjectIndex, PackEntry
from .store import ObjectStore


@dataclass(frozen=True)
class VerifiedPack:
    """A bundle that verified in full: what it carries, and what the receiver lacked."""

    summary: BundleSummary
    entries: list[PackEntry]             # the items the index did not hold, in bundle order
    parents: dict[str, tuple[str, ...]]  # each carried commit's parents
    snapshots: dict[str, str]            # each carried commit's snapshot id
    carried_bytes: int = 0               # the sizes of every carried item, new or not
    tags: dict[str, str] = field(default_factory=dict)  # each carried tag object's target

    @property
    def pack_id(self) -> str:
        return self.summary.bundle_id


def verify_pack(source: BinaryIO, index: ObjectIndex | None, *,
                policy: ReceivePolicy = DEFAULT_POLICY,
                sink: Callable[[bytes], Any] | None = None,
                progress: Progress | None = None, size: int | None = None) -> VerifiedPack:
    """Read and check the bundle in `source`; raise BundleError at the first problem.

    Memory is bounded by the largest frame plus one row per item. Which items
    are new is asked of `index` once, for the whole bundle, after the trailer.
    `size`, when the receiver knows the bundle's length, refuses a header whose
    counts cannot fit in it before any object is read.
    """
    reader = BundleReader(source, index=index, sink=sink, progress=progress, policy=policy,
                          size=size)
    carried: list[PackEntry] = []
    parents: dict[str, tuple[str, ...]] = {}
    snapshots: dict[str, str] = {}
    tags: dict[str, str] = {}
    for item in reader.items():
        if isinstance(item, VerifiedCommit):
            parents[item.oid] = item.commit.parents
            snapshots[item.oid] = item.commit.snapshot
            kind = COMMIT
        elif isinstance(item, VerifiedTag):
            tags[item.oid] = item.tag.target
            kind = TAG
        else:
            kind = SNAPSHOT if isinstance(item, VerifiedSnapshot) else BLOB
        carried.append(PackEntry(item.oid, item.offset, item.size, kind))
    summary = reader.summary
    assert summary is not None
    absent = {e.oid for e in carried} if index is None else index.missing(e.oid for e in carried)
    entries = [e for e in carried if e.oid in absent]
    return VerifiedPack(summary, entries, parents, snapshots, sum(e.size for e in carried), tags)


@dataclass(frozen=True)
class Received:
    summary: BundleSummary
    new_items: int  # objects, snapshots and commits the store did not have before


class Pending:
    """A bundle that has verified but is not installed yet: what a last check may look at."""

    def __init__(self, verified: VerifiedPack, store: ObjectStore, pack: Path) -> None:
        self.summary = verified.summary
        self.parents = verified.parents
        self.tags = verified.tags  # each carried tag object → its target
        self._snapshots = verified.snapshots
        self._store = store
        self._pack = pack
        self._entries = {e.oid: e for e in verified.entries if e.kind == SNAPSHOT}

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


def receive_linked(store: ObjectStore, path: Path, expected_id: str | None, *,
                   progress: Progress | None = None,
                   policy: ReceivePolicy = DEFAULT_POLICY) -> Received | None:
    """Receive the immutable bundle file at `path` by hard-linking it into the store.

    None when it cannot be linked (another filesystem, a file we may not link):
    the caller copies it instead. Linking skips the copy, never a check: the
    linked file itself (the very inode kept) is read and verified in full as
    `receive_bundle` would, and its bundle id must be `expected_id`, the sha256
    its remote named it by, before anything is installed. A pack whose items are
    mostly stored already is not kept by link: its new items are copied out, as
    `receive_bundle` does.
    """
    tmp = store.new_tmp_file(".bundle")
    try:
        try:
            tmp.unlink()
            os.link(path, tmp)
        except OSError:
            return None
        with open(tmp, "rb") as source:
            verified = verify_pack(source, store, policy=policy, progress=progress)
        if expected_id is not None and verified.pack_id != expected_id:
            raise BundleError(f"pack {expected_id} holds a bundle with another id "
                              f"({verified.pack_id})",
                              hint="the remote is damaged: run `muse verify` in it")
        if verified.entries and _mostly_stored(verified):
            _install_new_only(store, tmp, verified)  # the link goes: only what is new stays
        elif verified.entries:
            store.put_pack(verified.pack_id, tmp, verified.entries, linked=True)
        return Received(verified.summary, len(verified.entries))
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def receive_bundle(store: ObjectStore, source: BinaryIO, *,
                   progress: Progress | None = None,
                   policy: ReceivePolicy = DEFAULT_POLICY,
                   before_install: BeforeInstall | None = None) -> Received:
    """Verify the bundle in `source` against `store` and install what is new as a pack.

    The bytes are copied to a work file as they are verified: a user's bundle file
    is never shared with the store, so rewriting it later cannot touch a pack.
    """
    tmp = store.new_tmp_file(".bundle")
    try:
        with open(tmp, "wb") as copy:
            verified = verify_pack(source, store, policy=policy, sink=copy.write,
                                   progress=progress)
        if before_install is not None:
            before_install(Pending(verified, store, tmp))
        if verified.entries and _mostly_stored(verified):
            _install_new_only(store, tmp, verified)
        elif verified.entries:
            store.put_pack(verified.pack_id, tmp, verified.entries)
        return Received(verified.summary, len(verified.entries))
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# A bundle whose already-stored items are at least this share of its bytes is kept as a
# new pack of only its new items: copying what is new costs less than keeping it twice.
STORED_SHARE_TO_REWRITE = 0.25


def _mostly_stored(verified: VerifiedPack) -> bool:
    new_bytes = sum(e.size for e in verified.entries)
    stored = verified.carried_bytes - new_bytes
    return stored > 0 and stored >= STORED_SHARE_TO_REWRITE * verified.carried_bytes


def _install_new_only(store: ObjectStore, bundle: Path, verified: VerifiedPack) -> None:
    """Install a pack of only the items the store lacked, copied out of the verified
    bundle (re-hashed on the way): two bundles sharing 620 MB keep 620 MB once."""
    new_commits = {e.oid for e in verified.entries if e.kind == COMMIT}
    outside = {p for c in new_commits for p in verified.parents.get(c, ()) if p not in new_commits}
    # A new tag whose commit was stored already builds on that commit (a tag's target
    # tag is no prerequisite: prerequisites are commits, and a pack is read by its index).
    outside |= {t for e in verified.entries if e.kind == TAG
                if (t := verified.tags[e.oid]) not in new_commits and t not in verified.tags}
    pack = store.new_tmp_file(".bundle")
    try:
        with open(bundle, "rb") as source, open(pack, "wb") as out:
            summary = write_items(lambda e: read_stored(source, e.offset, e.size),
                                  verified.entries, outside, out)
        store.put_pack(summary.bundle_id, pack, summary.entries)
    finally:
        with contextlib.suppress(FileNotFoundError):
            pack.unlink()

