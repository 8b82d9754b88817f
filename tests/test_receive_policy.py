"""Receiving under a ReceivePolicy, kinds checked, and the index asked in batches."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from muse.errors import BundleError
from muse.keys import default_key, generate_key, sign_commit
from muse.objects import hash_bytes
from muse.policy import SIGNED, TRUSTED, ReceivePolicy
from muse.receive import receive_bundle, verify_pack
from muse.repo import Repository
from muse.storage import Location
from muse.store import ObjectStore
from tests.bundle_craft import Crafted, plain_commit, valid_parts
from tests.bundle_repos import bundle_bytes, commit_files, make_repo
from tests.testkit import MuseRunner, changes_nothing, tree_state


class CountingIndex:
    """An ObjectIndex over a store that counts every call (a SQL index's queries)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()

    def missing(self, ids: Iterable[str]) -> set[str]:
        self.calls["missing"] += 1
        return self.store.missing(ids)

    def sizes(self, ids: Iterable[str]) -> dict[str, int]:
        self.calls["sizes"] += 1
        return self.store.sizes(ids)

    def locate(self, oid: str) -> Location | None:
        self.calls["locate"] += 1
        return self.store.locate(oid)

    def kind(self, oid: str) -> str | None:
        self.calls["kind"] += 1
        return self.store.kind(oid)


@pytest.fixture
def repo(tmp_path: Path, muse_home: Path) -> Repository:
    repo = make_repo(tmp_path / "here")
    commit_files(repo, {"a.mid": b"MThd-first-take"}, "first")
    return repo


def _blob_id(repo: Repository) -> str:
    head = repo.head()
    assert head is not None
    return repo.store.read_snapshot(repo.graph.commit(head).snapshot).entries[0].oid


def _on_top_of(prerequisite: str) -> bytes:
    """A well-formed bundle of one commit whose parent (and prerequisite) is `prerequisite`."""
    blob, snap, _ = valid_parts()
    commit = plain_commit(hash_bytes(snap), (prerequisite,))
    return Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": commit.id},
                   prerequisites=[prerequisite]).build()


def test_a_blob_as_prerequisite_and_parent_is_refused(repo: Repository) -> None:
    data = _on_top_of(_blob_id(repo))
    before = tree_state(repo.store.root)
    with pytest.raises(BundleError, match="is a blob, not a commit") as caught:
        receive_bundle(repo.store, io.BytesIO(data))
    assert caught.value.code == "not-a-commit"
    assert tree_state(repo.store.root) == before


def test_a_snapshot_as_prerequisite_is_refused(repo: Repository) -> None:
    head = repo.head()
    assert head is not None
    data = _on_top_of(repo.graph.commit(head).snapshot)
    with pytest.raises(BundleError, match="is a snapshot, not a commit"):
        receive_bundle(repo.store, io.BytesIO(data))


def test_a_commit_as_prerequisite_is_accepted(repo: Repository) -> None:
    head = repo.head()
    assert head is not None
    received = receive_bundle(repo.store, io.BytesIO(_on_top_of(head)))
    assert len(received.summary.commits) == 1


def test_a_ref_to_a_blob_is_refused(repo: Repository) -> None:
    blob, snap, commit = valid_parts()
    blob_id = hash_bytes(blob)
    data = Crafted([blob], [snap], [commit.encode()], {"refs/heads/main": blob_id}).build()
    with pytest.raises(BundleError, match="does not carry"):
        receive_bundle(repo.store, io.BytesIO(data))


def test_unbundle_of_a_blob_prerequisite_changes_nothing(
        tmp_path: Path, repo: Repository, muse: MuseRunner) -> None:
    path = tmp_path / "bad.bundle"
    path.write_bytes(_on_top_of(_blob_id(repo)))
    assert repo.root is not None
    result = changes_nothing(muse, repo.root, "bundle", "unbundle", str(path), exit_code=5)
    assert "not a commit" in result.output


# -- the policy ------------------------------------------------------------------------


def test_signed_policy_refuses_an_unsigned_commit(tmp_path: Path, repo: Repository) -> None:
    head = commit_files(repo, {"b.mid": b"unsigned"}, "unsigned", sign=False)
    data, _ = bundle_bytes(repo, [head])
    dest = make_repo(tmp_path / "dest")
    with pytest.raises(BundleError, match="is unsigned") as caught:
        receive_bundle(dest.store, io.BytesIO(data), policy=ReceivePolicy(signers=SIGNED))
    assert caught.value.code == "unsigned"
    assert list((dest.store.root / "packs").glob("*")) == []


