"""The object store: batches, streaming reads, verification, prefixes and packs."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from muse.errors import CorruptObjectError, MissingObjectError
from muse.frames import KIND_DATA, encode_header
from muse.objects import Snapshot, SnapshotEntry, hash_bytes
from muse.storage import BLOB, COMMIT
from muse.store import READ_CHUNK, ObjectStore, PackEntry, encode_pack_index


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    muse_dir = tmp_path / ".muse"
    for sub in ("objects", "packs", "tmp"):
        (muse_dir / sub).mkdir(parents=True)
    return ObjectStore(muse_dir)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_batch_stores_under_id_path_with_exact_bytes(store: ObjectStore) -> None:
    with store.batch() as batch:
        oid = batch.add_bytes(b"kick drum")
        assert not store.has(oid)  # nothing has a name until the batch commits
    assert oid == hash_bytes(b"kick drum")
    path = store.objects_dir / oid[:2] / oid[2:]
    assert path.read_bytes() == b"kick drum"
    assert store.has(oid)
    assert store.size(oid) == 9
    assert store.read(oid) == b"kick drum"
    assert _files(store.tmp_dir) == []


def test_batch_discarded_on_error_leaves_nothing(store: ObjectStore) -> None:
    with pytest.raises(RuntimeError), store.batch() as batch:
        oid = batch.add_bytes(b"never stored")
        batch.add_stream(io.BytesIO(b"x" * 3000))
        raise RuntimeError("boom")
    assert not store.has(oid)
    assert _files(store.objects_dir) == []
    assert _files(store.tmp_dir) == []


def test_add_stream_large_is_chunked_and_deduplicated(store: ObjectStore) -> None:
    data = os.urandom(READ_CHUNK * 2 + 123)
    with store.batch() as batch:
        oid, size = batch.add_stream(io.BytesIO(data))
        again, _ = batch.add_stream(io.BytesIO(data))
    assert (oid, size) == (hash_bytes(data), len(data))
    assert again == oid
    chunks = list(store.iter_chunks(oid))
    assert len(chunks) == 3 and b"".join(chunks) == data
    with store.batch() as batch:  # already stored: nothing new written
        batch.add_stream(io.BytesIO(data))
    assert _files(store.objects_dir) == [f"{oid[:2]}/{oid[2:]}"]


def test_read_detects_corruption_and_missing(store: ObjectStore) -> None:
    with store.batch() as batch:
        oid = batch.add_bytes(b"original bytes")
    path = store.objects_dir / oid[:2] / oid[2:]
    path.write_bytes(b"Original bytes")
    with pytest.raises(CorruptObjectError, match=oid) as info:
        store.read(oid)
    assert info.value.exit_code == 5
    # Unverified reads still return the bytes: `cat-object` can show damage.
    assert b"".join(store.iter_chunks(oid, verify=False)) == b"Original bytes"
    missing = hash_bytes(b"absent")
    with pytest.raises(MissingObjectError, match=missing):
        store.read(missing)
    with pytest.raises(MissingObjectError):
        store.size(missing)


def test_read_commit_refuses_a_blob(store: ObjectStore) -> None:
    with store.batch() as batch:
        oid = batch.add_bytes(b"not a commit")
    with pytest.raises(CorruptObjectError, match="commit"):
        store.read_commit(oid)


def test_snapshot_round_trip_through_store(store: ObjectStore) -> None:
    snap = Snapshot.from_entries([SnapshotEntry("a.mid", hash_bytes(b"m"), 1)])
    with store.batch() as batch:
        sid = batch.add_bytes(snap.encode())
    assert sid == snap.id
    assert store.read_snapshot(sid) == snap


def test_ids_with_prefix(store: ObjectStore) -> None:
    with store.batch() as batch:
        ids = [batch.add_bytes(str(i).encode()) for i in range(40)]
    assert store.ids_with_prefix(ids[0][:6]) == {ids[0]}
    two = ids[0][:2]
    assert store.ids_with_prefix(two) == {i for i in ids if i.startswith(two)}
    assert set(store.all_loose_ids()) == set(ids)


def _write_pack(store: ObjectStore, objects: list[bytes]) -> list[PackEntry]:
    tmp = store.new_tmp_file(".bundle")
    entries = []
    with open(tmp, "wb") as out:
        out.write(b"PACKHEAD")
        for data in objects:
            entries.append(PackEntry(hash_bytes(data), out.tell(), len(data), BLOB))
            # An object may span several data frames.
            half = len(data) // 2
            for part in (data[:half], data[half:]):
                out.write(encode_header(KIND_DATA, len(part)) + part)
    store.put_pack("p1", tmp, entries)
    return entries


def test_pack_objects_are_found_and_verified(store: ObjectStore) -> None:
    objects = [b"first packed object", b"second, longer packed object" * 10]
    entries = _write_pack(store, objects)
    for entry, data in zip(entries, objects, strict=True):
        assert store.has(entry.oid)
        assert store.size(entry.oid) == len(data)
        assert store.read(entry.oid) == data
        assert store.ids_with_prefix(entry.oid[:5]) == {entry.oid}
        assert store.kind(entry.oid) == BLOB
        location = store.locate(entry.oid)
        assert location is not None and (location.pack, location.offset) == ("p1", entry.offset)
    assert set(store.packed_ids()) == {e.oid for e in entries}
    assert store.list_packs() == ["p1"]
    assert not list(store.all_loose_ids())


def test_damaged_pack_index_is_refused_when_the_midx_needs_it(store: ObjectStore) -> None:
    _write_pack(store, [b"object"])
    idx = store.packs_dir / "pack-p1.idx"
    raw = bytearray(idx.read_bytes())
    raw[20] ^= 0xFF
    idx.write_bytes(bytes(raw))
    # The multi-pack index still holds the pack's rows: reads go on.
    assert ObjectStore(store.root).read(hash_bytes(b"object")) == b"object"
    # Without it, the damaged .idx is the only source, and it is refused.
    store.midx_path.unlink()
    before = _files(store.root)
    fresh = ObjectStore(store.root)
    with pytest.raises(CorruptObjectError, match="checksum"):
        fresh.has(hash_bytes(b"object"))
    assert _files(store.root) == before  # no half-built index left behind


def test_damaged_pack_bytes_are_detected(store: ObjectStore) -> None:
    [entry] = _write_pack(store, [b"object in a pack"])
    pack = store.packs_dir / "pack-p1.bundle"
    raw = bytearray(pack.read_bytes())
    raw[-1] ^= 0x01
    pack.write_bytes(bytes(raw))
    with pytest.raises(CorruptObjectError, match=entry.oid):
        store.read(entry.oid)


def test_pack_index_encoding_sorted_and_deduplicated() -> None:
    a, b = PackEntry("ff" * 32, 10, 1, BLOB), PackEntry("00" * 32, 20, 2, COMMIT)
    assert encode_pack_index([a, b, a]) == encode_pack_index([b, a])
    assert len(encode_pack_index([a, b])) == 16 + 2 * 49 + 32
