"""Receiving a bundle most of whose items are already stored keeps only what is new."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from muse.errors import BundleError
from muse.fsck import verify_repository
from muse.gc import storage_bytes
from muse.receive import receive_bundle
from muse.repo import Repository
from tests.bundle_repos import bundle_bytes, commit_files, make_repo
from tests.testkit import MuseRunner, tree_state

STEM = 200_000


def stems(tag: bytes) -> dict[str, bytes]:
    return {f"stems/{n}.wav": tag + bytes([n]) * STEM for n in range(5)}


@pytest.fixture
def overlapping(muse_home: Path, tmp_path: Path) -> tuple[bytes, bytes, Repository]:
    """Two whole bundles (no prerequisites) sharing five 200 KB stems; the second adds one
    small file."""
    source = make_repo(tmp_path / "source")
    first = commit_files(source, stems(b"RIFF"), "stems", sign=False)
    one, _ = bundle_bytes(source, [first])
    second = commit_files(source, {"mix.txt": b"louder\n"}, "mix", sign=False)
    two, _ = bundle_bytes(source, [second])
    return one, two, source


def test_second_overlapping_bundle_keeps_only_its_new_items(
        tmp_path: Path, overlapping: tuple[bytes, bytes, Repository]) -> None:
    one, two, source = overlapping
    target = make_repo(tmp_path / "target")
    receive_bundle(target.store, io.BytesIO(one))
    after_one = storage_bytes(target.store)
    got = receive_bundle(target.store, io.BytesIO(two))
    added = storage_bytes(target.store) - after_one
    assert got.new_items == 3  # mix.txt, a snapshot and a commit: none of the stems
    assert len(two) > 5 * STEM and added < 5_000  # not the 1 MB of stems again
    fresh = Repository.find(target.root)
    head = source.head()
    assert head is not None
    fresh.refs.update("refs/heads/main", None, head, "unbundle")
    assert verify_repository(fresh).ok
    snap = fresh.commit_snapshot(head)
    assert fresh.store.read(snap.as_dict()["mix.txt"].oid) == b"louder\n"
    assert fresh.store.read(snap.as_dict()["stems/3.wav"].oid) == b"RIFF" + bytes([3]) * STEM


def test_a_bundle_of_new_items_is_kept_whole(
        tmp_path: Path, overlapping: tuple[bytes, bytes, Repository]) -> None:
    one, _, _ = overlapping
    target = make_repo(tmp_path / "target")
    summary = receive_bundle(target.store, io.BytesIO(one)).summary
    assert target.store.list_packs() == [summary.bundle_id]  # the bundle itself, unchanged
    pack = target.muse_dir / "packs" / f"pack-{summary.bundle_id}.bundle"
    assert pack.read_bytes() == one


def test_unbundle_cli_twice_stores_the_shared_stems_once(
        muse: MuseRunner, tmp_path: Path, overlapping: tuple[bytes, bytes, Repository]) -> None:
    one, two, _ = overlapping
    (tmp_path / "one.bundle").write_bytes(one)
    (tmp_path / "two.bundle").write_bytes(two)
    target = make_repo(tmp_path / "target")
    assert target.root is not None
    assert muse("bundle", "unbundle", str(tmp_path / "one.bundle"), cwd=target.root).exit_code == 0
    after_one = storage_bytes(target.store)
    res = muse("bundle", "unbundle", str(tmp_path / "two.bundle"), cwd=target.root)
    assert res.exit_code == 0, res.output
    assert storage_bytes(target.store) - after_one < 5_000
    assert muse("verify", cwd=target.root).exit_code == 0


def test_a_damaged_overlapping_bundle_leaves_nothing(
        tmp_path: Path, overlapping: tuple[bytes, bytes, Repository]) -> None:
    one, two, _ = overlapping
    target = make_repo(tmp_path / "target")
    assert target.root is not None
    receive_bundle(target.store, io.BytesIO(one))
    before = tree_state(target.root)
    damaged = bytearray(two)
    damaged[len(damaged) // 2] ^= 1
    with pytest.raises(BundleError):
        receive_bundle(target.store, io.BytesIO(bytes(damaged)))
    assert tree_state(target.root) == before
