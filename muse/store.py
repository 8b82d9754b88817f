"""The local content-addressed object store: loose objects plus verified packs.

Layout under `.muse/`:
    objects/ab/cdef…      one loose object per file, named by its id
    packs/pack-ID.bundle  a received bundle kept whole, as git keeps packs
    packs/pack-ID.idx     its index: sorted (id, offset, size, kind) rows
    packs/multi-pack.midx every pack's rows in one table, so a lookup costs O(log objects)
                          whatever the number of packs (docs/pack-index.md)
    tmp/                  work files; anything here is garbage after a crash

Loose writes go through an `ObjectBatch`: files are written under tmp/, made
durable with one sync for the whole batch, and only then renamed to their
final names — so a stored name always has its full bytes, without one fsync
per object. Packs arrive whole: one file, one index, one sync each; then their
rows are merged into the multi-pack index under its lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .errors import CorruptObjectError, MissingObjectError, RefConflictError
from .frames import read_stored
from .fsutil import STORED_MODE, atomic_writer, fsync_dir
from .lockfile import locked
from .midx import (
    IDX_MAGIC,
    MultiPackIndex,
    PackIndex,
    build_index,
    encode_pack_index,
    fold_in,
)
from .objects import (
    Commit,
    Snapshot,
    Tag,
    decode_commit,
    decode_snapshot,
    decode_tag,
    hash_bytes,
    object_kind,
)
from .storage import BLOB, Location, PackEntry
from .workfiles import work_prefix

if TYPE_CHECKING:
    from .storage import CommitSource, ObjectIndex, ObjectSource, PackStore

READ_CHUNK = 1 << 20
KIND_SNIFF_LIMIT = 256 << 20  # a commit or snapshot is never this big; bigger is a blob
MIDX_NAME = "multi-pack.midx"
MIDX_LOCK = "multi-pack.lock"

__all__ = ["IDX_MAGIC", "KIND_SNIFF_LIMIT", "READ_CHUNK", "ObjectBatch", "ObjectStore",
           "PackEntry", "PackIndex", "encode_pack_index"]


class ObjectStore:
    """Read and write objects by id; every read of a commit or snapshot is re-hashed.

    Implements the storage seam (`muse.storage`): ObjectIndex, ObjectSource,
    CommitSource and PackStore.
    """

    def __init__(self, muse_dir: Path) -> None:
        self.root = muse_dir
        self.objects_dir = muse_dir / "objects"
        self.packs_dir = muse_dir / "packs"
        self.tmp_dir = muse_dir / "tmp"
        self.midx_path = self.packs_dir / MIDX_NAME
        self._objects_name = str(self.objects_dir)
        self._packs_name = str(self.packs_dir)
        self._midx: MultiPackIndex | None = None
        self._pinned = False  # use_index: lookups go through that index, never re-read

    # -- the pack index ------------------------------------------------------

    def _pack_path(self, pack_id: str) -> Path:
        return Path(self._pack_name(pack_id))

    def _pack_name(self, pack_id: str) -> str:
        return os.path.join(self._packs_name, f"pack-{pack_id}.bundle")  # no pathlib per read

    def _idx_path(self, pack_id: str) -> Path:
        return self.packs_dir / f"pack-{pack_id}.idx"

    def _pack_ids_on_disk(self) -> set[str]:
        """Every pack with an index file: the `.idx` is written last, so it marks a whole pack."""
        try:
            names = os.listdir(self.packs_dir)
        except FileNotFoundError:
            return set()
        return {n[5:-4] for n in names if n.startswith("pack-") and n.endswith(".idx")}

    def _open_pack_index(self, pack_id: str) -> PackIndex:
        # String paths: a verify or a rebuild opens every pack's index.
        return PackIndex(os.path.join(self._packs_name, f"pack-{pack_id}.idx"))

    def read_multi_pack_index(self) -> MultiPackIndex | None:
        """The multi-pack index file as it is on disk (None if there is none); raises
        CorruptObjectError when it is damaged."""
        try:
            data = self.midx_path.read_bytes()
        except FileNotFoundError:
            return None
        return MultiPackIndex.decode(data)

    def _current(self, midx: MultiPackIndex | None, on_disk: set[str]) -> MultiPackIndex:
        """`midx` brought up to date with the packs on disk: gone packs dropped, uncovered
        ones folded in from their `.idx`; rebuilt from every `.idx` when `midx` is None."""
        base = MultiPackIndex.empty() if midx is None else midx.without_packs(
            set(midx.packs) - on_disk)
        uncovered = sorted(on_disk - set(base.packs))
        return fold_in(base, ((p, self._open_pack_index(p)) for p in uncovered))

    def _load_index(self) -> MultiPackIndex:
        """Open the multi-pack index, repairing it (under the lock, merged with what other
        processes wrote meanwhile) if it is stale, damaged or absent."""
        on_disk = self._pack_ids_on_disk()
        try:
            midx = self.read_multi_pack_index()
        except CorruptObjectError:
            midx = None
        if midx is not None and set(midx.packs) == on_disk:
            return midx
        if not on_disk and midx is None:
            return MultiPackIndex.empty()  # nothing to index: write nothing
        try:
            return self._update_index(lambda current: current)
        except (OSError, RefConflictError):
            # A read-only store, or another process holding the lock: index in memory only.
            return self._current(midx, on_disk)

    def _update_index(self, change: Callable[[MultiPackIndex], MultiPackIndex]
                      ) -> MultiPackIndex:
        """Re-read the index under its lock, bring it up to date, apply `change`, write it."""
        self.packs_dir.mkdir(parents=True, exist_ok=True)
        with locked(self.packs_dir / MIDX_LOCK, what="the multi-pack index"):
            try:
                midx = self.read_multi_pack_index()
            except CorruptObjectError:
                midx = None  # damaged: rebuilt from the per-pack indexes, nothing lost
            updated = change(self._current(midx, self._pack_ids_on_disk()))
            # Not fsynced: the file is derived data, and a torn or stale one is detected
            # (checksum, pack list) and rebuilt from the `.idx` files on the next open.
            with atomic_writer(self.midx_path, mode=STORED_MODE, durable=False) as out:
                out.write(updated.encode())
        self._midx = updated
        return updated

    def refresh_index(self) -> None:
        """Forget the index opened so far: the next lookup sees every pack installed since."""
        if not self._pinned:
            self._midx = None

    @property
    def index(self) -> MultiPackIndex:
        """Every packed object: the multi-pack index, opened (and repaired) on first use."""
        if self._midx is None:
            self._midx = self._load_index()
        return self._midx

    def index_from_packs(self, on_damaged: Callable[[Path, Exception], None]
                         ) -> MultiPackIndex:
        """A multi-pack index rebuilt in memory from the `.idx` files alone (nothing is
        written); a damaged `.idx` is reported to `on_damaged` and left out."""
        good = []
        for pack_id in sorted(self._pack_ids_on_disk()):
            try:
                good.append((pack_id, self._open_pack_index(pack_id)))
            except (CorruptObjectError, OSError) as exc:
                on_damaged(self._idx_path(pack_id), exc)
        return build_index(good)

    def use_index(self, index: MultiPackIndex) -> None:
        """Look packed objects up in `index` from now on (`verify` checks through the one
        it rebuilt from the `.idx` files, not the file it is checking)."""
        self._midx = index
        self._pinned = True

    # -- lookup (ObjectIndex) ------------------------------------------------

    def _loose_path(self, oid: str) -> Path:
        return self.objects_dir / oid[:2] / oid[2:]

    def _loose_name(self, oid: str) -> str:
        # A plain string join: bundling looks up thousands of objects, and pathlib
        # object construction was a visible share of that.
        return os.path.join(self._objects_name, oid[:2], oid[2:])

    def _packed(self, oid: str) -> Location | None:
        return self.index.locate(oid)

    def has(self, oid: str) -> bool:
        return (os.path.exists(self._loose_name(oid))
                or self.index.find(bytes.fromhex(oid)) is not None)

    def missing(self, ids: Iterable[str]) -> set[str]:
        """The ids among `ids` this store holds neither loose nor packed."""
        index = self.index
        exists = os.path.exists
        return {oid for oid in ids
                if not exists(self._loose_name(oid)) and index.find(bytes.fromhex(oid)) is None}

    def _size_or_none(self, oid: str) -> int | None:
        loose = self._loose_size(oid)
        if loose is not None:
            return loose
        found = self._packed(oid)
        return None if found is None else found.size

    def size(self, oid: str) -> int:
        size = self._size_or_none(oid)
        if size is None:
            raise MissingObjectError(f"object {oid} is missing")
        return size

    def sizes(self, ids: Iterable[str]) -> dict[str, int]:
        """The size of every stored id among `ids`; absent ones are left out."""
        found = {}
        for oid in ids:
            size = self._size_or_none(oid)
            if size is not None:
                found[oid] = size
        return found

    def locate(self, oid: str) -> Location | None:
        """Where `oid` is: a pack and frame offset, or loose (`pack=None`, offset 0)."""
        packed = self._packed(oid)
        if packed is not None or not os.path.exists(self._loose_name(oid)):
            return packed
        kind = self.kind(oid)
        size = self._size_or_none(oid)
        if kind is None or size is None:
            return None  # removed meanwhile
        return Location(oid, None, 0, size, kind)

    def kind(self, oid: str) -> str | None:
        """'commit', 'snapshot', 'tag' or 'blob' (None when not stored). Packed objects' kinds come
        from the index; a loose blob is told by its first bytes, not read whole."""
        loose_size = self._loose_size(oid)
        if loose_size is None:
            packed = self._packed(oid)
            return None if packed is None else packed.kind
        if loose_size > KIND_SNIFF_LIMIT:
            return BLOB
        first = next(iter(self.iter_chunks(oid, verify=False)), b"")
        # msgpack arrays of 11 (commit), 12 (tag) and 3 (snapshot) items
        if first[:1] not in (b"\x9b", b"\x9c", b"\x93"):
            return BLOB
        return object_kind(self.read(oid))

    def _loose_size(self, oid: str) -> int | None:
        try:
            return os.stat(self._loose_name(oid)).st_size
        except FileNotFoundError:
            return None

    def ids_with_prefix(self, prefix: str) -> set[str]:
        """Every stored id starting with `prefix` (at least two hex digits)."""
        found: set[str] = set()
        fan = self.objects_dir / prefix[:2]
        if fan.is_dir():
            rest = prefix[2:]
            found.update(prefix[:2] + name for name in os.listdir(fan) if name.startswith(rest))
        found.update(self.index.ids_with_prefix(prefix))
        return found

    def packed_ids(self) -> Iterator[str]:
        """Every packed id, once, sorted."""
        return self.index.all_ids()

    # -- reading (ObjectSource, CommitSource) ---------------------------------

    def iter_chunks(self, oid: str, *, verify: bool = True,
                    packed_first: bool = False) -> Iterator[bytes]:
        """Yield an object's bytes in chunks; with `verify`, raise if they do not hash to `oid`.

        `packed_first` looks in the pack index (in memory) before trying a loose file:
        for a checkout of a cloned or fetched tree, where nearly every object is packed
        and a failed open per object was a visible share of the time.
        """
        hasher = hashlib.sha256() if verify else None
        for chunk in self._raw_chunks(oid, packed_first=packed_first):
            if hasher is not None:
                hasher.update(chunk)
            yield chunk
        if hasher is not None and hasher.hexdigest() != oid:
            raise CorruptObjectError(f"object {oid} is corrupt: its bytes hash differently",
                                     hint="run `muse verify` to list every damaged object")

    def _raw_chunks(self, oid: str, *, packed_first: bool = False) -> Iterator[bytes]:
        # os-level reads: no buffered file object per object, which adds up when a
        # bundle reads thousands of small ones.
        if packed_first and self._packed(oid) is not None:
            yield from self._packed_chunks(oid)  # a pack gone meanwhile is looked for again
            return
        try:
            fd = os.open(self._loose_name(oid), os.O_RDONLY)
        except FileNotFoundError:
            yield from self._packed_chunks(oid)
            return
        try:
            while chunk := os.read(fd, READ_CHUNK):
                yield chunk
        finally:
            os.close(fd)

    def _packed_chunks(self, oid: str, *, reloaded: bool = False) -> Iterator[bytes]:
        """A packed object's bytes. On a miss the index is re-read once: `muse gc` may have
        moved the object into a new pack (or its loose copy into one) since it was opened."""
        found = self._packed(oid)
        if found is not None and found.pack is not None:
            try:
                packed = open(self._pack_name(found.pack), "rb")  # noqa: SIM115
            except FileNotFoundError:
                if reloaded or self._pinned:
                    raise
            else:
                with packed:
                    yield from read_stored(packed, found.offset, found.size)
                return
        if reloaded or self._pinned:
            raise MissingObjectError(f"object {oid} is missing")
        self._midx = None
        if os.path.exists(self._loose_name(oid)):  # written loose meanwhile
            yield from self._raw_chunks(oid)
            return
        yield from self._packed_chunks(oid, reloaded=True)

    def read(self, oid: str) -> bytes:
        """The whole object, verified. Meant for commits, snapshots and small blobs."""
        return b"".join(self.iter_chunks(oid))

    def read_commit(self, oid: str) -> Commit:
        return decode_commit(self.read(oid))

    def read_snapshot(self, oid: str) -> Snapshot:
        return decode_snapshot(self.read(oid))

    def read_tag(self, oid: str) -> Tag:
        return decode_tag(self.read(oid))

    def copy_to(self, oid: str, out: BinaryIO) -> None:
        """Write the object's bytes (verified) to `out`: how a checkout writes a file."""
        for chunk in self.iter_chunks(oid, packed_first=True):
            out.write(chunk)

    # -- packs (PackStore) ----------------------------------------------------

    def put_pack(self, pack_id: str, path: Path, entries: Sequence[PackEntry], *,
                 linked: bool = False) -> None:
        """Install a verified pack (moved from `path`) and its index, durably, then merge its
        rows into the multi-pack index. `linked`: `path` is a hard link to another store's
        pack (already read-only), whose mode is not ours to change."""
        self.packs_dir.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
        if not linked:
            os.chmod(path, STORED_MODE)
        os.replace(path, self._pack_path(pack_id))
        with atomic_writer(self._idx_path(pack_id), mode=STORED_MODE) as out:
            out.write(encode_pack_index(entries))
        fsync_dir(self.packs_dir)
        try:
            self._update_index(lambda current: current)  # folds the new pack in
        except RefConflictError:
            self._midx = None  # lock held too long: the next open folds the pack in

    def list_packs(self) -> list[str]:
        """Every installed pack's id, sorted."""
        return sorted(self._pack_ids_on_disk())

    def read_range(self, pack_id: str, offset: int, length: int) -> Iterator[bytes]:
        """`length` bytes of pack `pack_id` from `offset`, in chunks of at most READ_CHUNK."""
        path = self._pack_path(pack_id)
        if not path.exists():
            raise MissingObjectError(f"pack {pack_id} is missing")
        with open(path, "rb") as handle:
            handle.seek(offset)
            left = length
            while left:
                chunk = handle.read(min(left, READ_CHUNK))
                if not chunk:
                    raise CorruptObjectError(f"pack {pack_id} ends before byte {offset + length}",
                                             hint="run `muse verify`")
                left -= len(chunk)
                yield chunk

    def delete_pack(self, pack_id: str) -> None:
        """Remove a pack and its rows from the multi-pack index; a pack not there is a no-op."""
        self.delete_packs([pack_id])

    def delete_packs(self, pack_ids: Iterable[str]) -> None:
        """Remove several packs with one rewrite of the multi-pack index (`muse gc` drops
        hundreds at once); packs not there are skipped."""
        on_disk = self._pack_ids_on_disk()
        gone = [p for p in pack_ids if p in on_disk or self._pack_path(p).exists()]
        if not gone:
            return

        def drop(current: MultiPackIndex) -> MultiPackIndex:
            # Under the lock: the .idx files go first, so no process folds a pack back in.
            for pack_id in gone:
                with contextlib.suppress(FileNotFoundError):
                    self._idx_path(pack_id).unlink()
            return current.without_packs(gone)

        self._update_index(drop)
        for pack_id in gone:
            with contextlib.suppress(FileNotFoundError):
                self._pack_path(pack_id).unlink()
        fsync_dir(self.packs_dir)

    # -- writing --------------------------------------------------------------

    def batch(self) -> ObjectBatch:
        return ObjectBatch(self)

    def new_tmp_file(self, suffix: str = "") -> Path:
        import tempfile  # here, not at start-up (status and log never write)

        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        # Named for this process, so a sweep removes it as soon as a killed owner is gone.
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix=work_prefix(), suffix=suffix)
        os.close(fd)
        return Path(name)

    def unpack_object(self, oid: str, *, mtime: float | None = None) -> None:
        """Copy a packed object to a loose file (its bytes re-hashed), dated `mtime`: what
        `muse gc` keeps of a pack it drops, so a young object still ages from when it came."""
        target = self._loose_path(oid)
        if target.exists():
            return
        tmp = self.new_tmp_file()
        try:
            with open(tmp, "wb") as out:
                for chunk in self._packed_chunks_verified(oid):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, STORED_MODE)
            if mtime is not None:
                os.utime(tmp, (mtime, mtime))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _packed_chunks_verified(self, oid: str) -> Iterator[bytes]:
        hasher = hashlib.sha256()
        for chunk in self._packed_chunks(oid):
            hasher.update(chunk)
            yield chunk
        if hasher.hexdigest() != oid:
            raise CorruptObjectError(f"object {oid} is corrupt: its bytes hash differently",
                                     hint="run `muse verify` to list every damaged object")

    def freshen(self, oid: str) -> None:
        """Date a stored object (its loose file, else its pack) now. An object a new commit
        reuses may be one nothing reached for weeks: `muse gc` keeps young objects."""
        with contextlib.suppress(OSError):
            os.utime(self._loose_name(oid))
            return
        found = self._packed(oid)
        if found is not None and found.pack is not None:
            with contextlib.suppress(OSError):
                os.utime(self._pack_name(found.pack))

    def remove_loose(self, oid: str) -> int:
        """Remove a loose object (`muse gc`: packed or pruned); its size, 0 if it was gone."""
        path = self._loose_name(oid)
        try:
            size = os.stat(path).st_size
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return size

    def all_loose_ids(self) -> Iterator[str]:
        if not self.objects_dir.is_dir():
            return
        for fan in sorted(os.listdir(self.objects_dir)):
            if len(fan) == 2:
                for name in sorted(os.listdir(self.objects_dir / fan)):
                    yield fan + name


