"""The storage seam: the small interfaces verification, the graph and bundling are written against.

    ObjectIndex    which objects a store holds, where, and of what kind (batched)
    ObjectSource   an object's verified bytes, by id
    CommitSource   commits by id, for the history graph
    PackStore      verified packs kept whole: put, ranged reads, list, delete

The local `ObjectStore` implements all four; a bucket remote and the hub implement
them over their own storage (a bucket, an SQL table and a blob store). Nothing in
the core reaches past these to a filesystem path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .objects import Commit

BLOB = "blob"
SNAPSHOT = "snapshot"
COMMIT = "commit"
TAG = "tag"
KINDS = (BLOB, SNAPSHOT, COMMIT, TAG)


@dataclass(frozen=True)
class Location:
    """Where a stored object lives: a pack (by id) and its frame offset, or loose (`pack=None`)."""

    oid: str
    pack: str | None
    offset: int
    size: int
    kind: str


class ObjectIndex(Protocol):
    """What a store holds. Batched calls answer a whole push in one query, not one per id."""

    def missing(self, ids: Iterable[str]) -> set[str]:
        """The ids among `ids` this store does not hold."""
        ...

    def sizes(self, ids: Iterable[str]) -> dict[str, int]:
        """The size of every id among `ids` this store holds (absent ids are left out)."""
        ...

    def locate(self, oid: str) -> Location | None:
        """Where `oid` is stored; None when it is not."""
        ...

    def kind(self, oid: str) -> str | None:
        """'blob', 'snapshot', 'commit' or 'tag'; None when the object is not stored."""
        ...


class ObjectSource(Protocol):
    """Objects' bytes, re-hashed on the way out unless the caller says otherwise."""

    def read(self, oid: str) -> bytes:
        """The whole object, verified (commits, snapshots, small blobs)."""
        ...

    def iter_chunks(self, oid: str, *, verify: bool = True) -> Iterator[bytes]:
        """The object's bytes in chunks; with `verify`, raise if they do not hash to `oid`."""
        ...


class CommitSource(Protocol):
    """Commits by id: what the history graph walks (a store, or the hub's table)."""

    def read_commit(self, oid: str) -> Commit:
        ...

    def missing(self, ids: Iterable[str]) -> set[str]:
        ...


@dataclass(frozen=True)
class PackEntry:
    """One item of a verified pack: its id, frame offset, size and kind."""

    oid: str
    offset: int
    size: int
    kind: str = BLOB


class PackStore(Protocol):
    """Verified packs (received bundles kept whole), named by their bundle id."""

    def put_pack(self, pack_id: str, path: Path, entries: Sequence[PackEntry]) -> None:
        """Keep the verified bundle at `path` as pack `pack_id`, durably, indexed by `entries`."""
        ...

    def list_packs(self) -> list[str]:
        ...

    def read_range(self, pack_id: str, offset: int, length: int) -> Iterator[bytes]:
        """`length` bytes of pack `pack_id` from `offset`, in chunks."""
        ...

    def delete_pack(self, pack_id: str) -> None:
        ...


class Store(ObjectIndex, ObjectSource, CommitSource, Protocol):
    """Everything bundling needs from the side that sends: an index, bytes and commits."""
