"""The filesystem remote's own layout: the refs document, the lock, first pushes, orphan packs."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from muse.errors import RemoteError, TransientRemoteError
from muse.refs import RefUpdate
from muse.repo import Repository
from muse.transfer import fetch, push
from remotes.bucket import pack_key
from remotes.fs import DirBucket, FsRemote
from tests.remotes.remote_support import (
    MAIN,
    assert_no_ghost_refs,
    commit_files,
    tree_state,
    write_push_bundle,
)


def test_the_refs_document_matches_its_documented_format(tmp_path: Path,
                                                          local: Repository) -> None:
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    push(local, FsRemote(remote), [(MAIN, MAIN), (MAIN, "refs/tags/v1")])
    doc = json.loads((remote / "refs.json").read_text())
    head = local.head()
    assert doc["refs"] == {MAIN: head, "refs/tags/v1": head}
    assert doc["format"] == "muse-remote-refs" and doc["version"] == 2
    (pack_id, commits), = doc["packs"].items()
    assert commits == [head]
    canonical = json.dumps({"refs": doc["refs"], "packs": doc["packs"]}, sort_keys=True,
                           separators=(",", ":"))
    assert doc["checksum"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    # Refs live only in refs.json: the bare layout's refs/ holds no file.
    assert [p for p in (remote / "refs").rglob("*") if not p.is_dir()] == []
    packs = sorted(p.name for p in (remote / "packs").iterdir())
    assert packs == [f"pack-{pack_id}.bundle", f"pack-{pack_id}.index"]
    pack = (remote / "packs" / f"pack-{pack_id}.bundle").read_bytes()
    assert hashlib.sha256(pack).hexdigest() == pack_id  # content-addressed: key = bundle id
    index = json.loads((remote / "packs" / f"pack-{pack_id}.index").read_text())
    assert index["pack"] == pack_id and index["size"] == len(pack)
    assert index["requires"] == [] and list(index["commits"]) == [head]
    kinds = sorted(row[3] for row in index["objects"])
    assert kinds == ["blob", "commit", "snapshot"]
    assert not (remote / "refs.lock").exists()


def test_a_lock_held_by_a_live_pusher_is_a_transient_error(tmp_path: Path,
                                                           local: Repository) -> None:
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    # This test process is alive: its lock must be respected, not broken.
    (remote / "refs.lock").write_text(f"{os.getpid()} {socket.gethostname()} {time.time()}\n")
    started = time.monotonic()
    with pytest.raises(TransientRemoteError, match="locked by another Muse process") as caught:
        push(local, FsRemote(remote, lock_wait=0.3), [(MAIN, MAIN)])
    assert time.monotonic() - started < 5
    assert caught.value.exit_code == 6
    assert FsRemote(remote).list_refs() == {}
    (remote / "refs.lock").unlink()
    push(local, FsRemote(remote), [(MAIN, MAIN)])
    assert FsRemote(remote).list_refs() == {MAIN: local.head()}


def test_a_pack_no_refs_document_names_harms_nothing_and_is_reused(tmp_path: Path,
                                                                  local: Repository) -> None:
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    driver = FsRemote(remote)
    push(local, driver, [(MAIN, MAIN)])
    base = local.head()
    new = commit_files(local, {"more.mid": b"more"}, "more")
    bundle = write_push_bundle(local, tmp_path / "b.bundle", new, base)
    # A pusher stored its pack, then died (or lost its race) before the refs swap.
    assert DirBucket(remote).put_if_absent(pack_key(bundle.sha256), bundle.path)
    assert driver.list_refs() == {MAIN: base}
    assert_no_ghost_refs(driver, tmp_path / "probe1")
    # The same push again: the same bundle id, the same key, which is kept as it is.
    assert [r.ok for r in driver.push(bundle, [RefUpdate(MAIN, base, new)])] == [True]
    assert driver.list_refs() == {MAIN: new}
    assert len(list((remote / "packs").glob("*.bundle"))) == 2
    assert_no_ghost_refs(driver, tmp_path / "probe2")


def test_an_update_naming_a_commit_the_remote_lacks_is_refused(tmp_path: Path,
                                                              local: Repository) -> None:
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    before = tree_state(remote)
    head = local.head()
    assert head is not None
    with pytest.raises(Exception, match="neither in the bundle nor on the remote") as caught:
        FsRemote(remote).push(None, [RefUpdate(MAIN, None, head)])
    assert getattr(caught.value, "exit_code", None) == 5
    assert tree_state(remote) == before


def test_refs_that_would_clash_as_folders_are_refused(tmp_path: Path,
                                                      local: Repository) -> None:
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    driver = FsRemote(remote)
    push(local, driver, [(MAIN, "refs/heads/band")])
    results = driver.push(None, [RefUpdate("refs/heads/band/drums", None, local.head())])
    assert not results[0].ok and "clashes" in (results[0].reason or "")
    assert list(driver.list_refs()) == ["refs/heads/band"]


FIRST_PUSH = """
import os, sys, time
from pathlib import Path
from muse.repo import Repository
from muse.transfer import fetch, push
from remotes.bucket import pack_key
from remotes.fs import DirBucket, FsRemote
repo = Repository.find(Path(sys.argv[1]))
while not os.path.exists(sys.argv[3]):
    time.sleep(0.001)
