"""The bucket algorithm itself, over every Bucket implementation: requests, races, packs."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

import pytest

from muse.refs import RefUpdate
from muse.remote import IncomingBundle, dependency_order
from muse.repo import Repository
from muse.transfer import fetch, push
from remotes.bucket import REFS_KEY, Bucket, BucketRemote, decode_refs_doc, encode_refs_doc
from tests.remotes.bucket_support import BUCKETS, CountingBucket
from tests.remotes.remote_support import MAIN, blob, commit_files, new_repo


@pytest.fixture(params=sorted(BUCKETS))
def bucket(request: pytest.FixtureRequest, tmp_path: Path) -> Bucket:
    return BUCKETS[request.param](tmp_path)


def test_a_push_costs_four_requests_whatever_its_size(tmp_path: Path, bucket: Bucket,
                                                      muse_home: Path) -> None:
    counts = []
    for n, branch in ((5, "small"), (400, "large")):
        repo = new_repo(tmp_path / branch)
        commit_files(repo, {f"f/{i}.bin": blob(n * 1000 + i, 64) for i in range(n)}, branch)
        counted = CountingBucket(bucket)
        report = push(repo, BucketRemote(counted, url="b://x"), [(MAIN, f"refs/heads/{branch}")])
        assert report.objects == n
        counts.append(counted.counts)
    # list_refs (the engine's one reading, which the push then checks and swaps against),
    # put pack, put index, swap refs.
    assert counts[0] == counts[1] == {"get": 1, "put_if_absent": 2, "put_if_match": 1}


def test_a_concurrent_change_to_another_ref_is_kept_and_ours_goes_on_top(
        tmp_path: Path, bucket: Bucket, muse_home: Path) -> None:
    repo = new_repo(tmp_path / "a")
    first = commit_files(repo, {"a.mid": b"a"}, "a")
    push(repo, BucketRemote(bucket, url="b://x"), [(MAIN, MAIN)])
    second = commit_files(repo, {"b.mid": b"b"}, "b")

    def other_pusher(inner: Bucket) -> None:  # tags v1 while we are about to swap
        found = inner.get(REFS_KEY)
        assert found is not None
        doc = decode_refs_doc(found.data, "x")
        refs = {**doc.refs, "refs/tags/v1": first}
        assert inner.put_if_match(REFS_KEY, encode_refs_doc(refs, doc.packs), found.tag)

    counted = CountingBucket(bucket, before_swap=other_pusher)
    push(repo, BucketRemote(counted, url="b://x"), [(MAIN, MAIN)])
    assert BucketRemote(bucket, url="b://x").list_refs() == {MAIN: second, "refs/tags/v1": first}
    assert counted.counts["put_if_match"] == 2  # lost once, re-read, re-checked, swapped


def test_a_concurrent_move_of_the_same_ref_is_a_conflict_and_changes_nothing(
        tmp_path: Path, bucket: Bucket, muse_home: Path) -> None:
    repo = new_repo(tmp_path / "a")
    first = commit_files(repo, {"a.mid": b"a"}, "a")
    remote = BucketRemote(bucket, url="b://x")
    push(repo, remote, [(MAIN, MAIN)])
    second = commit_files(repo, {"b.mid": b"b"}, "b")
    push(repo, remote, [(MAIN, "refs/heads/other")])

    def other_pusher(inner: Bucket) -> None:  # moves main to `second` first
        found = inner.get(REFS_KEY)
        assert found is not None
        doc = decode_refs_doc(found.data, "x")
        assert inner.put_if_match(REFS_KEY, encode_refs_doc({**doc.refs, MAIN: second},
                                                            doc.packs), found.tag)

    racing = BucketRemote(CountingBucket(bucket, before_swap=other_pusher), url="b://x")
    results = racing.push(None, [RefUpdate(MAIN, first, first), RefUpdate("refs/heads/new",
                                                                           None, first)])
    assert [r.reason for r in results] == ["stale", "not applied: another ref in this push "
                                                    "was refused"]
    assert remote.list_refs() == {MAIN: second, "refs/heads/other": second}


def test_a_push_planned_on_refs_that_moved_since_they_were_listed_checks_the_new_ones(
        tmp_path: Path, bucket: Bucket, muse_home: Path) -> None:
    repo = new_repo(tmp_path / "a")
    first = commit_files(repo, {"a.mid": b"a"}, "a")
    push(repo, BucketRemote(bucket, url="b://x"), [(MAIN, MAIN)])
    second = commit_files(repo, {"b.mid": b"b"}, "b")
    push(repo, BucketRemote(bucket, url="b://x"), [(MAIN, "refs/heads/other")])
    planner = BucketRemote(bucket, url="b://x")
    assert planner.list_refs()[MAIN] == first  # the listing the push will start from
    # Meanwhile another pusher tags v1 and moves main: the listed document is stale.
    other = BucketRemote(bucket, url="b://x")
    assert all(r.ok for r in other.push(None, [RefUpdate("refs/tags/v1", None, first),
                                              RefUpdate(MAIN, first, second)]))
    # A move of main planned on the stale listing is refused, and changes nothing...
    results = planner.push(None, [RefUpdate(MAIN, first, first),
                                  RefUpdate("refs/heads/new", None, first)])
    assert not any(r.ok for r in results) and results[0].reason == "stale"
    after = {MAIN: second, "refs/heads/other": second, "refs/tags/v1": first}
    assert BucketRemote(bucket, url="b://x").list_refs() == after
    # ...while one that touches no moved ref lands on top of the other pusher's.
    planner.list_refs()
    assert other.push(None, [RefUpdate("refs/tags/v2", None, second)])[0].ok
    assert planner.push(None, [RefUpdate("refs/heads/new", None, first)])[0].ok
    assert BucketRemote(bucket, url="b://x").list_refs() == {
        **after, "refs/tags/v2": second, "refs/heads/new": first}


def test_fetch_answers_with_the_stored_packs_in_dependency_order(
        tmp_path: Path, bucket: Bucket, muse_home: Path) -> None:
    repo = new_repo(tmp_path / "a")
    remote = BucketRemote(bucket, url="b://x")
    tips = []
    for i in range(3):
        tips.append(commit_files(repo, {f"take{i}.wav": blob(i, 3000)}, f"take {i}"))
        push(repo, remote, [(MAIN, MAIN)])
    found = bucket.get(REFS_KEY)
    assert found is not None
    packs = json.loads(found.data)["packs"]
    assert len(packs) == 3  # one pack per push, each named by the refs document
    answer = remote.fetch([tips[-1]], [])
    assert [sorted(b.provides) for b in answer] == [[t] for t in tips]
    assert answer[1].requires == {tips[0]} and answer[2].requires == {tips[1]}
    # A client holding the first push is sent only the two later packs.
    assert [sorted(b.provides) for b in remote.fetch([tips[-1]], [tips[0]])] == \
        [[tips[1]], [tips[2]]]
    assert remote.fetch([tips[-1]], [tips[-1]]) == []
    clone_repo = Repository.init(tmp_path / "clone", bare=True)
    report = fetch(clone_repo, remote, "origin")
    assert report.commits == 3
    assert clone_repo.refs.read("refs/remotes/origin/main") == tips[-1]


def _never() -> AbstractContextManager[BinaryIO]:
    raise AssertionError("ordering opens nothing")


def _bundle(label: str, requires: set[str], provides: set[str]) -> IncomingBundle:
    return IncomingBundle(label, _never, requires=frozenset(requires),
                          provides=frozenset(provides))


def test_dependency_order_puts_each_bundle_after_what_it_needs() -> None:
    a, b, c, d = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)
    given = [_bundle("third", {b}, {c}), _bundle("first", set(), {a}),
             _bundle("second", {a}, {b}), _bundle("alone", {d}, {"e" * 64})]
    assert [x.label for x in dependency_order(given)] == ["first", "second", "third", "alone"]
    with pytest.raises(Exception, match="cycle") as caught:
        dependency_order([_bundle("x", {b}, {a}), _bundle("y", {a}, {b})])
    assert getattr(caught.value, "exit_code", None) == 6
