"""The multi-pack index: lookups over many packs, incremental adds, fold-in, repair, the vector."""

from __future__ import annotations

import io
import multiprocessing
import re
import struct
from pathlib import Path

import pytest

from muse.errors import CorruptObjectError, MissingObjectError
from muse.frames import KIND_DATA, encode_header
from muse.midx import MIDX_HEADER, MultiPackIndex, encode_pack_index
from muse.objects import hash_bytes
from muse.receive import receive_bundle
from muse.storage import BLOB, COMMIT, SNAPSHOT, CommitSource, ObjectIndex, ObjectSource, PackStore
from muse.store import ObjectStore, PackEntry
from tests.test_bundle_vector import FILES, build_vector

DOC = Path(__file__).resolve().parent.parent / "docs" / "pack-index.md"


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / ".muse")


def pack_file(store: ObjectStore, objects: list[bytes]) -> tuple[Path, list[PackEntry]]:
    """A pack-shaped file of data frames for `objects`, and its entries."""
    tmp = store.new_tmp_file(".bundle")
    entries = []
    with open(tmp, "wb") as out:
        out.write(b"HEAD")
        for data in objects:
            entries.append(PackEntry(hash_bytes(data), out.tell(), len(data), BLOB))
            out.write(encode_header(KIND_DATA, len(data)) + data)
    return tmp, entries


def add_pack(store: ObjectStore, pack_id: str, objects: list[bytes]) -> list[PackEntry]:
    tmp, entries = pack_file(store, objects)
    store.put_pack(pack_id, tmp, entries)
    return entries


def write_pack_directly(store: ObjectStore, pack_id: str, objects: list[bytes]) -> list[str]:
    """A pack as an older Muse or a directory remote writes it: .bundle + .idx, no midx."""
    tmp, entries = pack_file(store, objects)
    tmp.rename(store.packs_dir / f"pack-{pack_id}.bundle")
    (store.packs_dir / f"pack-{pack_id}.idx").write_bytes(encode_pack_index(entries))
    return [e.oid for e in entries]


def midx_on_disk(store: ObjectStore) -> MultiPackIndex:
    found = store.read_multi_pack_index()
    assert found is not None
    return found


def blobs(tag: str, n: int) -> list[bytes]:
    return [f"{tag} object {i}".encode() for i in range(n)]


def test_the_store_is_every_side_of_the_seam(store: ObjectStore) -> None:
    sides: tuple[ObjectIndex, ObjectSource, CommitSource, PackStore] = (store,) * 4
    assert all(side is store for side in sides)


def test_lookups_across_many_packs(store: ObjectStore) -> None:
    packs = {f"p{n:03d}": blobs(f"pack {n}", 3) for n in range(60)}
    placed = {}
    for pack_id, objects in packs.items():
        for entry in add_pack(store, pack_id, objects):
            placed[entry.oid] = (pack_id, entry)
    fresh = ObjectStore(store.root)
    for oid, (pack_id, entry) in placed.items():
        location = fresh.locate(oid)
        assert location is not None
        assert (location.pack, location.offset, location.size, location.kind) == (
            pack_id, entry.offset, entry.size, BLOB)
        assert fresh.has(oid) and fresh.size(oid) == entry.size
    absent = [hash_bytes(f"absent {i}".encode()) for i in range(50)]
    present = list(placed)
    assert fresh.missing(present + absent) == set(absent)
    assert fresh.sizes(present[:5] + absent[:5]) == {o: placed[o][1].size for o in present[:5]}
    assert all(fresh.locate(o) is None and fresh.kind(o) is None for o in absent)
    assert fresh.read(present[-1]) == packs[placed[present[-1]][0]][2]
    assert fresh.list_packs() == sorted(packs)
    assert midx_on_disk(fresh).count == len(placed)


def test_prefixes_span_loose_and_packed_ids(store: ObjectStore) -> None:
    packed = [e.oid for e in add_pack(store, "a", blobs("packed", 40))]
    with store.batch() as batch:
        loose = [batch.add_bytes(data) for data in blobs("loose", 40)]
    every = packed + loose
    for oid in every[::7]:
        assert store.ids_with_prefix(oid[:7]) == {oid}
    two = every[0][:2]
    assert store.ids_with_prefix(two) == {o for o in every if o.startswith(two)}
    assert store.ids_with_prefix("0" * 12) == set()


def test_adding_a_pack_merges_without_reading_the_other_indexes(store: ObjectStore) -> None:
    first = [e.oid for e in add_pack(store, "first", blobs("first", 5))]
    # The first pack's own index is now damaged: a rebuild from every .idx would fail,
    # so a successful add proves only the new pack's rows were read and merged.
    idx = store.packs_dir / "pack-first.idx"
    idx.write_bytes(b"MUSEIDX2 damaged")
    second = [e.oid for e in add_pack(store, "second", blobs("second", 5))]
    midx = midx_on_disk(store)
    assert midx.packs == ["first", "second"]
    fresh = ObjectStore(store.root)
    assert fresh.missing(first + second) == set()
    assert fresh.read(first[0]) == b"first object 0"