push(repo, FsRemote(sys.argv[2]), [("refs/heads/main", sys.argv[4])])
"""


def test_concurrent_first_pushes_into_an_empty_directory(tmp_path: Path,
                                                         local: Repository) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    go = tmp_path / "go"
    assert local.root is not None
    procs = [subprocess.Popen([sys.executable, "-c", FIRST_PUSH, str(local.root), str(empty),
                               str(go), f"refs/heads/b{i}"], stderr=subprocess.PIPE)
             for i in range(6)]
    time.sleep(0.5)
    go.write_text("go")
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    refs = FsRemote(empty).list_refs()
    assert refs == {f"refs/heads/b{i}": local.head() for i in range(6)}
    assert_no_ghost_refs(FsRemote(empty), tmp_path / "probe")


@pytest.mark.parametrize("damage, why", [
    (lambda index: index.write_bytes(b"{not json"), "is corrupt: not valid JSON"),
    (lambda index: index.write_text(json.dumps({"format": "muse-pack-index"})),
     "is corrupt: expected exactly the keys"),
    (lambda index: index.unlink(), "is incomplete"),
], ids=["json", "schema", "missing"])
def test_a_damaged_pack_index_fails_a_fetch_and_changes_nothing(
        tmp_path: Path, local: Repository, damage: Callable[[Path], None], why: str) -> None:
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    push(local, FsRemote(remote), [(MAIN, MAIN)])
    (index,) = (remote / "packs").glob("*.index")
    os.chmod(index, 0o644)
    damage(index)
    probe = Repository.init(tmp_path / "probe", bare=True)
    before = tree_state(tmp_path / "probe")
    with pytest.raises(RemoteError, match=why) as caught:
        fetch(probe, FsRemote(remote), "origin")
    assert caught.value.exit_code == 6
    assert tree_state(tmp_path / "probe") == before


def test_a_killed_pushers_upload_is_swept_by_the_next_push(tmp_path: Path,
                                                          local: Repository) -> None:
    from muse.workfiles import work_prefix

    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    staging = remote / "tmp"
    staging.mkdir(exist_ok=True)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    parts = (work_prefix() + "upload").split("-")
    parts[3], parts[4] = str(child.pid), "x"  # the name a killed pusher's upload had
    dead = staging / "-".join(parts)
    dead.write_bytes(b"half a bundle" * 1000)
    live = staging / (work_prefix() + "other-upload")  # a live pusher's: left alone
    live.write_bytes(b"being written")
    push(local, FsRemote(remote), [(MAIN, MAIN)])
    assert sorted(p.name for p in staging.iterdir()) == [live.name]
    assert_no_ghost_refs(FsRemote(remote), tmp_path / "probe")


def test_a_pushers_own_bundle_is_kept_by_hard_link_and_a_users_is_copied(
        tmp_path: Path) -> None:
    # A local push writes its bytes once: the remote adopts the pusher's temporary
    # bundle. Anything else is copied, so rewriting it later cannot touch the remote.
    bucket = DirBucket(tmp_path / "remote.muse")
    (tmp_path / "remote.muse").mkdir()
    own = tmp_path / "push.bundle"
    own.write_bytes(b"a pushed bundle")
    assert bucket.put_if_absent("packs/own", own, disposable=True)
    assert (tmp_path / "remote.muse/packs/own").stat().st_ino == own.stat().st_ino
    users = tmp_path / "users.bundle"
    users.write_bytes(b"a user's bundle")
    assert bucket.put_if_absent("packs/users", users)
    stored = tmp_path / "remote.muse/packs/users"
    assert stored.stat().st_ino != users.stat().st_ino
    users.write_bytes(b"rewritten in place")
    assert stored.read_bytes() == b"a user's bundle"
