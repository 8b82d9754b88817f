"""Receiving a bundle as a pack: copied while verified, never sharing the user's file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from muse.errors import BundleError
from muse.receive import receive_bundle
from tests.bundle_repos import bundle_bytes, commit_files, make_repo


@pytest.fixture
def bundle_file(tmp_path: Path, muse_home: Path) -> tuple[Path, bytes, str]:
    source = make_repo(tmp_path / "source")
    commit_files(source, {"drums.wav": os.urandom(300_000), "bass.mid": b"MThd" * 50}, "take")
    head = source.head()
    assert head is not None
    data, summary = bundle_bytes(source, [head])
    path = tmp_path / "incoming.bundle"
    path.write_bytes(data)
    return path, data, summary.bundle_id


def _pack(repo_root: Path, bundle_id: str) -> Path:
    return repo_root / ".muse" / "packs" / f"pack-{bundle_id}.bundle"


def test_a_users_bundle_file_is_copied_and_left_as_it_was(
        tmp_path: Path, bundle_file: tuple[Path, bytes, str]) -> None:
    # Sharing its inode would let a later in-place rewrite of the user's file
    # (cp over it, an editor, rsync --inplace) damage the repository's pack.
    path, data, bundle_id = bundle_file
    os.chmod(path, 0o640)
    target = make_repo(tmp_path / "target")
    with open(path, "rb") as handle:
        receive_bundle(target.store, handle)
    pack = _pack(tmp_path / "target", bundle_id)
    assert pack.stat().st_ino != path.stat().st_ino
    assert path.stat().st_mode & 0o777 == 0o640
    with open(path, "r+b") as rewrite:
        rewrite.write(b"overwritten in place")
    assert pack.read_bytes() == data


def test_a_stream_is_copied(tmp_path: Path, bundle_file: tuple[Path, bytes, str]) -> None:
    _, data, bundle_id = bundle_file
    target = make_repo(tmp_path / "target")
    receive_bundle(target.store, io.BytesIO(data))
    assert _pack(tmp_path / "target", bundle_id).read_bytes() == data


@pytest.mark.parametrize("as_file", [True, False])
def test_a_damaged_bundle_leaves_nothing_either_way(tmp_path: Path, as_file: bool,
                                                    bundle_file: tuple[Path, bytes, str]) -> None:
    path, data, _ = bundle_file
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))
    target = make_repo(tmp_path / "target")
    with pytest.raises(BundleError), open(path, "rb") as handle:
        receive_bundle(target.store, handle if as_file else io.BytesIO(handle.read()))
    muse_dir = tmp_path / "target" / ".muse"
    assert os.listdir(muse_dir / "packs") == []
    assert os.listdir(muse_dir / "tmp") == []
    assert path.read_bytes() == bytes(damaged)  # the sender's file is never touched
