"""Annotated tags through every driver: pushed, cloned, fetched; forged or misplaced refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from muse.bundle import plan_bundle, write_bundle
from muse.errors import BundleError, IntegrityError
from muse.fsck import verify_repository
from muse.refs import RefUpdate
from muse.remote import Remote
from muse.repo import Repository
from muse.tags import create_annotated_tag
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
