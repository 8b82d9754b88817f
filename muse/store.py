"""The local content-addressed object store: loose objects plus verified packs.

Layout under `.muse/`:
    objects/ab/cdef…      one loose object per file, named by its id
    packs/pack-ID.bundle  a received bundle kept whole, as git keeps packs
    packs/pack-ID.idx     its index: sorted (id, offset, size) rows
    tmp/                  work files; anything here is garbage after a crash

Loose writes go through an `ObjectBatch`: files are written under tmp/, made
durable with one sync for the whole batch, and only then renamed to their
final names — so a stored name always has its full bytes, without one fsync
per object. Packs arrive whole: one file, one index, one sync each.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import CorruptObjectError, MissingObjectError
from .frames import read_stored
from .fsutil import STORED_MODE, atomic_writer, fsync_dir
from .objects import Commit, Snapshot, decode_commit, decode_snapshot, hash_bytes, object_kind
from .storage import PackEntry

READ_CHUNK = 1 << 20
KIND_SNIFF_LIMIT = 256 << 20  # a commit or snapshot is never this big; bigger is a blob
IDX_MAGIC = b"MUSEIDX1"
IDX_ROW = struct.Struct(">32sQQ")


class PackIndex:
    """A read-only view of one pack's `.idx`: binary search over sorted 48-byte rows."""

    def __init__(self, idx_path: Path, pack_path: Path) -> None:
        self.pack_path = pack_path
        with open(idx_path, "rb") as handle:
            data = handle.read()
        if data[:8] != IDX_MAGIC or len(data) < 48:
            raise CorruptObjectError(f"pack index {idx_path.name} is damaged")
        body, digest = data[:-32], data[-32:]
        if hashlib.sha256(body).digest() != digest:
            raise CorruptObjectError(f"pack index {idx_path.name} fails its checksum")
        (count,) = struct.unpack(">Q", body[8:16])
        if len(body) != 16 + count * IDX_ROW.size:
            raise CorruptObjectError(f"pack index {idx_path.name} has the wrong length")
        self._rows = memoryview(body)[16:]
        self._count = count
        self._ids = [bytes(self._rows[i * 48 : i * 48 + 32]) for i in range(count)]

    def __len__(self) -> int:
        return self._count

    def find(self, oid: str, raw: bytes | None = None) -> PackEntry | None:
        """Where `oid` is in this pack; `raw` (its bytes) saves converting it per pack."""
        raw = raw if raw is not None else bytes.fromhex(oid)
        i = bisect.bisect_left(self._ids, raw)
        if i < self._count and self._ids[i] == raw:
            _, offset, size = IDX_ROW.unpack_from(self._rows, i * 48)
            return PackEntry(oid, offset, size)
        return None

    def ids_with_prefix(self, prefix: str) -> list[str]:
        low = bytes.fromhex(prefix.ljust(64, "0"))
        i = bisect.bisect_left(self._ids, low)
        found = []
        while i < self._count:
            hexid = self._ids[i].hex()
            if not hexid.startswith(prefix):
                break
            found.append(hexid)
            i += 1
        return found

    def all_ids(self) -> Iterator[str]:
        return (raw.hex() for raw in self._ids)


def encode_pack_index(entries: Iterable[PackEntry]) -> bytes:
    """The bytes of a `.idx` file for the given entries (any order; duplicates dropped)."""
    unique = {e.oid: e for e in entries}
    rows = sorted(unique.values(), key=lambda e: e.oid)
    body = bytearray(IDX_MAGIC + struct.pack(">Q", len(rows)))
    for e in rows:
        body += IDX_ROW.pack(bytes.fromhex(e.oid), e.offset, e.size)
    return bytes(body) + hashlib.sha256(body).digest()


