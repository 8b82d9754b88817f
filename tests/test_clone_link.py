"""A clone or fetch from a filesystem remote on the same filesystem hard-links its packs.

Remote packs are create-only and named by their sha256, so linking one is safe;
it skips the copy and its sync, never a check: the linked file is verified in
full (every object's hash, signatures, connectivity, and the whole file's
sha256 against the name the remote gave it) before it is installed.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from muse.errors import BundleError
from muse.receive import receive_linked
from muse.store import ObjectStore
from tests.branching_support import commit, ref, repo, write
from tests.remote_support import bare, ok, published
from tests.testkit import tree_state


def _packs(root: Path) -> list[Path]:
    return sorted(root.glob("**/packs/pack-*.bundle"))


def _pushed(muse, repo_dir: Path, tmp_path: Path) -> tuple[Path, str]:
    write(repo_dir, "stems/bass.wav", os.urandom(300_000))
    write(repo_dir, "song.mid", "verse")
    head = commit(muse, repo_dir, "takes")
    remote = bare(muse, tmp_path)
    ok(muse("push", str(remote), "main", cwd=repo_dir))
    return remote, head


def test_a_local_clone_links_the_remote_pack_and_verifies(muse, repo_dir, tmp_path):
    remote, head = _pushed(muse, repo_dir, tmp_path)
    [theirs] = _packs(remote)
    mode = stat.S_IMODE(theirs.stat().st_mode)
    dest = tmp_path / "clone"
    ok(muse("clone", str(remote), str(dest), cwd=tmp_path))
    [mine] = _packs(dest / ".muse")
    assert mine.name == theirs.name
    assert mine.stat().st_ino == theirs.stat().st_ino  # one file, two names: no copy
    assert stat.S_IMODE(theirs.stat().st_mode) == mode  # the remote's file is untouched
    assert repo(dest).head() == head
    assert (dest / "stems/bass.wav").read_bytes() == (repo_dir / "stems/bass.wav").read_bytes()
    ok(muse("verify", cwd=dest))
    assert list((dest / ".muse" / "tmp").iterdir()) == []


def test_a_fetch_links_each_new_pack(muse, repo_dir, tmp_path):
    remote, _first = published(muse, repo_dir, tmp_path)
    dest = tmp_path / "clone"
    ok(muse("clone", str(remote), str(dest), cwd=tmp_path))
    write(repo_dir, "song.mid", "chorus")
    second = commit(muse, repo_dir, "chorus")
    ok(muse("push", cwd=repo_dir))
    ok(muse("fetch", cwd=dest))
    assert ref(dest, "refs/remotes/origin/main") == second
    inodes = {p.name: p.stat().st_ino for p in _packs(remote)}
    assert {p.name: p.stat().st_ino for p in _packs(dest / ".muse")} == inodes


def test_a_damaged_remote_pack_is_refused_even_when_linked(muse, repo_dir, tmp_path):
    remote, _head = _pushed(muse, repo_dir, tmp_path)
    [pack] = _packs(remote)
    os.chmod(pack, 0o644)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the stem's bytes
    pack.write_bytes(bytes(data))
    before = tree_state(remote)
    dest = tmp_path / "clone"
    result = muse("clone", str(remote), str(dest), cwd=tmp_path)
    assert result.exit_code == 5, result.output
    assert "Traceback" not in result.output
    assert not dest.exists()
    assert tree_state(remote) == before


def test_when_linking_is_refused_the_clone_copies(muse, repo_dir, tmp_path, monkeypatch):
    remote, head = _pushed(muse, repo_dir, tmp_path)

    def cross_device(*_args: object, **_kw: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    dest = tmp_path / "clone"
    ok(muse("clone", str(remote), str(dest), cwd=tmp_path))
    [theirs], [mine] = _packs(remote), _packs(dest / ".muse")
    assert mine.stat().st_ino != theirs.stat().st_ino
    assert mine.read_bytes() == theirs.read_bytes()
    assert repo(dest).head() == head


def test_a_linked_pack_must_carry_the_id_its_name_promises(muse, repo_dir, tmp_path):
    remote, _head = _pushed(muse, repo_dir, tmp_path)
    [pack] = _packs(remote)
    store = ObjectStore(tmp_path / "empty" / ".muse")
    store.root.mkdir(parents=True)
    with pytest.raises(BundleError, match="holds a bundle with another id"):
        receive_linked(store, pack, "0" * 64)
    assert store.list_packs() == []
    assert list(store.tmp_dir.iterdir()) == []


def test_a_pack_that_cannot_be_linked_is_left_to_the_copy(tmp_path):
    store = ObjectStore(tmp_path / ".muse")
    store.root.mkdir(parents=True)
    assert receive_linked(store, tmp_path / "no-such.bundle", None) is None
    assert list(store.tmp_dir.iterdir()) == []


def test_a_pack_mostly_stored_already_is_not_linked_only_its_new_items_kept(muse, repo_dir,
                                                                           tmp_path):
    first_remote, _head = _pushed(muse, repo_dir, tmp_path)
    dest = tmp_path / "clone"
    ok(muse("clone", str(first_remote), str(dest), cwd=tmp_path))
    write(repo_dir, "notes.txt", "a small new take")
    head = commit(muse, repo_dir, "notes")
    second_remote = bare(muse, tmp_path, "second.muse")  # holds the whole history again
    ok(muse("push", str(second_remote), "main", cwd=repo_dir))
    ok(muse("remote", "add", "second", str(second_remote), cwd=dest))
    ok(muse("fetch", "second", cwd=dest))
    assert ref(dest, "refs/remotes/second/main") == head
    [theirs] = _packs(second_remote)
    # Nothing linked from it: its new items were copied into a pack of their own.
    assert all(p.stat().st_ino != theirs.stat().st_ino for p in _packs(dest / ".muse"))
    newest = max(_packs(dest / ".muse"), key=lambda p: p.stat().st_mtime_ns)
    assert newest.stat().st_size < theirs.stat().st_size // 10  # the stem is not kept twice
    ok(muse("verify", cwd=dest))
