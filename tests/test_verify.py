"""`muse verify`: a clean repository passes; every kind of damage is named, exit 1."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from muse.fsck import verify_repository
from muse.objects import Snapshot, SnapshotEntry
from muse.repo import Repository
from tests.testkit import MuseRunner, tree_state


def write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def two_commits(muse: MuseRunner, repo_dir: Path) -> Repository:
    write(repo_dir, "song.mid", b"MThd first")
    write(repo_dir, "stems/bass.wav", b"RIFF" + bytes(5000))
    assert muse("commit", "-m", "one", cwd=repo_dir).exit_code == 0
    write(repo_dir, "song.mid", b"MThd second")
    assert muse("commit", "-m", "two", cwd=repo_dir).exit_code == 0
    return Repository.find(repo_dir)


def loose(repo: Repository, oid: str) -> Path:
    return repo.muse_dir / "objects" / oid[:2] / oid[2:]


def blob_of(repo: Repository, path: str) -> str:
    snap = repo.head_snapshot()
    assert snap is not None
    return snap.as_dict()[path].oid


def run_verify(muse: MuseRunner, repo_dir: Path, *args: str) -> tuple[int, str, str]:
    before = tree_state(repo_dir)
    res = muse("verify", *args, cwd=repo_dir)
    assert tree_state(repo_dir) == before  # verify never repairs or rewrites anything
    return res.exit_code, res.stdout, res.stderr


def test_clean_repository(muse: MuseRunner, repo_dir: Path, two_commits: Repository) -> None:
    code, out, err = run_verify(muse, repo_dir)
    assert code == 0, err
    assert "checked 1 ref, 2 commits, 2 snapshots, 3 objects" in out
    assert "signatures: 2 good, 0 untrusted, 0 bad, 0 unsigned" in out
    assert out.rstrip().endswith("ok") and err == ""
    code, out, _ = run_verify(muse, repo_dir, "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True and data["problems"] == []
    assert data["checked"]["commits"] == 2 and data["checked"]["objects"] == 3
    assert data["checked"]["bytes"] == len(b"MThd first") + 5004 + len(b"MThd second")


def test_empty_repository_is_fine(muse: MuseRunner, repo_dir: Path) -> None:
    code, out, _ = run_verify(muse, repo_dir)
    assert code == 0 and "0 commits" in out


def test_flipped_byte_in_blob(muse: MuseRunner, repo_dir: Path, two_commits: Repository
                              ) -> None:
    oid = blob_of(two_commits, "stems/bass.wav")
    path = loose(two_commits, oid)
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0x01
    path.write_bytes(bytes(raw))
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1
    assert f"problem: object {oid} is corrupt: its bytes hash to another id" in err
    assert "1 problem found" in err


def test_flipped_byte_in_commit(muse: MuseRunner, repo_dir: Path, two_commits: Repository
                                ) -> None:
    head = two_commits.head()
    assert head is not None
    path = loose(two_commits, head)
    raw = bytearray(path.read_bytes())
    raw[-70] ^= 0x01
    path.write_bytes(bytes(raw))
    code, out, _ = run_verify(muse, repo_dir, "--json")
    assert code == 1
    problems = json.loads(out)["problems"]
    assert {"subject": head, "kind": "commit",
            "message": f"commit {head} is corrupt: its bytes hash to another id"} in problems


def test_missing_blob(muse: MuseRunner, repo_dir: Path, two_commits: Repository) -> None:
    oid = blob_of(two_commits, "stems/bass.wav")
    loose(two_commits, oid).unlink()
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1
    assert f"object {oid} is missing" in err and "stems/bass.wav" in err


def test_missing_snapshot(muse: MuseRunner, repo_dir: Path, two_commits: Repository) -> None:
    head = two_commits.head()
    assert head is not None
    snap = two_commits.graph.commit(head).snapshot
    loose(two_commits, snap).unlink()
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1
    assert f"snapshot {snap} of commit {head} is missing" in err


def test_missing_parent(muse: MuseRunner, repo_dir: Path, two_commits: Repository) -> None:
    head = two_commits.head()
    assert head is not None
    parent = two_commits.graph.commit(head).parents[0]
    loose(two_commits, parent).unlink()
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1
    assert f"parent {parent} is missing (named by commit {head})" in err


def test_ref_to_missing_commit_and_damaged_refs(muse: MuseRunner, repo_dir: Path,
                                                two_commits: Repository) -> None:
    ghost = "e" * 64
    write(repo_dir, ".muse/refs/remotes/origin/main", ghost.encode() + b"\n")
    write(repo_dir, ".muse/refs/tags/broken", b"not-an-id\n")
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1
    assert f"commit {ghost} is missing (named by ref refs/remotes/origin/main)" in err
    assert "ref refs/tags/broken is damaged" in err
    assert "2 problems found" in err


def test_damaged_head(muse: MuseRunner, repo_dir: Path, two_commits: Repository) -> None:
    (repo_dir / ".muse/HEAD").write_text("ref: refs/heads/../../etc\n")
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1 and "HEAD points at an invalid ref name" in err
    (repo_dir / ".muse/HEAD").write_text("rubbish\n")
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1 and "HEAD is damaged: 'rubbish'" in err


def test_detached_head_commit_is_checked(muse: MuseRunner, repo_dir: Path,
                                         two_commits: Repository) -> None:
    ghost = "d" * 64
    (repo_dir / ".muse/HEAD").write_text(ghost + "\n")
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1 and f"commit {ghost} is missing (named by ref HEAD)" in err


def test_bad_signature(muse: MuseRunner, repo_dir: Path, two_commits: Repository) -> None:
    head = two_commits.head()
    assert head is not None
    good = two_commits.graph.commit(head)
    assert good.signature is not None
    evil = replace(good, signature=bytes([good.signature[0] ^ 0x80]) + good.signature[1:])
    with two_commits.store.batch() as batch:
        batch.add_bytes(evil.encode())
    two_commits.refs.update("refs/heads/evil", None, evil.id, "test")
    code, out, err = run_verify(muse, repo_dir)
    assert code == 1
    assert f"problem: commit {evil.id} has a bad signature" in err
    assert "signatures: 2 good, 0 untrusted, 1 bad, 0 unsigned" in out
    data = json.loads(run_verify(muse, repo_dir, "--json")[1])
    assert data["signatures"]["bad"] == 1
    assert [p["subject"] for p in data["problems"]] == [evil.id]


def test_unsigned_reported_and_required(muse: MuseRunner, repo_dir: Path,
                                        two_commits: Repository) -> None:
    write(repo_dir, "song.mid", b"MThd third")
    assert muse("commit", "-m", "three", "--unsigned", cwd=repo_dir).exit_code == 0
    head = Repository.find(repo_dir).head()
    code, out, _ = run_verify(muse, repo_dir)
    assert code == 0 and f"unsigned: commit {head}" in out
    code, _, err = run_verify(muse, repo_dir, "--require-signatures")
    assert code == 1 and f"commit {head} is unsigned" in err


def test_snapshot_size_mismatch_and_undecodable_snapshot(muse: MuseRunner, repo_dir: Path,
                                                         two_commits: Repository) -> None:
    repo = two_commits
    blob = blob_of(repo, "song.mid")
    lying = Snapshot.from_entries([SnapshotEntry("song.mid", blob, 999)])
    head = repo.head()
    assert head is not None
    c1 = repo.make_commit(lying.id, [head], "lies about a size")
    c2 = repo.make_commit(blob, [head], "names a blob as its snapshot")
    with repo.store.batch() as batch:
        batch.add_bytes(lying.encode())
        batch.add_bytes(c1.encode())
        batch.add_bytes(c2.encode())
    repo.refs.update("refs/heads/lies", None, c1.id, "t")
    repo.refs.update("refs/tags/wrong", None, c2.id, "t")
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1
    assert f"object {blob} has 11 bytes but snapshot {lying.id} (song.mid) says 999" in err
    assert f"snapshot {blob} of commit {c2.id} does not decode" in err


def test_ref_to_a_non_commit(muse: MuseRunner, repo_dir: Path, two_commits: Repository
                             ) -> None:
    blob = blob_of(two_commits, "song.mid")
    two_commits.refs.update("refs/tags/blob", None, blob, "t")
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1
    assert f"{blob} (named by ref refs/tags/blob) is not a valid commit" in err


def test_unreachable_corrupt_object_is_found(muse: MuseRunner, repo_dir: Path,
                                             two_commits: Repository) -> None:
    with two_commits.store.batch() as batch:
        stray = batch.add_bytes(b"nobody points at me")
    path = loose(two_commits, stray)
    path.write_bytes(b"nobody points at mE")
    code, out, err = run_verify(muse, repo_dir)
    assert code == 1 and f"unreachable object {stray} is corrupt" in err
    path.write_bytes(b"nobody points at me")
    code, out, _ = run_verify(muse, repo_dir)
    assert code == 0 and "1 unreachable object" in out


def test_core_report_counts(two_commits: Repository) -> None:
    report = verify_repository(two_commits)
    assert report.ok
    assert (report.refs, report.commits, report.snapshots, report.objects) == (1, 2, 2, 3)
    assert report.signed_good == 2 and report.unsigned == []


def _add_pack(repo: Repository, objects: list[bytes]) -> list[str]:
    from muse.frames import KIND_DATA, encode_header
    from muse.objects import hash_bytes
    from muse.store import PackEntry

    tmp = repo.store.new_tmp_file(".bundle")
    entries = []
    with open(tmp, "wb") as out:
        for data in objects:
            entries.append(PackEntry(hash_bytes(data), out.tell(), len(data)))
            out.write(encode_header(KIND_DATA, len(data)) + data)
    repo.store.put_pack("test", tmp, entries)
    return [e.oid for e in entries]


def test_packed_objects_are_verified(muse: MuseRunner, repo_dir: Path,
                                     two_commits: Repository) -> None:
    [oid] = _add_pack(two_commits, [b"packed and unreachable"])
    code, out, _ = run_verify(muse, repo_dir)
    assert code == 0 and "1 unreachable object" in out
    pack = repo_dir / ".muse/packs/pack-test.bundle"
    raw = bytearray(pack.read_bytes())
    raw[-1] ^= 0x01
    pack.write_bytes(bytes(raw))
    code, _, err = run_verify(muse, repo_dir)
    assert code == 1 and f"unreachable object {oid} is corrupt" in err


def test_damaged_pack_index_is_reported_and_the_rest_checked(
        muse: MuseRunner, repo_dir: Path, two_commits: Repository) -> None:
    _add_pack(two_commits, [b"packed"])
    idx = repo_dir / ".muse/packs/pack-test.idx"
    raw = bytearray(idx.read_bytes())
    raw[-1] ^= 0x01
    idx.write_bytes(bytes(raw))
    code, out, err = run_verify(muse, repo_dir)
    assert code == 1
    assert "pack index pack-test.idx" in err and "checksum" in err
    assert "2 commits, 2 snapshots, 3 objects" in out  # loose history still fully checked
    assert "1 problem found" in err


def _flip_midx_byte(repo_dir: Path, at: int) -> None:
    midx = repo_dir / ".muse/packs/multi-pack.midx"
    raw = bytearray(midx.read_bytes())
    raw[at] ^= 0x01
    midx.write_bytes(bytes(raw))


def test_damaged_multi_pack_index_is_reported_and_packs_still_checked(
        muse: MuseRunner, repo_dir: Path, two_commits: Repository) -> None:
    _add_pack(two_commits, [b"packed one", b"packed two"])
    _flip_midx_byte(repo_dir, -40)  # inside the rows
    code, out, err = run_verify(muse, repo_dir)  # and nothing rewritten (run_verify checks)
    assert code == 1
    assert "problem: packs/multi-pack.midx: multi-pack index fails its checksum" in err
    assert "2 unreachable objects" in out  # read through the .idx files instead
    assert "1 problem found" in err


def test_multi_pack_index_disagreeing_with_a_pack_index_is_reported(
        muse: MuseRunner, repo_dir: Path, two_commits: Repository) -> None:
    from muse.midx import MultiPackIndex

    [oid] = _add_pack(two_commits, [b"packed"])
    midx_path = repo_dir / ".muse/packs/multi-pack.midx"
    good = MultiPackIndex.decode(midx_path.read_bytes())
    [(raw, pack, offset, size, code)] = list(good.rows())
    # A well-formed file (checksum right) whose row points at the wrong offset.
    wrong = MultiPackIndex.empty().with_rows([pack], [(raw, pack, offset + 1, size, code)])
    midx_path.write_bytes(wrong.encode())
    exit_code, out, err = run_verify(muse, repo_dir)
    assert exit_code == 1
    assert f"disagree with their .idx files (2 differing rows, first for object {oid}" in err
    assert "1 unreachable object" in out and "1 problem found" in err


def test_verify_runs_in_a_bare_repository(muse: MuseRunner, tmp_path: Path) -> None:
    bare = tmp_path / "store.muse"
    assert muse("init", "--bare", str(bare), cwd=tmp_path).exit_code == 0
    code, out, _ = run_verify(muse, bare)
    assert code == 0 and "checked 0 refs" in out
    (bare / "refs/heads/main").write_text("junk\n")
    code, _, err = run_verify(muse, bare)
    assert code == 1 and "ref refs/heads/main is damaged" in err