if TYPE_CHECKING:
    def _is_every_side_of_the_seam(store: ObjectStore) -> tuple[ObjectIndex, ObjectSource,
                                                                  CommitSource, PackStore]:
        return store, store, store, store  # mypy checks the local store against the Protocols


SYNC_ALL_THRESHOLD = 32


def _make_durable(paths: list[Path]) -> None:
    """fsync a few files one by one; for many, one whole-system sync is far cheaper."""
    if len(paths) > SYNC_ALL_THRESHOLD:
        os.sync()
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ObjectBatch:
    """A group of loose writes made durable together (one sync) before they get their names."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._pending: dict[str, Path] = {}
        self._dir: Path | None = None

    def _workdir(self) -> Path:
        if self._dir is None:
            import tempfile

            self.store.tmp_dir.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(dir=self.store.tmp_dir, prefix=work_prefix()))
        return self._dir

    def _wanted(self, oid: str) -> bool:
        if oid in self._pending:
            return False
        if self.store.has(oid):
            self.store.freshen(oid)  # reused now: a concurrent gc must see it as young
            return False
        return True

    def add_bytes(self, data: bytes) -> str:
        oid = hash_bytes(data)
        if self._wanted(oid):
            tmp = self._workdir() / oid
            with open(tmp, "wb") as handle:
                handle.write(data)
            self._pending[oid] = tmp
        return oid

    def add_stream(self, source: BinaryIO) -> tuple[str, int]:
        """Copy a stream into the batch while hashing it; memory stays at one chunk."""
        import tempfile

        hasher = hashlib.sha256()
        size = 0
        fd, name = tempfile.mkstemp(dir=self._workdir())
        tmp = Path(name)
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(READ_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
        oid = hasher.hexdigest()
        if self._wanted(oid):
            final_tmp = tmp.with_name(oid)
            os.replace(tmp, final_tmp)
            self._pending[oid] = final_tmp
        else:
            tmp.unlink()
        return oid, size

    def add_file(self, path: Path) -> tuple[str, int]:
        with open(path, "rb") as source:
            return self.add_stream(source)

    def commit(self) -> None:
        """Make every pending object durable, then give each its final name. Interrupted or
        failed midway, the work folder goes all the same: what was renamed is whole."""
        try:
            self._install()
        finally:
            self.discard()

    def _install(self) -> None:
        if self._pending:
            _make_durable(list(self._pending.values()))
            fans = set()
            for oid, tmp in self._pending.items():
                target = self.store._loose_path(oid)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, STORED_MODE)
                os.replace(tmp, target)
                fans.add(target.parent)
            for fan in fans:
                fsync_dir(fan)
            fsync_dir(self.store.objects_dir)
            self._pending.clear()

    def discard(self) -> None:
        if self._dir is not None:
            import shutil

            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._pending.clear()

    def __enter__(self) -> ObjectBatch:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()
