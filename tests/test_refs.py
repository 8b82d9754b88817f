"""Refs: compare-and-swap, all-or-nothing transactions, HEAD, and lock recovery."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from muse.errors import ConflictError, RefConflictError, RepositoryError, UsageError
from muse.lockfile import locked
from muse.reflog import DamagedLine, ReflogEntry
from muse.refs import (
    MAX_REF_PART_BYTES,
    RefStore,
    RefUpdate,
    check_ref_name,
    check_transferable_ref,
)
from tests.testkit import tree_state

A, B, C = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture
def refs(tmp_path: Path) -> RefStore:
    root = tmp_path / ".muse"
    (root / "refs/heads").mkdir(parents=True)
    (root / "HEAD").write_text("ref: refs/heads/main\n")
    return RefStore(root)


def test_create_update_delete_with_cas(refs: RefStore) -> None:
    refs.update("refs/heads/main", None, A, "create")
    assert refs.read("refs/heads/main") == A
    assert refs.head_commit() == A
    refs.update("refs/heads/main", A, B, "move")
    assert refs.read("refs/heads/main") == B
    refs.update("refs/heads/main", B, None, "delete")
    assert refs.read("refs/heads/main") is None
    log = list(refs.reflog("refs/heads/main"))  # newest first
    assert [(e.old, e.new) for e in log] == [(B, None), (A, B), (None, A)]
    assert [e.message for e in log] == ["delete", "move", "create"]
    # HEAD follows main: its log has the moves that changed what HEAD resolves to.
    assert [(e.old, e.new) for e in refs.reflog("HEAD")] == [(A, B), (None, A)]


def test_cas_conflict_changes_nothing(refs: RefStore) -> None:
    refs.update("refs/heads/main", None, A, "create")
    with pytest.raises(RefConflictError, match="expected bbbbbbbbbbbb, found aaaaaaaaaaaa") as e:
        refs.update("refs/heads/main", B, C, "stale")
    assert e.value.exit_code == 4
    with pytest.raises(RefConflictError, match="expected \\(none\\)"):
        refs.update("refs/heads/main", None, C, "create again")
    assert refs.read("refs/heads/main") == A
    assert len(list(refs.reflog("refs/heads/main"))) == 1
    assert not list(refs.root.rglob("*.lock"))


@pytest.mark.parametrize(("existing", "wanted", "in_the_way"), [
    ("refs/remotes/origin/takes", "refs/remotes/origin/takes/drums", "refs/remotes/origin/takes"),
    ("refs/remotes/origin/takes/drums", "refs/remotes/origin/takes", "refs/remotes/origin/takes/"),
])
def test_a_ref_cannot_be_created_where_another_is_a_folder(
        refs: RefStore, existing: str, wanted: str, in_the_way: str) -> None:
    refs.update(existing, None, A, "create")
    assert refs.clash(wanted) == in_the_way
    before = tree_state(refs.root)
    with pytest.raises(ConflictError, match=f"cannot create ref {wanted}: {in_the_way} is in "
                                            "the way") as caught:
        refs.transaction([RefUpdate("refs/heads/other", None, B),
                          RefUpdate(wanted, None, B)], "fetch")
    assert caught.value.exit_code == 4
    assert tree_state(refs.root) == before  # not even the unrelated ref of the same update
    assert refs.clash("refs/heads/free") is None


def test_transaction_is_all_or_nothing(refs: RefStore) -> None:
    refs.transaction([RefUpdate("refs/heads/x", None, A), RefUpdate("refs/tags/v1", None, B)],
                     "both")
    before = refs.list()
    with pytest.raises(RefConflictError, match="refs/tags/v1"):
        refs.transaction([
            RefUpdate("refs/heads/x", A, C),       # would succeed alone
            RefUpdate("refs/heads/new", None, C),  # would succeed alone
            RefUpdate("refs/tags/v1", A, C),       # stale expectation
        ], "partial?")
    assert refs.list() == before
    assert refs.read("refs/heads/new") is None
    with pytest.raises(UsageError, match="twice"):
        refs.transaction([RefUpdate("refs/heads/x", A, B), RefUpdate("refs/heads/x", A, C)],
                         "dup")


def test_list_by_prefix_sorted(refs: RefStore) -> None:
    for name in ("refs/heads/b", "refs/heads/a", "refs/tags/t", "refs/remotes/origin/main"):
        refs.update(name, None, A, "x")
    assert list(refs.list()) == ["refs/heads/a", "refs/heads/b", "refs/remotes/origin/main",
                                 "refs/tags/t"]
    assert list(refs.list("refs/heads/")) == ["refs/heads/a", "refs/heads/b"]


def test_damaged_ref_and_head_are_reported(refs: RefStore) -> None:
    (refs.root / "refs/heads/main").write_text("not an id\n")
    with pytest.raises(RepositoryError, match="ref refs/heads/main is damaged"):
        refs.read("refs/heads/main")
    (refs.root / "HEAD").write_text("garbage\n")
    with pytest.raises(RepositoryError, match="HEAD is damaged"):
        refs.head_commit()


def test_set_head_detached_and_symbolic(refs: RefStore) -> None:
    refs.set_head(A, "detach")
    assert refs.head_target() is None and refs.head_commit() == A
    refs.set_head("refs/heads/dev", "to dev")
    assert refs.head_target() == "refs/heads/dev"
    assert refs.head_commit() is None


@pytest.mark.parametrize("name", [
    "refs/heads/a..b", "refs/heads/a b", "refs/heads/a~1", "refs/heads/a^", "refs/heads/a:b",
    "refs/heads/a?", "refs/heads/a*", "refs/heads/a[", "refs/heads/a\\b", "refs/heads/x.lock",
    "refs/heads/.hidden", "refs/heads/", "refs/heads//x", "heads/main", "refs/heads/a@{1}",
    "refs/heads/ctl\x01", "refs/heads/del\x7f", "refs/heads/c1\x9b", "refs/heads/a\u202eb",
    "refs/heads/line\u2028x",
    # the command line's rules hold for every ref, however it arrives
    "refs/heads/HEAD", "refs/heads/@", "refs/heads/-x", "refs/tags/-x", "refs/tags/HEAD",
    "refs/remotes/origin/HEAD", "refs/remotes/origin/-x",
    # the ref store's own lock and stale-lock names
    "refs/heads/a.lock/b", "refs/heads/x.lock.stale-12", "refs/tags/v1.lock.stale-3/x",
])
def test_bad_ref_names_refused(name: str) -> None:
    with pytest.raises(UsageError, match="invalid ref name"):
        check_ref_name(name)


def test_good_ref_names() -> None:
    assert check_ref_name("refs/heads/feature/drums-v2") == "refs/heads/feature/drums-v2"
    assert check_ref_name("refs/remotes/origin/main") == "refs/remotes/origin/main"
    # Only the short name is judged: these read as names, not as syntax.
    for name in ("refs/heads/a/HEAD", "refs/heads/a/-b", "refs/heads/x.stale-12",
                 "refs/heads/a-b@c", "refs/remotes/origin"):
        assert check_ref_name(name) == name


@pytest.mark.parametrize("name", ["refs/x", "refs/remotes/origin/main", "refs/heads/",
                                  "refs/heads", "refs/heads/-x"])
def test_only_branches_and_tags_are_transferable(name: str) -> None:
    with pytest.raises(UsageError):
        check_transferable_ref(name)
    assert check_transferable_ref("refs/heads/a/b") == "refs/heads/a/b"
    assert check_transferable_ref("refs/tags/v1") == "refs/tags/v1"


def test_a_name_like_a_stale_lock_is_a_listed_ref(refs: RefStore) -> None:
    # Recovery parks a broken lock as NAME.lock.stale-PID: only that form is hidden.
    refs.update("refs/heads/x.stale-12", None, A, "create")
    (refs.root / "refs/heads/main.lock.stale-99").write_text("leftover")
    (refs.root / "refs/heads/main.lock").write_text("held")
    assert refs.names() == ["refs/heads/x.stale-12"]
    assert refs.list() == {"refs/heads/x.stale-12": A}


@pytest.mark.parametrize("names", [
    ["refs/heads/a", "refs/heads/a/b"],
    ["refs/heads/a/b", "refs/heads/a"],
    ["refs/heads/a", "refs/heads/a-x", "refs/heads/a/b/c"],
    ["refs/tags/v1/x", "refs/tags/v1"],
])
def test_refs_clashing_within_one_transaction_change_nothing(
        refs: RefStore, names: list[str]) -> None:
    before = tree_state(refs.root)
    dirs_before = sorted(p for p in refs.root.rglob("*") if p.is_dir())
    with pytest.raises(ConflictError, match="cannot create both") as caught:
        refs.transaction([RefUpdate(n, None, A) for n in names], "fetch")
    assert caught.value.exit_code == 4
    assert tree_state(refs.root) == before
    assert sorted(p for p in refs.root.rglob("*") if p.is_dir()) == dirs_before
    refs.transaction([RefUpdate(names[0], None, A)], "then one of them alone")
    assert refs.read(names[0]) == A


def test_a_refused_transaction_leaves_no_folders(refs: RefStore) -> None:
    refs.update("refs/heads/main", None, A, "create")
    (refs.root / "refs/remotes").mkdir()  # as every repository has it
    dirs_before = sorted(p for p in refs.root.rglob("*") if p.is_dir())
    with pytest.raises(RefConflictError):
        refs.transaction([RefUpdate("refs/remotes/origin/deep/er/x", None, A),
                          RefUpdate("refs/heads/main", B, C)], "stale")
    assert sorted(p for p in refs.root.rglob("*") if p.is_dir()) == dirs_before
    assert refs.list() == {"refs/heads/main": A}


def test_an_empty_folder_left_behind_does_not_block_a_ref(refs: RefStore) -> None:
    (refs.root / "refs/heads/a/b/c").mkdir(parents=True)  # left by an older Muse's crash
    assert refs.clash("refs/heads/a") is None
    refs.update("refs/heads/a", None, A, "create")
    assert refs.read("refs/heads/a") == A


def test_non_utf8_ref_head_and_reflog_are_reported(refs: RefStore) -> None:
    refs.update("refs/heads/main", None, A, "create")
    # A damaged reflog line is reported as such and skipped, never fatal.
    (refs.root / "logs/refs/heads/main").write_bytes(b"- " + A.encode() + b" 1 ok\n\xff\n")
    assert [type(e) for e in refs.reflog("refs/heads/main")] == [DamagedLine, ReflogEntry]
    (refs.root / "logs/refs/heads/main").write_bytes(b"- " + A.encode() + b" soon ok\n")
    assert [type(e) for e in refs.reflog("refs/heads/main")] == [DamagedLine]
    (refs.root / "refs/heads/main").write_bytes(b"\xfe" + A.encode()[1:])
    with pytest.raises(RepositoryError, match="is not valid UTF-8 \\(line 1\\)"):
        refs.read("refs/heads/main")
    (refs.root / "HEAD").write_bytes(b"ref: refs/heads/m\xe9in\n")
    with pytest.raises(RepositoryError, match="HEAD is not valid UTF-8"):
        refs.head_target()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_lock_of_dead_holder_is_broken(refs: RefStore) -> None:
    refs.update("refs/heads/main", None, A, "create")
    lock = refs.root / "refs/heads/main.lock"
    lock.write_text(f"{_dead_pid()} {socket.gethostname()} {time.time():.3f}\n")
    refs.update("refs/heads/main", A, B, "after crash")
    assert refs.read("refs/heads/main") == B
    assert not lock.exists()
    assert not list(lock.parent.glob("*.stale-*"))


def test_lock_older_than_lease_is_broken(refs: RefStore, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    lock = refs.root / "refs/heads/main.lock"
    lock.write_text(f"1 some-other-host {time.time():.3f}\n")
    old = time.time() - 3600
    os.utime(lock, (old, old))
    refs.update("refs/heads/main", None, A, "create")
    assert refs.read("refs/heads/main") == A


def test_live_lock_is_respected(refs: RefStore) -> None:
    lock = refs.root / "refs/heads/main.lock"
    lock.write_text(f"{os.getpid()} {socket.gethostname()} {time.time():.3f}\n")
    with pytest.raises(RefConflictError, match="locked by another Muse process"), \
            locked(lock, what="ref refs/heads/main", wait=0.2):
        pass
    assert lock.exists()  # not ours to remove
    lock.unlink()


def test_lock_waits_for_release(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    order: list[str] = []
    with locked(lock, what="x"):
        def other() -> None:
            with locked(lock, what="x", wait=5):
                order.append("other")
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.1)
        order.append("first")
    thread.join(5)
    assert order == ["first", "other"]
    assert not lock.exists()


def test_ref_name_components_fit_a_file_name_with_their_lock(refs: RefStore) -> None:
    longest = "refs/heads/" + "b" * MAX_REF_PART_BYTES
    refs.update(longest, None, "ab" * 32, "created")  # the ref, its lock and its log fit
    assert refs.read(longest) == "ab" * 32
    for name in ("refs/heads/" + "b" * (MAX_REF_PART_BYTES + 1),
                 "refs/heads/x/" + "é" * (MAX_REF_PART_BYTES // 2 + 1)):
        before = sorted(p.name for p in refs.root.rglob("*"))
        with pytest.raises(UsageError, match="over 200 bytes"):
            refs.update(name, None, "ab" * 32, "created")
        assert sorted(p.name for p in refs.root.rglob("*")) == before


def test_rename_moves_ref_log_and_head_together(refs: RefStore) -> None:
    refs.update("refs/heads/main", None, A, "create")
    refs.rename("refs/heads/main", "refs/heads/trunk", A, "renamed")
    assert refs.read("refs/heads/main") is None and refs.read("refs/heads/trunk") == A
    assert refs.head_target() == "refs/heads/trunk"
    assert [e.message for e in refs.reflog("refs/heads/trunk")] == ["renamed", "create"]
    assert not (refs.root / "logs/refs/heads/main").exists()


def test_rename_refused_by_a_moved_ref_or_a_held_lock_changes_nothing(
        refs: RefStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import functools

    import muse.refs

    refs.update("refs/heads/main", None, A, "create")
    before = tree_state(refs.root)
    with pytest.raises(RefConflictError, match="ref refs/heads/main moved"):
        refs.rename("refs/heads/main", "refs/heads/trunk", B, "renamed")
    assert tree_state(refs.root) == before
    monkeypatch.setattr(muse.refs, "locked", functools.partial(locked, wait=0.2))
    with locked(refs.root / "HEAD.lock", what="HEAD"):
        held = tree_state(refs.root)
        with pytest.raises(RefConflictError, match="HEAD is locked"):
            refs.rename("refs/heads/main", "refs/heads/trunk", A, "renamed")
        assert tree_state(refs.root) == held