def test_incremental_adds_give_the_same_bytes_as_a_rebuild(store: ObjectStore) -> None:
    shared = [b"in every pack", b"in every pack too"]
    for n in range(30):
        add_pack(store, f"p{n:02d}", blobs(f"pack {n}", n % 4) + shared)
    incremental = store.midx_path.read_bytes()
    rebuilt = store.index_from_packs(on_damaged=lambda path, exc: pytest.fail(str(exc)))
    assert rebuilt.encode() == incremental
    assert MultiPackIndex.decode(incremental).count == sum(n % 4 for n in range(30)) + 60
    location = store.locate(hash_bytes(shared[0]))
    assert location is not None and location.pack == "p00"


def test_uncovered_packs_are_folded_in_on_open(store: ObjectStore) -> None:
    covered = [e.oid for e in add_pack(store, "covered", blobs("covered", 3))]
    direct = write_pack_directly(store, "direct", blobs("direct", 4))
    assert set(midx_on_disk(store).packs) == {"covered"}
    fresh = ObjectStore(store.root)
    assert fresh.missing(covered + direct) == set()
    assert fresh.read(direct[3]) == b"direct object 3"
    assert midx_on_disk(fresh).packs == ["covered", "direct"]  # written back


def test_an_existing_store_without_a_midx_gets_one(store: ObjectStore) -> None:
    store.packs_dir.mkdir(parents=True)
    ids = write_pack_directly(store, "old1", blobs("old 1", 2))
    ids += write_pack_directly(store, "old2", blobs("old 2", 2))
    assert not store.midx_path.exists()
    assert store.missing(ids) == set()
    assert midx_on_disk(store).packs == ["old1", "old2"]


def test_a_store_without_packs_writes_no_midx(store: ObjectStore) -> None:
    absent = hash_bytes(b"nothing")
    assert not store.has(absent) and store.missing([absent]) == {absent}
    assert not store.root.exists()  # a lookup creates nothing


def test_a_pack_whose_idx_is_gone_is_dropped(store: ObjectStore) -> None:
    keep = [e.oid for e in add_pack(store, "keep", blobs("keep", 2))]
    gone = [e.oid for e in add_pack(store, "gone", blobs("gone", 2))]
    (store.packs_dir / "pack-gone.idx").unlink()
    fresh = ObjectStore(store.root)
    assert fresh.missing(keep + gone) == set(gone)
    assert midx_on_disk(fresh).packs == ["keep"]


def _add_packs_in_a_process(root: str, tag: str, count: int) -> None:
    store = ObjectStore(Path(root))
    for n in range(count):
        tmp, entries = pack_file(store, [f"{tag} {n}".encode()])
        store.put_pack(f"{tag}-{n:02d}", tmp, entries)


def test_concurrent_adds_from_two_processes_are_all_indexed(store: ObjectStore) -> None:
    store.packs_dir.mkdir(parents=True)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_add_packs_in_a_process, args=(str(store.root), tag, 40))
               for tag in ("left", "right")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    expected = {f"{tag}-{n:02d}" for tag in ("left", "right") for n in range(40)}
    # Read the file as written (not repaired on open): every pack is in it.
    midx = midx_on_disk(store)
    assert set(midx.packs) == expected and midx.count == 80
    ids = [hash_bytes(f"{tag} {n}".encode()) for tag in ("left", "right") for n in range(40)]
    assert ObjectStore(store.root).missing(ids) == set()
    assert not (store.packs_dir / "multi-pack.lock").exists()


def _recounted(data: bytes) -> bytes:
    """The file with its row count one higher and a checksum that matches again."""
    import hashlib

    body = bytearray(data[:-32])
    magic, version, packs, count = MIDX_HEADER.unpack_from(body)
    MIDX_HEADER.pack_into(body, 0, magic, version, packs, count + 1)
    return bytes(body) + hashlib.sha256(body).digest()