class ObjectStore:
    """Read and write objects by id; every read of a commit or snapshot is re-hashed."""

    def __init__(self, muse_dir: Path) -> None:
        self.root = muse_dir
        self.objects_dir = muse_dir / "objects"
        self.packs_dir = muse_dir / "packs"
        self.tmp_dir = muse_dir / "tmp"
        self._objects_name = str(self.objects_dir)
        self._packs: list[PackIndex] | None = None

    # -- lookup -------------------------------------------------------------

    def _loose_path(self, oid: str) -> Path:
        return self.objects_dir / oid[:2] / oid[2:]

    def _loose_name(self, oid: str) -> str:
        # A plain string join: bundling looks up thousands of objects, and pathlib
        # object construction was a visible share of that.
        return os.path.join(self._objects_name, oid[:2], oid[2:])

    @property
    def packs(self) -> list[PackIndex]:
        if self._packs is None:
            self.load_packs()
        assert self._packs is not None
        return self._packs

    def load_packs(self, on_damaged: Callable[[Path, Exception], None] | None = None) -> None:
        """(Re)open every pack index. A damaged one raises, or with `on_damaged` is reported
        there and left out, so the rest of the store stays readable (what `verify` needs)."""
        packs = []
        if self.packs_dir.is_dir():
            for idx in sorted(self.packs_dir.glob("pack-*.idx")):
                try:
                    packs.append(PackIndex(idx, idx.with_suffix(".bundle")))
                except (CorruptObjectError, OSError) as exc:
                    if on_damaged is None:
                        raise
                    on_damaged(idx, exc)
        self._packs = packs

    def _find_packed(self, oid: str) -> tuple[PackIndex, PackEntry] | None:
        raw = bytes.fromhex(oid)
        for pack in self.packs:
            entry = pack.find(oid, raw)
            if entry is not None:
                return pack, entry
        return None

    def missing(self, ids: Iterable[str]) -> set[str]:
        return {oid for oid in ids if not self.has(oid)}

    def sizes(self, ids: Iterable[str]) -> dict[str, int]:
        found = {}
        for oid in ids:
            with contextlib.suppress(MissingObjectError):
                found[oid] = self.size(oid)
        return found

    def has(self, oid: str) -> bool:
        return os.path.exists(self._loose_name(oid)) or self._find_packed(oid) is not None

    def size(self, oid: str) -> int:
        try:
            return os.stat(self._loose_name(oid)).st_size
        except FileNotFoundError:
            pass
        found = self._find_packed(oid)
        if found is None:
            raise MissingObjectError(f"object {oid} is missing")
        return found[1].size

    def ids_with_prefix(self, prefix: str) -> set[str]:
        """Every stored id starting with `prefix` (at least two hex digits)."""
        found: set[str] = set()
        fan = self.objects_dir / prefix[:2]
        if fan.is_dir():
            rest = prefix[2:]
            found.update(prefix[:2] + name for name in os.listdir(fan) if name.startswith(rest))
        for pack in self.packs:
            found.update(pack.ids_with_prefix(prefix))
        return found

    # -- reading ------------------------------------------------------------

    def iter_chunks(self, oid: str, *, verify: bool = True) -> Iterator[bytes]:
        """Yield an object's bytes in chunks; with `verify`, raise if they do not hash to `oid`."""
        hasher = hashlib.sha256() if verify else None
        for chunk in self._raw_chunks(oid):
            if hasher is not None:
                hasher.update(chunk)
            yield chunk
        if hasher is not None and hasher.hexdigest() != oid:
            raise CorruptObjectError(f"object {oid} is corrupt: its bytes hash differently",
                                     hint="run `muse verify` to list every damaged object")

    def _raw_chunks(self, oid: str) -> Iterator[bytes]:
        # os-level reads: no buffered file object per object, which adds up when a
        # bundle reads thousands of small ones.
        try:
            fd = os.open(self._loose_name(oid), os.O_RDONLY)
        except FileNotFoundError:
            found = self._find_packed(oid)
            if found is None:
                raise MissingObjectError(f"object {oid} is missing") from None
            pack, entry = found
            with open(pack.pack_path, "rb") as packed:
                yield from read_stored(packed, entry.offset, entry.size)
            return
        try:
            while chunk := os.read(fd, READ_CHUNK):
                yield chunk
        finally:
            os.close(fd)

    def kind(self, oid: str) -> str:
        """'commit', 'snapshot' or 'blob'; a blob is told by its first bytes, not read whole."""
        if self.size(oid) > KIND_SNIFF_LIMIT:
            return "blob"
        first = next(iter(self.iter_chunks(oid, verify=False)), b"")
        if first[:1] not in (b"\x9b", b"\x93"):  # msgpack arrays of 11 and 3 items
            return "blob"
        return object_kind(self.read(oid))

    def read(self, oid: str) -> bytes:
        """The whole object, verified. Meant for commits, snapshots and small blobs."""
        return b"".join(self.iter_chunks(oid))

    def read_commit(self, oid: str) -> Commit:
        return decode_commit(self.read(oid))

    def read_snapshot(self, oid: str) -> Snapshot:
        return decode_snapshot(self.read(oid))

    def copy_to(self, oid: str, out: BinaryIO) -> None:
        for chunk in self.iter_chunks(oid):
            out.write(chunk)

    # -- writing ------------------------------------------------------------

    def batch(self) -> ObjectBatch:
        return ObjectBatch(self)

    def add_pack(self, pack_file: Path, entries: list[PackEntry], pack_id: str) -> None:
        """Install a verified pack (moved from `pack_file`) and its index, durably."""
        self.packs_dir.mkdir(parents=True, exist_ok=True)
        target = self.packs_dir / f"pack-{pack_id}.bundle"
        with open(pack_file, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(pack_file, STORED_MODE)
        os.replace(pack_file, target)
        with atomic_writer(self.packs_dir / f"pack-{pack_id}.idx", mode=STORED_MODE) as out:
            out.write(encode_pack_index(entries))
        fsync_dir(self.packs_dir)
        self._packs = None

    def new_tmp_file(self, suffix: str = "") -> Path:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=suffix)
        os.close(fd)
        return Path(name)

    def all_loose_ids(self) -> Iterator[str]:
        if not self.objects_dir.is_dir():
            return
        for fan in sorted(os.listdir(self.objects_dir)):
            if len(fan) == 2:
                for name in sorted(os.listdir(self.objects_dir / fan)):
                    yield fan + name


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
            self.store.tmp_dir.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(dir=self.store.tmp_dir, prefix="batch-"))
        return self._dir

    def _wanted(self, oid: str) -> bool:
        return oid not in self._pending and not self.store.has(oid)

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
        """Make every pending object durable, then give each its final name."""
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
        self.discard()

    def discard(self) -> None:
        if self._dir is not None:
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
