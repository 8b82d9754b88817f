"""The filesystem remote's own layout: the refs document, the lock, first pushes, orphan packs."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from muse.errors import TransientRemoteError
from muse.refs import RefUpdate
from muse.repo import Repository
from muse.transfer import push
from remotes.fs import FsRemote
from tests.remotes.remote_support import (
    MAIN,
    assert_no_ghost_refs,
    commit_files,
    tree_state,
)


def test_the_refs_document_matches_its_documented_format(tmp_path: Path,
                                                          local: Repository) -> None:
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    push(local, FsRemote(remote), [(MAIN, MAIN), (MAIN, "refs/tags/v1")])
    doc = json.loads((remote / "refs.json").read_text())
    head = local.head()
    assert doc["format"] == "muse-remote-refs" and doc["version"] == 1
    assert doc["refs"] == {MAIN: head, "refs/tags/v1": head}
    canonical = json.dumps(doc["refs"], sort_keys=True, separators=(",", ":"))
    assert doc["checksum"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    # Refs live only in refs.json: the bare layout's refs/ holds no file.
    assert [p for p in (remote / "refs").rglob("*") if not p.is_dir()] == []
    packs = sorted(p.suffix for p in (remote / "packs").iterdir())
    assert packs == [".bundle", ".idx", ".midx"]
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


def test_a_refused_push_leaves_an_orphan_pack_that_harms_nothing(tmp_path: Path,
                                                                 local: Repository) -> None:
    remote = tmp_path / "remote.muse"
    Repository.init(remote, bare=True)
    driver = FsRemote(remote)
    push(local, driver, [(MAIN, MAIN)])
    base = local.head()
    new = commit_files(local, {"more.mid": b"more"}, "more")
    from muse.bundle import plan_bundle, write_bundle

    plan = plan_bundle(local.graph, {MAIN: new}, [new], [base] if base else [])
    bundle = tmp_path / "b.bundle"
    with open(bundle, "wb") as out:
        write_bundle(local.store, plan, out)
    with open(bundle, "rb") as source:
        results = driver.push(source, [RefUpdate(MAIN, "00" * 32, new)])  # stale old
    assert [r.ok for r in results] == [False]
    assert driver.list_refs() == {MAIN: base}
    assert_no_ghost_refs(driver, tmp_path / "probe1")
    report = push(local, driver, [(MAIN, MAIN)])
    assert [o.status for o in report.refs] == ["fast-forward"]
    assert driver.list_refs() == {MAIN: new}


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
from muse.transfer import push
from remotes.fs import FsRemote
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
