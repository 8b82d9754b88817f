"""Annotated tags (and tags of tags) through every driver: pushed, cloned, fetched; forged,
misplaced or out-of-order ones refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from muse.branches import create_tag
from muse.bundle import BundlePlan, plan_bundle, write_bundle
from muse.errors import BundleError, IntegrityError
from muse.fsck import verify_repository
from muse.refs import RefUpdate
from muse.remote import Remote
from muse.repo import Repository
from muse.tags import chain, create_annotated_tag, make_tag, peel
from muse.transfer import clone, fetch, push
from tests.remotes.remote_support import (
    MAIN,
    assert_no_ghost_refs,
    blob,
    commit_files,
    new_repo,
    outgoing,
)

V1 = "refs/tags/v1"


def _seed(path: Path, remote: Remote, remote_url: str) -> tuple[Repository, str, str]:
    """A repository whose main and signed annotated tag v1 are pushed."""
    repo = new_repo(path)
    repo.config.set("remote.origin.url", remote_url)
    commit_files(repo, {"song.mid": blob(1, 900)}, "first")
    second = commit_files(repo, {"stems/bass.wav": blob(2, 5000)}, "second")
    tag, _ = create_annotated_tag(repo, "v1", second, "Release one\n", sign=True)
    report = push(repo, remote, [(MAIN, MAIN), (V1, V1)], remote_name="origin")
    assert [o.status for o in report.refs] == ["created", "created"]
    return repo, second, tag.id


def test_an_annotated_tag_pushes_clones_and_fetches(tmp_path: Path, remote: Remote,
                                                     remote_url: str) -> None:
    a, second, tag_id = _seed(tmp_path / "a", remote, remote_url)
    assert remote.list_refs() == {MAIN: second, V1: tag_id}
    b = clone(remote_url, tmp_path / "b")
    assert b.refs.read(V1) == tag_id and b.store.kind(tag_id) == "tag"
    assert b.store.read_tag(tag_id) == a.store.read_tag(tag_id)
    assert verify_repository(b).ok
    # A second tag on a commit the remote already has: a bundle of one tag object.
    later, _ = create_annotated_tag(a, "v1-final", second, "Same commit\n", sign=True)
    report = push(a, remote, [("refs/tags/v1-final", "refs/tags/v1-final")])
    assert report.commits == 0 and report.bundle_bytes > 0
    fetched = fetch(b, remote, "origin")
    assert [o.name for o in fetched.refs if o.status == "created"] == ["refs/tags/v1-final"]
    assert b.refs.read("refs/tags/v1-final") == later.id
    refs = assert_no_ghost_refs(remote, tmp_path / "probe")
    assert refs["refs/tags/v1-final"] == later.id


def test_a_branch_may_not_name_a_tag_object(tmp_path: Path, remote: Remote,
                                            remote_url: str) -> None:
    a, _, tag_id = _seed(tmp_path / "a", remote, remote_url)
    before = remote.list_refs()
    with pytest.raises(IntegrityError, match="not a commit"):
        push(a, remote, [(V1, "refs/heads/evil")])
    # A hand-made bundle that says so itself is refused by the receiving side.
    fresh, _ = create_annotated_tag(a, "v2", a.head() or "", "Second\n", sign=True)
    path = tmp_path / "evil.bundle"
    plan = plan_bundle(a.graph, {"refs/heads/evil": fresh.id}, [fresh.id], [tag_id])
    with open(path, "wb") as out:
        write_bundle(a.store, plan, out)
    with pytest.raises(BundleError, match="branch"):
        remote.push(outgoing(path), [RefUpdate("refs/heads/evil", None, fresh.id)])
    assert remote.list_refs() == before
    # No bundle at all: a branch set to the tag object the remote already holds.
    with pytest.raises(BundleError, match=r"not a commit|branch"):
        remote.push(None, [RefUpdate("refs/heads/evil", None, tag_id)])
    assert remote.list_refs() == before


def test_a_lightweight_tag_of_a_tag_object_pushes_clones_and_fetches(
        tmp_path: Path, remote: Remote, remote_url: str) -> None:
    """`muse tag lt v1` names v1's tag object, as git does: pushed as a ref alone when the
    remote holds that object, or with the object when it does not; a branch still may not."""
    a, second, tag_id = _seed(tmp_path / "a", remote, remote_url)
    create_tag(a, "lt", tag_id)
    report = push(a, remote, [("refs/tags/lt", "refs/tags/lt")])
    assert [o.status for o in report.refs] == ["created"] and report.commits == 0
    v2, _ = create_annotated_tag(a, "v2", second, "Second\n", sign=True)
    create_tag(a, "lt2", v2.id)  # v2's own ref is never pushed: lt2 carries its object
    push(a, remote, [("refs/tags/lt2", "refs/tags/lt2")])
    assert remote.list_refs() == {MAIN: second, V1: tag_id, "refs/tags/lt": tag_id,
                                  "refs/tags/lt2": v2.id}
    b = clone(remote_url, tmp_path / "b")
    assert b.refs.read("refs/tags/lt") == tag_id and b.refs.read("refs/tags/lt2") == v2.id
    assert b.store.read_tag(v2.id).name == "v2" and peel(b.store, v2.id) == second
    assert verify_repository(b).ok
    before = remote.list_refs()
    with pytest.raises(IntegrityError, match="not a commit"):
        push(a, remote, [("refs/tags/lt2", "refs/heads/evil")])
    with pytest.raises(BundleError, match=r"not a commit|branch"):
        remote.push(None, [RefUpdate("refs/heads/evil", None, v2.id)])
    assert remote.list_refs() == before
    refs = assert_no_ghost_refs(remote, tmp_path / "probe")
    assert refs["refs/tags/lt2"] == v2.id


def test_a_forged_tag_is_refused_and_nothing_changes(tmp_path: Path, remote: Remote,
                                                     remote_url: str) -> None:
    a, second, tag_id = _seed(tmp_path / "a", remote, remote_url)
    before = remote.list_refs()
    genuine = a.store.read_tag(tag_id)
    forged = replace(genuine, name="v9", message="Not what was signed\n")
    with a.store.batch() as batch:
        batch.add_bytes(forged.encode())
    path = tmp_path / "forged.bundle"
    plan = plan_bundle(a.graph, {"refs/tags/v9": forged.id}, [forged.id], [second])
    with open(path, "wb") as out:
        write_bundle(a.store, plan, out)
    with pytest.raises(BundleError, match="bad signature"):
        remote.push(outgoing(path), [RefUpdate("refs/tags/v9", None, forged.id)])
    assert remote.list_refs() == before


# -- tags of tags -----------------------------------------------------------------------------

RELEASE = "refs/tags/release"


def _chain(path: Path, remote: Remote, remote_url: str) -> tuple[Repository, str, str, str]:
    """main pushed, then only `release` (a signed tag of the signed tag v1): the remote
    never had v1's ref, so v1's tag object reaches it only with `release`'s chain."""
    repo = new_repo(path)
    repo.config.set("remote.origin.url", remote_url)
    second = commit_files(repo, {"stems/bass.wav": blob(2, 5000)}, "second")
    push(repo, remote, [(MAIN, MAIN)], remote_name="origin")
    inner, _ = create_annotated_tag(repo, "v1", second, "Musician's take\n", sign=True)
    outer, _ = create_annotated_tag(repo, "release", inner.id, "Approved\n", sign=True)
    report = push(repo, remote, [(RELEASE, RELEASE)], remote_name="origin")
    assert [o.status for o in report.refs] == ["created"] and report.commits == 0
    return repo, second, inner.id, outer.id


