"""Bundle format v1 through the core: round trips, incremental bundles, what a reader refuses."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from muse.bundle import (
    MAGIC,
    MAX_HEADER_BYTES,
    BundleHeader,
    BundleReader,
    VerifiedCommit,
    VerifiedObject,
    VerifiedSnapshot,
    _parse_header,
    plan_bundle,
)
from muse.errors import BundleError, MuseError, UsageError
from muse.frames import KIND_COMMIT, KIND_DATA, KIND_HEADER, KIND_SNAPSHOT
from muse.fsck import verify_repository
from muse.keys import sign_commit
from muse.objects import Commit, hash_bytes
from muse.policy import SIGNED, ReceivePolicy
from muse.receive import receive_bundle
from muse.repo import Repository
from muse.store import ObjectStore
from tests.bundle_craft import (
    Crafted,
    frame,
    header,
    object_frames,
    parse_frames,
    plain_commit,
    seal,
    valid_parts,
    with_snapshot_rows,
)
from tests.bundle_repos import bundle_bytes, commit_files, history, make_repo
from tests.conftest import tree_state

ZERO = "0" * 64


@pytest.fixture
def source(tmp_path: Path, muse_home: Path) -> Repository:
    return make_repo(tmp_path / "src")


def read_all(data: bytes, store: ObjectStore | None = None) -> list[object]:
    reader = BundleReader(io.BytesIO(data), index=store)
    return list(reader.items())


# -- round trips -------------------------------------------------------------------------


def test_round_trip_preserves_every_id(source: Repository) -> None:
    ids = history(source)
    data, summary = bundle_bytes(source, [ids[-1]])
    items = read_all(data)
    commits = [i.oid for i in items if isinstance(i, VerifiedCommit)]
    assert commits == ids  # parents before children
    for item in items:
        if isinstance(item, VerifiedObject):
            start = item.offset + 5
            assert source.store.read(item.oid) == data[start : start + item.size]
        elif isinstance(item, VerifiedSnapshot):
            assert item.snapshot.id == item.oid
            assert source.store.read(item.oid) == item.encoding
        else:
            assert isinstance(item, VerifiedCommit)
            assert item.commit.encode() == source.store.read(item.oid)
    assert summary.bundle_id == hashlib.sha256(data).hexdigest()
    assert summary.signatures_good == 2 and summary.unsigned == 1


def test_unbundle_into_empty_repo_then_full_check(source: Repository, tmp_path: Path) -> None:
    ids = history(source)
    data, _ = bundle_bytes(source, [ids[-1]])
    dest = make_repo(tmp_path / "dest")
    received = receive_bundle(dest.store, io.BytesIO(data))
    assert received.summary.commits == ids
    packs = sorted(p.name for p in (dest.muse_dir / "packs").iterdir())
    assert packs == ["multi-pack.midx", f"pack-{received.summary.bundle_id}.bundle",
                     f"pack-{received.summary.bundle_id}.idx"]
    assert list(dest.store.all_loose_ids()) == []  # no per-object writes
    dest.refs.update("refs/heads/main", None, ids[-1], "test")
    # Every commit, snapshot and object is read back and re-hashed.
    for oid in ids:
        commit = dest.store.read_commit(oid)
        assert commit == source.store.read_commit(oid)
        for entry in dest.store.read_snapshot(commit.snapshot).entries:
            assert hash_bytes(dest.store.read(entry.oid)) == entry.oid
            assert dest.store.read(entry.oid) == source.store.read(entry.oid)
    report = verify_repository(dest)
    assert report.ok, report.problems
    assert report.commits == 3 and report.signed_good == 2


def test_incremental_bundle_with_prerequisites(source: Repository, tmp_path: Path) -> None:
    ids = history(source)
    first, _ = bundle_bytes(source, [ids[0]])
    data, summary = bundle_bytes(source, [ids[-1]], [ids[0]])
    assert summary.header.prerequisites == [ids[0]]
    assert summary.commits == ids[1:]
    # b.wav did not change since the prerequisite, so it is left out.
    carried = {i.oid for i in read_all(data) if isinstance(i, VerifiedObject)}
    assert hash_bytes(b"B" * 3000) not in carried
    assert carried == {hash_bytes(b"A2" * 60), hash_bytes(b"c\n")}
    # Outside a repository the reader counts what relies on the prerequisites.
    outside = BundleReader(io.BytesIO(data)).verify()
    assert outside.entries_outside == 1
    # A repository without the prerequisite refuses it, and stays unchanged.
    dest = make_repo(tmp_path / "dest")
    before = tree_state(dest.muse_dir)
    with pytest.raises(BundleError, match="lacks prerequisite commit"):
        receive_bundle(dest.store, io.BytesIO(data))
    assert tree_state(dest.muse_dir) == before
    receive_bundle(dest.store, io.BytesIO(first))
    received = receive_bundle(dest.store, io.BytesIO(data))
    assert received.summary.commits == ids[1:]
    dest.refs.update("refs/heads/main", None, ids[-1], "test")
    assert verify_repository(dest).ok


def test_plan_leaves_out_only_objects_of_prerequisites(source: Repository) -> None:
    ids = history(source)
    # A side branch from the first commit that adds a file main also gets later.
    source.refs.update("refs/heads/side", None, ids[0], "test")
    plan = plan_bundle(source.graph, {"refs/heads/main": ids[-1]}, [ids[-1]], [ids[0]])
    assert plan.prerequisites == [ids[0]]
    assert {oid for oid, _ in plan.objects} == {hash_bytes(b"A2" * 60), hash_bytes(b"c\n")}


def test_receiving_twice_adds_nothing(source: Repository, tmp_path: Path) -> None:
    ids = history(source)
    data, _ = bundle_bytes(source, [ids[-1]])
    dest = make_repo(tmp_path / "dest")
    assert receive_bundle(dest.store, io.BytesIO(data)).new_items > 0
    before = tree_state(dest.muse_dir)
    assert receive_bundle(dest.store, io.BytesIO(data)).new_items == 0
    assert tree_state(dest.muse_dir) == before


def test_large_object_spans_data_frames(source: Repository, tmp_path: Path) -> None:
    big = bytes(range(256)) * (5 * 4096 + 7)  # > 5 MiB: six data frames
    ids = [commit_files(source, {"big.wav": big}, "big")]
    data, _ = bundle_bytes(source, ids)
    kinds = [f.kind for f in parse_frames(data)]
    assert kinds.count(KIND_DATA) == 6
    dest = make_repo(tmp_path / "dest")
    receive_bundle(dest.store, io.BytesIO(data))
    assert dest.store.read(hash_bytes(big)) == big


# -- crafted bundles: refused on content, with a valid trailer ----------------------------


_commit = plain_commit
_valid_parts = valid_parts
_crafted_with_snapshot = with_snapshot_rows


def test_crafted_valid_bundle_is_accepted() -> None:
    blob, snap, commit = _valid_parts()
    data = Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id}).build()
    summary = BundleReader(io.BytesIO(data)).verify()
    assert summary.commits == [commit.id] and summary.unsigned == 1


@pytest.mark.parametrize("path", ["../x", "/abs", "a/../../b", "a\0b", ".muse/config",
                                  "a/.MUSE/x", "a\\b", "", "a//b", "./a"])
def test_unsafe_snapshot_paths_are_refused(path: str) -> None:
    blob = b"hello\n"
    data = _crafted_with_snapshot([(path, bytes.fromhex(hash_bytes(blob)), len(blob), False)])
    with pytest.raises(BundleError, match=r"unsafe path|malformed"):
        BundleReader(io.BytesIO(data)).verify()


def test_duplicate_and_unsorted_snapshot_paths_are_refused() -> None:
    raw = bytes.fromhex(hash_bytes(b"hello\n"))
    dup = _crafted_with_snapshot([("a", raw, 6, False), ("a", raw, 6, False)])
    with pytest.raises(BundleError, match="duplicate path 'a'"):
        BundleReader(io.BytesIO(dup)).verify()
    unsorted = _crafted_with_snapshot([("b", raw, 6, False), ("a", raw, 6, False)])
    with pytest.raises(BundleError, match="unsorted path 'a'"):
        BundleReader(io.BytesIO(unsorted)).verify()


def test_snapshot_size_must_match_object() -> None:
    raw = bytes.fromhex(hash_bytes(b"hello\n"))
    data = _crafted_with_snapshot([("a", raw, 7, False)])
    with pytest.raises(BundleError, match="says 7 bytes but the object has 6"):
        BundleReader(io.BytesIO(data)).verify()


def test_object_bytes_must_match_id() -> None:
    blob, snap, commit = _valid_parts()
    body = frame(KIND_HEADER, header(refs={"refs/heads/main": commit.id}, objects=1,
                                     object_bytes=6, snapshots=1, commits=1))
    body += object_frames(b"HELLO\n", oid=hash_bytes(blob))
    body += frame(KIND_SNAPSHOT, snap) + frame(KIND_COMMIT, commit.encode())
    with pytest.raises(BundleError, match="its bytes do not match its id"):
        BundleReader(io.BytesIO(seal(body))).verify()


def test_parent_neither_in_bundle_nor_prerequisite() -> None:
    blob, snap, _ = _valid_parts()
    orphan = _commit(hash_bytes(snap), parents=("ab" * 32,))
    data = Crafted([blob], [snap], [orphan.encode()], {"refs/heads/main": orphan.id}).build()
    with pytest.raises(BundleError, match="neither earlier in the bundle nor a prerequisite"):
        BundleReader(io.BytesIO(data)).verify()


def test_children_before_parents_are_refused() -> None:
    blob, snap, parent = _valid_parts()
    child = _commit(parent.snapshot, parents=(parent.id,), message="child")
    data = Crafted([blob], [snap], [child.encode(), parent.encode()],
                   {"refs/heads/main": child.id}).build()
    with pytest.raises(BundleError, match=f"parent {parent.id} is neither earlier"):
        BundleReader(io.BytesIO(data)).verify()


def test_cycles_cannot_be_expressed() -> None:
    # An id hashes the parents, so a commit naming itself (or a cycle) would need a sha256
    # fixed point. What a hostile bundle can do is name a parent that comes later, or the
    # same parent twice: both are refused, so the reader never follows a loop.
    blob, snap, _ = _valid_parts()
    later = _commit(hash_bytes(snap), message="later")
    loop = _commit(hash_bytes(snap), parents=(later.id,))
    data = Crafted([blob], [snap], [loop.encode(), later.encode()],
                   {"refs/heads/main": loop.id}).build()
    with pytest.raises(BundleError, match="missing, self-parented or cyclic"):
        BundleReader(io.BytesIO(data)).verify()
    twice = _commit(hash_bytes(snap), parents=(later.id, later.id))
    data = Crafted([blob], [snap], [later.encode(), twice.encode()],
                   {"refs/heads/main": twice.id}).build()
    with pytest.raises(BundleError, match="lists a parent twice"):
        BundleReader(io.BytesIO(data)).verify()


def test_bad_signature_is_refused(muse_home: Path) -> None:
    blob, snap, commit = _valid_parts()
    signed = sign_commit(commit)
    assert signed.signature is not None
    forged = Commit(**{**signed.__dict__, "message": "changed after signing"})
    data = Crafted([blob], [snap], [forged.encode()], {"refs/heads/main": forged.id}).build()
    with pytest.raises(BundleError, match=f"commit {forged.id} has a bad signature"):
        BundleReader(io.BytesIO(data)).verify()
    good = Crafted([blob], [snap], [signed.encode()], {"refs/heads/main": signed.id}).build()
    assert BundleReader(io.BytesIO(good)).verify().signatures_good == 1


def test_require_signatures_refuses_unsigned() -> None:
    blob, snap, commit = _valid_parts()
    data = Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id}).build()
    with pytest.raises(BundleError, match="is unsigned"):
        BundleReader(io.BytesIO(data), policy=ReceivePolicy(signers=SIGNED)).verify()


def test_unknown_mandatory_capability_is_refused() -> None:
    blob, snap, commit = _valid_parts()
    data = Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id},
                   mandatory=["sha256", "zstd-frames"]).build()
    with pytest.raises(BundleError, match="needs capabilities this Muse lacks: zstd-frames"):
        BundleReader(io.BytesIO(data)).read_header()


def test_unknown_optional_capability_is_accepted() -> None:
    blob, snap, commit = _valid_parts()
    body = frame(KIND_HEADER, header(refs={"refs/heads/main": commit.id}, optional=["hints"],
                                     objects=1, object_bytes=6, snapshots=1, commits=1))
    body += object_frames(blob) + frame(KIND_SNAPSHOT, snap) + frame(KIND_COMMIT, commit.encode())
    assert BundleReader(io.BytesIO(seal(body))).verify().header.optional == ["hints"]


def test_wrong_magic_and_future_version() -> None:
    blob, snap, commit = _valid_parts()
    good = Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id}).build()
    with pytest.raises(BundleError, match="not a Muse bundle"):
        BundleReader(io.BytesIO(b"PK\x03\x04" + good[4:])).read_header()
    future = good[:8] + b"\x00\x02" + good[10:]
    with pytest.raises(BundleError, match="version 2 is not supported"):
        BundleReader(io.BytesIO(future)).read_header()
    assert good.startswith(MAGIC)


def test_declared_object_size_far_beyond_the_data() -> None:
    blob, snap, commit = _valid_parts()
    huge = 1 << 40
    body = frame(KIND_HEADER, header(refs={"refs/heads/main": commit.id}, objects=1,
                                     object_bytes=huge, snapshots=1, commits=1))
    body += object_frames(blob, size=huge) + frame(KIND_SNAPSHOT, snap)
    body += frame(KIND_COMMIT, commit.encode())
    with pytest.raises(BundleError, match="cut short"):
        BundleReader(io.BytesIO(seal(body))).verify()


def test_frame_length_over_the_limit() -> None:
    data = MAGIC + b"\x00\x01" + bytes([KIND_HEADER]) + b"\xff\xff\xff\xff"
    with pytest.raises(BundleError, match="over the 67108864-byte limit"):
        BundleReader(io.BytesIO(data)).read_header()


@pytest.mark.parametrize("counts", [
    {"objects": 1 << 40}, {"commits": 1 << 33}, {"snapshots": -1},
    {"object_bytes": 1 << 63}, {"objects": True},
])
def test_absurd_counts_in_the_header(counts: dict[str, int]) -> None:
    base = {"objects": 0, "object_bytes": 0, "snapshots": 0, "commits": 0, **counts}
    data = seal(frame(KIND_HEADER, header(**base)))  # type: ignore[arg-type]
    with pytest.raises(BundleError, match=r"absurd counts|invalid counts"):
        BundleReader(io.BytesIO(data)).read_header()


def test_counts_that_understate_the_contents() -> None:
    blob, snap, commit = _valid_parts()
    for key in ("objects", "object_bytes", "snapshots", "commits"):
        data = Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id},
                       header_overrides={key: 0}).build()
        with pytest.raises(BundleError, match=r"more .* than its header declares"):
            BundleReader(io.BytesIO(data)).verify()


def test_counts_that_overstate_the_contents() -> None:
    blob, snap, commit = _valid_parts()
    data = Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id},
                   header_overrides={"commits": 2}).build()
    with pytest.raises(BundleError, match="do not match the counts in its header"):
        BundleReader(io.BytesIO(data)).verify()


def test_object_outside_every_snapshot_is_refused() -> None:
    blob, snap, commit = _valid_parts()
    data = Crafted([blob, b"smuggled"], [snap], [commit.encode()],
                   {"refs/heads/main": commit.id}).build()
    with pytest.raises(BundleError, match="is in no snapshot of the bundle"):
        BundleReader(io.BytesIO(data)).verify()


def test_ref_must_name_a_carried_commit() -> None:
    blob, snap, commit = _valid_parts()
    data = Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": "cd" * 32}).build()
    with pytest.raises(BundleError, match="which the bundle does not carry"):
        BundleReader(io.BytesIO(data)).verify()


@pytest.mark.parametrize("name", ["HEAD", "refs/heads/a..b", "refs/heads/x.lock", "main"])
def test_invalid_ref_names_in_the_header(name: str) -> None:
    data = seal(frame(KIND_HEADER, header(refs={name: ZERO})))
    with pytest.raises(BundleError, match="invalid ref name"):
        BundleReader(io.BytesIO(data)).read_header()


@pytest.mark.parametrize("payload", [b"", b"\xc1", b"\x93\x01\x02\x03", b"\x80",
                                     b"\x81\xa1x\x01", b"\xdd\xff\xff\xff\xff"])
def test_malformed_header_payloads(payload: bytes) -> None:
    with pytest.raises(BundleError, match="header is malformed"):
        BundleReader(io.BytesIO(seal(frame(KIND_HEADER, payload)))).read_header()


def test_out_of_order_sections_are_refused() -> None:
    blob, snap, commit = _valid_parts()
    body = frame(KIND_HEADER, header(refs={"refs/heads/main": commit.id}, objects=2,
                                     object_bytes=8, snapshots=1, commits=1))
    body += object_frames(blob) + frame(KIND_SNAPSHOT, snap) + object_frames(b"zz")
    body += frame(KIND_COMMIT, commit.encode())
    with pytest.raises(BundleError, match="object out of order"):
        BundleReader(io.BytesIO(seal(body))).verify()


def test_stray_data_frame_and_bytes_after_trailer() -> None:
    blob, snap, commit = _valid_parts()
    body = frame(KIND_HEADER, header(refs={"refs/heads/main": commit.id}, objects=1,
                                     object_bytes=6, snapshots=1, commits=1))
    stray = body + frame(KIND_DATA, b"x") + object_frames(blob)
    with pytest.raises(BundleError, match="unexpected frame 'D'"):
        BundleReader(io.BytesIO(seal(stray))).verify()
    good = Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id}).build()
    with pytest.raises(BundleError, match="unexpected bytes after the bundle trailer"):
        BundleReader(io.BytesIO(good + b"\0")).verify()


def test_rejection_is_a_muse_error_with_exit_code_5() -> None:
    with pytest.raises(MuseError) as info:
        BundleReader(io.BytesIO(b"garbage!!!!")).read_header()
    assert info.value.exit_code == 5


class _FailingOut(io.BytesIO):
    """An output that fails after a few bytes, as a full disk does."""

    def write(self, data: Any) -> int:
        if self.tell() > 2000:
            raise OSError(28, "No space left on device")
        return super().write(data)


def test_write_failure_surfaces_and_stops_the_writer(source: Repository) -> None:
    import threading

    from muse.bundle import write_bundle

    big = bytes(range(256)) * 40_000  # ~10 MB: several batches
    ids = [commit_files(source, {"big.wav": big, "small.txt": b"s"}, "big")]
    plan = plan_bundle(source.graph, {"refs/heads/main": ids[0]}, ids, [])
    with pytest.raises(OSError, match="No space left"):
        write_bundle(source.store, plan, _FailingOut())
    assert not any(t.name == "bundle-writer" for t in threading.enumerate())


def test_cli_reports_unwritable_target(source: Repository, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from muse.cli import cli

    history(source)
    assert source.root is not None
    monkeypatch.chdir(source.root)
    (tmp_path / "afile").write_text("not a directory")
    target = tmp_path / "afile" / "x.bundle"
    out = CliRunner().invoke(cli, ["bundle", "create", str(target), "main"])
    assert out.exit_code == 2
    assert f"error: cannot write bundle {target}: {target.parent} is not a folder" in out.stderr
    assert "Traceback" not in out.output


def test_gathered_writes_survive_short_writes_on_a_pipe() -> None:
    import os
    import threading

    from muse.bundle import write_gathered

    pieces: list[bytes | memoryview] = [bytes([i % 251]) * (i * 997 % 70_000)
                                        for i in range(700)]
    expected = b"".join(pieces)  # far more than a pipe buffer: writev returns short
    read_fd, write_fd = os.pipe()
    got = bytearray()

    def drain() -> None:
        while chunk := os.read(read_fd, 4096):
            got.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    write_gathered(write_fd, pieces)
    os.close(write_fd)
    reader.join()
    os.close(read_fd)
    assert bytes(got) == expected


def test_every_single_byte_flip_of_a_small_bundle_is_refused(source: Repository,
                                                             tmp_path: Path) -> None:
    ids = [commit_files(source, {"a.mid": b"MThd", "b.txt": b"b\n"}, "tiny, signed")]
    data, _ = bundle_bytes(source, ids)  # about 700 bytes: every one of them is flipped
    dest = make_repo(tmp_path / "dest")
    before = tree_state(dest.muse_dir)
    for pos in range(len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= 0x80
        with pytest.raises(BundleError):
            receive_bundle(dest.store, io.BytesIO(bytes(damaged)))
    assert tree_state(dest.muse_dir) == before
    assert receive_bundle(dest.store, io.BytesIO(data)).summary.commits == ids[:1]


def test_a_header_over_its_limit_is_refused_before_decoding_and_never_written() -> None:
    refs = {f"refs/tags/take-{i:08d}": "ab" * 32 for i in range(MAX_HEADER_BYTES // 40)}
    header = BundleHeader(refs=refs, prerequisites=[])
    with pytest.raises(UsageError, match="too many refs for one bundle"):
        header.encode()
    oversized = header._encode()
    assert len(oversized) > MAX_HEADER_BYTES
    with pytest.raises(BundleError, match=f"over the {MAX_HEADER_BYTES}-byte limit"):
        _parse_header(oversized)
    fits = BundleHeader(refs=dict(list(refs.items())[:1000]), prerequisites=[])
    assert _parse_header(fits.encode()).refs == fits.refs


def test_the_writer_reports_the_rows_the_reader_finds(source: Repository) -> None:
    # A remote without a server indexes a pushed pack from what the writer reports:
    # it must be exactly what verifying the bundle would have found.
    from muse.receive import verify_pack

    ids = history(source)
    data, summary = bundle_bytes(source, [ids[-1]], [ids[0]])
    verified = verify_pack(io.BytesIO(data), None)
    assert summary.entries == tuple(verified.entries)
    assert {e.kind for e in summary.entries} == {"blob", "snapshot", "commit"}