def test_trusted_policy_names_the_untrusted_key(tmp_path: Path, repo: Repository) -> None:
    head = repo.head()
    assert head is not None
    data, _ = bundle_bytes(repo, [head])
    own = default_key()
    other = generate_key(make_default=False)
    dest = make_repo(tmp_path / "dest")
    stranger = ReceivePolicy(signers=TRUSTED, trusted_keys=frozenset({other.public_key}))
    with pytest.raises(BundleError, match=f"signed by key {own.fingerprint}") as caught:
        receive_bundle(dest.store, io.BytesIO(data), policy=stranger)
    assert caught.value.code == "untrusted-signer"
    trusted = ReceivePolicy(signers=TRUSTED, trusted_keys=frozenset({own.public_key}))
    assert receive_bundle(dest.store, io.BytesIO(data), policy=trusted).new_items == 3


def test_a_bad_signature_is_refused_under_any_policy(tmp_path: Path, muse_home: Path) -> None:
    blob, snap, commit = valid_parts()
    signed = sign_commit(commit)
    forged = type(signed)(**{**signed.__dict__, "message": "forged"})
    data = Crafted([blob], [snap], [forged.encode()], {"refs/heads/main": forged.id}).build()
    dest = make_repo(tmp_path / "dest")
    with pytest.raises(BundleError, match="bad signature"):
        receive_bundle(dest.store, io.BytesIO(data))


def test_size_limits_refuse_before_anything_is_kept(tmp_path: Path, repo: Repository) -> None:
    head = commit_files(repo, {"stem.wav": b"W" * 50_000}, "stem")
    data, _ = bundle_bytes(repo, [head])
    dest = make_repo(tmp_path / "dest")
    with pytest.raises(BundleError, match="over the 10000-byte limit for one object") as caught:
        receive_bundle(dest.store, io.BytesIO(data), policy=ReceivePolicy(max_object_bytes=10_000))
    assert caught.value.code == "object-too-large"
    with pytest.raises(BundleError, match="over the 20000-byte limit") as caught:
        receive_bundle(dest.store, io.BytesIO(data), policy=ReceivePolicy(max_bundle_bytes=20_000))
    assert caught.value.code == "too-large"
    # Declared sizes fit, actual bytes do not: stopped while reading, not after.
    limit = len(data) - 10
    with pytest.raises(BundleError, match=f"larger than the {limit}-byte limit"):
        receive_bundle(dest.store, io.BytesIO(data), policy=ReceivePolicy(max_bundle_bytes=limit))
    assert list((dest.store.root / "packs").glob("*")) == []
    assert receive_bundle(dest.store, io.BytesIO(data),
                          policy=ReceivePolicy(max_bundle_bytes=len(data))).new_items > 0


@pytest.mark.parametrize("which", ["object", "snapshot", "commit"])
def test_a_blocked_id_is_refused(tmp_path: Path, repo: Repository, which: str) -> None:
    head = repo.head()
    assert head is not None
    data, _ = bundle_bytes(repo, [head])
    snap = repo.graph.commit(head).snapshot
    target = {"object": _blob_id(repo), "snapshot": snap, "commit": head}[which]
    dest = make_repo(tmp_path / "dest")
    policy = ReceivePolicy(blocked=lambda oid: oid == target)
    with pytest.raises(BundleError, match=f"{target}, which is blocked") as caught:
        receive_bundle(dest.store, io.BytesIO(data), policy=policy)
    assert caught.value.code == "blocked"
    assert list((dest.store.root / "packs").glob("*")) == []


# -- batching --------------------------------------------------------------------------


@pytest.mark.parametrize("files", [1, 40])
def test_the_index_is_asked_a_constant_number_of_times(tmp_path: Path, repo: Repository,
                                                       files: int) -> None:
    base = repo.head()
    assert base is not None
    dest = make_repo(tmp_path / "dest")
    receive_bundle(dest.store, io.BytesIO(bundle_bytes(repo, [base])[0]))
    head = commit_files(repo, {f"take-{i}.mid": b"take %d" % i for i in range(files)}, "more")
    data, _ = bundle_bytes(repo, [head], [base])
    index = CountingIndex(dest.store)
    verified = verify_pack(io.BytesIO(data), index)
    # The prerequisite check (one missing + one kind per prerequisite), the objects the
    # bundle leaves out (one sizes), and which items are new (one missing): whatever
    # the number of objects.
    assert index.calls == Counter({"missing": 2, "kind": 1, "sizes": 1})
    assert len(verified.entries) == files + 2  # the new objects, one snapshot, one commit
