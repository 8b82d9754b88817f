"""The test vector in docs/bundle-format.md, rebuilt byte for byte with Muse's code."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from muse.bundle import BundleReader, plan_bundle, write_bundle
from muse.graph import CommitGraph
from muse.objects import Commit, Snapshot, SnapshotEntry, hash_bytes
from muse.store import ObjectStore, PackIndex
from tests.bundle_craft import parse_frames

DOC = Path(__file__).resolve().parent.parent / "docs" / "bundle-format.md"
FILES = {"drums.mid": b"MThd drums\n", "notes.txt": b"hello\n"}


def build_vector(muse_dir: Path) -> bytes:
    """One unsigned commit of two small files, fixed author and time, bundled as refs/heads/main."""
    store = ObjectStore(muse_dir)
    entries = [SnapshotEntry(path, hash_bytes(data), len(data)) for path, data in FILES.items()]
    snapshot = Snapshot.from_entries(entries)
    commit = Commit(snapshot=snapshot.id, parents=(), author_name="Ada Lovelace",
                    author_email="ada@example.org", timestamp=1_700_000_000,
                    tz_offset_minutes=0, message="first take\n")
    with store.batch() as batch:
        for data in FILES.values():
            batch.add_bytes(data)
        batch.add_bytes(snapshot.encode())
        batch.add_bytes(commit.encode())
    plan = plan_bundle(CommitGraph(store), {"refs/heads/main": commit.id}, [commit.id], [])
    out = io.BytesIO()
    write_bundle(store, plan, out)
    return out.getvalue()


def doc_block(name: str) -> str:
    match = re.search(rf"^```{name}\n(.*?)^```", DOC.read_text(), re.MULTILINE | re.DOTALL)
    assert match, f"no ```{name} block in {DOC.name}"
    return match.group(1)


def test_vector_bytes_match_the_doc(tmp_path: Path) -> None:
    data = build_vector(tmp_path / ".muse")
    documented = bytes.fromhex("".join(doc_block("hex").split()))
    assert data.hex() == documented.hex()
    ids = dict(line.split(": ", 1) for line in doc_block("ids").strip().splitlines())
    assert ids["bundle id"] == hashlib.sha256(data).hexdigest()
    summary = BundleReader(io.BytesIO(data)).verify()
    assert ids["commit"] == summary.commits[0] == summary.header.refs["refs/heads/main"]
    assert ids["bundle id"] == summary.bundle_id


def test_frame_table_matches_the_doc(tmp_path: Path) -> None:
    data = build_vector(tmp_path / ".muse")
    rows = [line.split("|")[1:4] for line in doc_block("frames").strip().splitlines()]
    documented = [(int(off), kind.strip(), int(length)) for off, kind, length in rows]
    actual = [(f.offset, chr(f.kind), f.length) for f in parse_frames(data)]
    assert documented == actual


def test_pack_index_of_the_vector(tmp_path: Path) -> None:
    """Received as a pack, the vector's .idx holds the documented rows."""
    from muse.receive import receive_bundle

    data = build_vector(tmp_path / "src" / ".muse")
    dest = ObjectStore(tmp_path / "dest")
    received = receive_bundle(dest, io.BytesIO(data))
    idx_path = dest.packs_dir / f"pack-{received.summary.bundle_id}.idx"
    idx = idx_path.read_bytes()
    assert idx[:8] == b"MUSEIDX2" and int.from_bytes(idx[8:16], "big") == 4
    assert hashlib.sha256(idx[:-32]).digest() == idx[-32:]
    assert doc_block("idx").split() == [idx.hex()[i : i + 64] for i in range(0, len(idx) * 2, 64)]
    index = PackIndex(idx_path, idx_path.with_suffix(".bundle"))
    for path, blob in FILES.items():
        entry = index.find(hash_bytes(blob))
        assert entry is not None and entry.size == len(blob), path
        assert data[entry.offset + 5 : entry.offset + 5 + entry.size] == blob