def test_a_tag_of_a_tag_pushes_clones_and_fetches(tmp_path: Path, remote: Remote,
                                                  remote_url: str) -> None:
    a, second, inner, outer = _chain(tmp_path / "a", remote, remote_url)
    assert remote.list_refs() == {MAIN: second, RELEASE: outer}
    b = clone(remote_url, tmp_path / "b")
    assert b.refs.read(RELEASE) == outer and b.refs.read(V1) is None
    assert b.store.read_tag(inner) == a.store.read_tag(inner)
    assert [oid for oid, _ in chain(b.store, outer)] == [outer, inner]
    assert peel(b.store, outer) == second
    assert verify_repository(b).ok
    # A third link over the chain the remote holds, fetched into the clone.
    final, _ = create_annotated_tag(a, "final", outer, "Mastered\n", sign=True)
    push(a, remote, [("refs/tags/final", "refs/tags/final")])
    fetched = fetch(b, remote, "origin")
    assert [o.name for o in fetched.refs if o.status == "created"] == ["refs/tags/final"]
    assert [oid for oid, _ in chain(b.store, final.id)] == [final.id, outer, inner]
    assert verify_repository(b).ok
    refs = assert_no_ghost_refs(remote, tmp_path / "probe")
    assert refs["refs/tags/final"] == final.id


def _pushed(remote: Remote, path: Path, repo: Repository, plan: BundlePlan,
            updates: list[RefUpdate], why: str) -> None:
    """A hand-made bundle of `plan` pushed with `updates`: refused for `why`, nothing changed."""
    before = remote.list_refs()
    with open(path, "wb") as out:
        write_bundle(repo.store, plan, out)
    with pytest.raises(BundleError, match=why):
        remote.push(outgoing(path), updates)
    assert remote.list_refs() == before


def test_a_chain_out_of_order_or_naming_the_wrong_kind_is_refused(
        tmp_path: Path, remote: Remote, remote_url: str) -> None:
    a, second, inner, outer = _chain(tmp_path / "a", remote, remote_url)
    final, _ = create_annotated_tag(a, "final", outer, "Mastered\n", sign=True)
    plan = plan_bundle(a.graph, {"refs/tags/final": final.id}, [final.id], [second])
    assert plan.tags == [inner, outer, final.id] and plan.commits == []
    update = [RefUpdate("refs/tags/final", None, final.id)]
    _pushed(remote, tmp_path / "swapped.bundle", a, replace(plan, tags=[inner, final.id, outer]),
            update, f"names tag {outer}, which is not earlier")
    _pushed(remote, tmp_path / "short.bundle", a, replace(plan, tags=[final.id]), update,
            f"names tag {outer}, which is not earlier")
    # Says it names a tag; names the commit (signed, so only its kind is wrong).
    liar = make_tag(a, "liar", second, "Lies\n", sign=True)
    liar = replace(liar, target_kind="tag", signature=None, signer=None)
    with a.store.batch() as batch:
        batch.add_bytes(liar.encode())
    _pushed(remote, tmp_path / "liar.bundle", a,
            replace(plan, refs={"refs/tags/liar": liar.id}, tags=[liar.id]),
            [RefUpdate("refs/tags/liar", None, liar.id)], "as a tag, but the bundle carries")
    # A forged link inside the chain: the outer signatures are good, the inner is not.
    forged_inner = replace(a.store.read_tag(inner), message="Not what was signed\n")
    with a.store.batch() as batch:
        batch.add_bytes(forged_inner.encode())
    over, _ = create_annotated_tag(a, "over", forged_inner.id, "Approved\n", sign=True)
    _pushed(remote, tmp_path / "forged.bundle", a,
            replace(plan, refs={"refs/tags/over": over.id}, tags=[forged_inner.id, over.id]),
            [RefUpdate("refs/tags/over", None, over.id)], f"tag {forged_inner.id} has a bad "
            "signature")