DAMAGE = {
    "flipped byte": lambda data: data[:-40] + bytes([data[-40] ^ 1]) + data[-39:],
    "truncated": lambda data: data[: len(data) // 2],
    "wrong count": _recounted,
    "empty": lambda data: b"",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_midx_is_detected_and_rebuilt_with_nothing_lost(store: ObjectStore,
                                                                  damage: str) -> None:
    ids = [e.oid for e in add_pack(store, "one", blobs("one", 3))]
    ids += [e.oid for e in add_pack(store, "two", blobs("two", 3))]
    good = store.midx_path.read_bytes()
    bad = DAMAGE[damage](good)
    store.midx_path.write_bytes(bad)
    with pytest.raises(CorruptObjectError):
        MultiPackIndex.decode(bad)
    fresh = ObjectStore(store.root)
    assert fresh.missing(ids) == set()
    assert [fresh.read(oid) for oid in ids[:3]] == blobs("one", 3)
    rebuilt = midx_on_disk(fresh)  # repaired on disk, from the .idx files
    assert sorted(rebuilt.packs) == ["one", "two"] and rebuilt.count == 6


def test_a_damaged_midx_is_rebuilt_when_a_pack_is_added(store: ObjectStore) -> None:
    ids = [e.oid for e in add_pack(store, "one", blobs("one", 2))]
    store.midx_path.write_bytes(b"MUSEMIDX garbage")
    ids += [e.oid for e in add_pack(store, "two", blobs("two", 2))]
    assert sorted(midx_on_disk(store).packs) == ["one", "two"]
    assert ObjectStore(store.root).missing(ids) == set()


def test_delete_pack(store: ObjectStore) -> None:
    shared = b"held by both packs"
    kept = [e.oid for e in add_pack(store, "kept", [b"only kept", shared])]
    doomed = [e.oid for e in add_pack(store, "doomed", [b"only doomed", shared])]
    location = store.locate(hash_bytes(shared))
    assert location is not None and location.pack == "kept"  # the first pack answers
    assert midx_on_disk(store).count == 4  # one row per (id, pack)
    store.delete_pack("kept")
    assert not (store.packs_dir / "pack-kept.bundle").exists()
    assert not (store.packs_dir / "pack-kept.idx").exists()
    fresh = ObjectStore(store.root)
    assert midx_on_disk(fresh).packs == ["doomed"]
    assert fresh.missing(kept + doomed) == {hash_bytes(b"only kept")}
    location = fresh.locate(hash_bytes(shared))
    assert location is not None and location.pack == "doomed"
    assert fresh.read(hash_bytes(shared)) == shared
    store.delete_pack("kept")  # already gone: nothing to do
    store.delete_pack("doomed")
    assert store.list_packs() == [] and midx_on_disk(store).count == 0


def test_read_range(store: ObjectStore) -> None:
    [entry] = add_pack(store, "r", [b"ranged read of a pack"])
    whole = (store.packs_dir / "pack-r.bundle").read_bytes()
    assert b"".join(store.read_range("r", 0, len(whole))) == whole
    payload = entry.offset + 5
    assert b"".join(store.read_range("r", payload, 6)) == b"ranged"
    assert list(store.read_range("r", 3, 0)) == []
    with pytest.raises(CorruptObjectError, match="ends before"):
        list(store.read_range("r", 0, len(whole) + 1))
    with pytest.raises(MissingObjectError, match="pack nope"):
        list(store.read_range("nope", 0, 1))


def test_kinds_come_from_the_index_and_match_sniffing(tmp_path: Path) -> None:
    source = ObjectStore(tmp_path / "src" / ".muse")
    data = build_vector(source.root)
    dest = ObjectStore(tmp_path / "dest" / ".muse")
    receive_bundle(dest, io.BytesIO(data))
    ids = list(source.all_loose_ids())
    kinds = {oid: dest.kind(oid) for oid in ids}
    assert sorted(str(kind) for kind in kinds.values()) == [BLOB, BLOB, COMMIT, SNAPSHOT]
    assert kinds == {oid: source.kind(oid) for oid in ids}  # loose ones are sniffed
    for path, blob in FILES.items():
        assert kinds[hash_bytes(blob)] == BLOB, path
    # Packed kinds are read from the index: the pack's bytes are not consulted.
    (dest.packs_dir / f"pack-{hash_bytes(data)}.bundle").unlink()
    assert {oid: ObjectStore(dest.root).kind(oid) for oid in ids} == kinds


def _doc_block(name: str) -> str:
    match = re.search(rf"^```{name}\n(.*?)^```", DOC.read_text(), re.MULTILINE | re.DOTALL)
    assert match, f"no ```{name} block in {DOC.name}"
    return match.group(1)


def _documented_midx() -> bytes:
    """The documented sections, joined: hex as written, the fanout from its runs."""
    sections: dict[str, list[str]] = {}
    name = ""
    for line in _doc_block("midx").splitlines():
        if line[:1].strip():
            name, _, line = line.partition(" ")
        sections.setdefault(name, []).extend(line.split())
    fanout: list[int] = []
    for run in sections.pop("fanout"):
        span, value = run.split(":")
        first, last = (int(x, 16) for x in span.split("-"))
        assert first == len(fanout), "fanout runs must be contiguous"
        fanout += [int(value)] * (last - first + 1)
    hexed = {key: bytes.fromhex("".join(parts)) for key, parts in sections.items()}
    return (hexed["header"] + hexed["packs"] + struct.pack(">256I", *fanout) + hexed["ids"]
            + hexed["rows"] + hexed["checksum"])


def test_the_documented_vector_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    data = build_vector(tmp_path / "src" / ".muse")
    dest = ObjectStore(tmp_path / "dest" / ".muse")
    receive_bundle(dest, io.BytesIO(data))
    written = dest.midx_path.read_bytes()
    assert len(written) == 1358
    assert written.hex() == _documented_midx().hex()
    midx = MultiPackIndex.decode(written)
    assert midx.packs == [hash_bytes(data)]
    rebuilt = dest.index_from_packs(on_damaged=lambda path, exc: pytest.fail(str(exc)))
    assert rebuilt.encode() == written  # the same bytes, rebuilt from the .idx alone
