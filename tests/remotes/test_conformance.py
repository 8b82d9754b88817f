"""The conformance suite: every remote driver must pass all of it (see the `harness` fixture)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from muse.errors import (
    BundleError,
    ConflictError,
    MuseError,
    NonFastForwardError,
    RefConflictError,
    TransientRemoteError,
)
from muse.refs import RefUpdate
from muse.remote import IncomingBundle, Remote, dependency_order
from muse.remote_wrappers import CountingRemote, RetryingRemote
from muse.repo import Repository
from muse.transfer import (
    PushConflictError,
    PushNameClashError,
    PushNonFastForwardError,
    PushReport,
    clone,
    fetch,
    push,
)
from tests.remotes.conftest import RemoteHarness
from tests.remotes.remote_support import (
    MAIN,
    HostileRemote,
    PhaseBytes,
    StaleView,
    assert_no_ghost_refs,
    blob,
    closure,
    commit_files,
    files_of,
    merge_commit,
    new_repo,
    outgoing,
    tree_state,
    write_push_bundle,
)


def push_main(repo: Repository, remote: Remote, *, force: bool = False,
              dry_run: bool = False) -> PushReport:
    return push(repo, remote, [(MAIN, MAIN)], remote_name="origin", force=force,
                dry_run=dry_run)


@pytest.fixture
def seeded(tmp_path: Path, harness: RemoteHarness, remote: Remote) -> Repository:
    """A local repository with two commits of binary files, pushed to the remote as main."""
    repo = new_repo(tmp_path / "seed")
    repo.config.set("remote.origin.url", remote.url)
    commit_files(repo, {"stems/drums.wav": blob(1, 3 << 20), "song.mid": blob(2, 700)}, "first")
    commit_files(repo, {"stems/bass.wav": blob(3, 5000)}, "second")
    push_main(repo, remote)
    return repo


def test_an_upload_counts_each_byte_once(seeded: Repository, remote: Remote) -> None:
    """The progress bar of a push ends at its bundle's size, never past it (200 %)."""
    commit_files(seeded, {"stems/keys.wav": blob(40, 200_000)}, "keys")
    progress = PhaseBytes()
    report = push(seeded, remote, [("refs/heads/main", "refs/heads/main")], progress=progress)
    assert report.bundle_bytes > 200_000
    assert progress.totals["uploading"] == report.bundle_bytes
    assert progress.moved["uploading"] == report.bundle_bytes


# -- round trips ------------------------------------------------------------------------


def test_push_clone_fetch_round_trip_preserves_every_id(tmp_path: Path, remote: Remote,
                                                        remote_url: str) -> None:
    a = new_repo(tmp_path / "a")
    a.config.set("remote.origin.url", remote_url)
    commit_files(a, {"stems/drums.wav": blob(1, 3 << 20), "song.mid": blob(2, 700),
                     "code/x.py": b"print('hi')\n"}, "first")
    second = commit_files(a, {"song.mid": blob(4, 900)}, "second")
    a.refs.update("refs/heads/feature", None, second, "branch")
    a.refs.update("refs/tags/v1", None, second, "tag")
    third = commit_files(a, {"stems/bass.wav": blob(3, 5000)}, "third")
    report = push(a, remote, [(MAIN, MAIN), ("refs/heads/feature", "refs/heads/feature"),
                              ("refs/tags/v1", "refs/tags/v1")], remote_name="origin")
    assert [o.status for o in report.refs] == ["created"] * 3
    assert report.commits == 3 and report.bundle_bytes > 3 << 20
    assert a.refs.read("refs/remotes/origin/main") == third
    assert remote.list_refs() == {MAIN: third, "refs/heads/feature": second,
                                  "refs/tags/v1": second}

    b = clone(remote_url, tmp_path / "b")
    assert b.head() == third and b.current_branch() == "main"
    assert b.refs.read("refs/remotes/origin/feature") == second
    assert b.refs.read("refs/tags/v1") == second
    assert b.config.get("remote.origin.url") == remote_url
    assert b.config.get("branch.main.remote") == "origin"
    assert b.config.get("branch.main.merge") == MAIN
    assert closure(b, third) == closure(a, third)  # commits, snapshots, objects and bytes
    assert b.root is not None and a.root is not None
    assert files_of(b.root) == files_of(a.root)

    fourth = commit_files(a, {"stems/keys.wav": blob(5, 4000)}, "fourth")
    report = push_main(a, remote)
    assert report.commits == 1 and report.objects == 1  # only what is new travels
    fetched = fetch(b, remote, "origin")
    assert fetched.commits == 1
    assert [(o.name, o.status) for o in fetched.refs] == [("refs/remotes/origin/main",
                                                           "fast-forward")]
    assert closure(b, fourth) == closure(a, fourth)
    assert fetch(b, remote, "origin").refs == []  # nothing new: nothing changes


def test_fetch_never_overwrites_a_different_local_tag(tmp_path: Path, seeded: Repository,
                                                      remote: Remote, remote_url: str) -> None:
    head = seeded.head()
    assert head is not None
    b = clone(remote_url, tmp_path / "b")
    other = commit_files(b, {"mine": b"1"}, "local")
    b.refs.update("refs/tags/v1", None, other, "tag")
    seeded.refs.update("refs/tags/v1", None, head, "tag")
    push(seeded, remote, [("refs/tags/v1", "refs/tags/v1")])
    report = fetch(b, remote, "origin")
    assert [(o.name, o.status) for o in report.refs] == [("refs/tags/v1", "rejected")]
    assert b.refs.read("refs/tags/v1") == other


# -- refusals -----------------------------------------------------------------------------


def test_non_fast_forward_is_refused_and_nothing_is_sent(tmp_path: Path, seeded: Repository,
                                                         harness: RemoteHarness, remote: Remote,
                                                         remote_url: str) -> None:
    other = clone(remote_url, tmp_path / "other")
    theirs = commit_files(other, {"theirs.txt": b"theirs"}, "theirs")
    push_main(other, remote)
    commit_files(seeded, {"ours.txt": b"ours"}, "ours")
    before = harness.state()
    counted = CountingRemote(remote)
    with pytest.raises(NonFastForwardError) as caught:
        push_main(seeded, counted)
    assert caught.value.exit_code == 4
    assert MAIN in caught.value.message
    assert "fetch first" in caught.value.message  # the client lacks the remote's commit
    assert caught.value.hint is not None and "--force" in caught.value.hint
    assert isinstance(caught.value, PushNonFastForwardError)
    assert [o.status for o in caught.value.refs] == ["rejected"]
    assert counted.counts["push"] == 0
    assert harness.state() == before
    assert remote.list_refs()[MAIN] == theirs

    # Knowing the remote's commit does not make a diverged push a fast-forward.
    fetch(seeded, remote, "origin")
    with pytest.raises(NonFastForwardError, match="non-fast-forward"):
        push_main(seeded, remote)
    assert harness.state() == before


def test_force_push_overwrites(tmp_path: Path, seeded: Repository, remote: Remote,
                               remote_url: str) -> None:
    other = clone(remote_url, tmp_path / "other")
    commit_files(other, {"theirs.txt": b"theirs"}, "theirs")
    push_main(other, remote)
    ours = commit_files(seeded, {"ours.txt": b"ours"}, "ours")
    report = push_main(seeded, remote, force=True)
    assert [o.status for o in report.refs] == ["forced"]
    assert remote.list_refs()[MAIN] == ours
    assert_no_ghost_refs(remote, tmp_path / "probe")


def test_delete_a_remote_branch(tmp_path: Path, seeded: Repository, remote: Remote) -> None:
    head = seeded.head()
    report = push(seeded, remote, [(MAIN, "refs/heads/extra")], remote_name="origin")
    assert [o.status for o in report.refs] == ["created"]
    assert report.commits == 0  # the remote had the commit: refs only, no bundle
    assert remote.list_refs()["refs/heads/extra"] == head
    report = push(seeded, remote, [(None, "refs/heads/extra")], remote_name="origin")
    assert [o.status for o in report.refs] == ["deleted"]
    assert "refs/heads/extra" not in remote.list_refs()
    assert seeded.refs.read("refs/remotes/origin/extra") is None


def test_multi_ref_push_is_all_or_nothing(tmp_path: Path, seeded: Repository, remote: Remote,
                                          remote_url: str, harness: RemoteHarness) -> None:
    base = seeded.head()
    assert base is not None
    push(seeded, remote, [(MAIN, "refs/heads/dev")])
    stale_reading = remote.list_refs()
    other = clone(remote_url, tmp_path / "other")
    other.refs.update("refs/heads/dev", None, base, "branch")
    commit_files(other, {"x": b"x"}, "x")
    push(other, remote, [(MAIN, "refs/heads/dev")])
    after_other = remote.list_refs()

    new_main = commit_files(seeded, {"m": b"m"}, "main work")
    seeded.refs.update("refs/heads/dev", None, new_main, "branch")
    before = harness.state()
    # The client read the refs before `other` pushed: the remote's CAS must catch it.
    with pytest.raises(RefConflictError) as caught:
        push(seeded, StaleView(remote, stale_reading),
             [(MAIN, MAIN), ("refs/heads/dev", "refs/heads/dev")])
    assert isinstance(caught.value, PushConflictError)
    assert "fetch first" in (caught.value.hint or "")
    assert {o.name: o.status for o in caught.value.refs} == {MAIN: "rejected",
                                                            "refs/heads/dev": "rejected"}
    assert remote.list_refs() == after_other  # main did not move either
    assert set(harness.state()) >= set(before)

    # The same, straight at the protocol: one stale `old` and no ref moves.
    results = remote.push(None, [RefUpdate(MAIN, base, new_main),
                                 RefUpdate("refs/heads/dev", base, new_main)])
    assert [r.ok for r in results] == [False, False]
    assert {r.name: r.reason for r in results}["refs/heads/dev"] == "stale"
    assert remote.list_refs() == after_other


def test_push_is_idempotent_when_resent(tmp_path: Path, seeded: Repository,
                                        remote: Remote) -> None:
    base = seeded.head()
    new = commit_files(seeded, {"again": b"again"}, "again")
    update = [RefUpdate(MAIN, base, new)]
    bundle = write_push_bundle(seeded, tmp_path / "again.bundle", new, base)
    assert [r.ok for r in remote.push(bundle, update)] == [True]
    # The reply was "lost": the client sends exactly the same again.
    assert [r.ok for r in remote.push(bundle, update)] == [True]
    assert remote.list_refs()[MAIN] == new


def test_pushing_what_the_remote_has_uploads_nothing(seeded: Repository, remote: Remote) -> None:
    counted = CountingRemote(remote)
    report = push_main(seeded, counted)
    assert [o.status for o in report.refs] == ["up-to-date"]
    assert report.bundle_bytes == 0
    assert counted.counts == Counter({"capabilities": 1, "list_refs": 1})


def test_dry_run_reports_without_uploading(seeded: Repository, remote: Remote,
                                           harness: RemoteHarness) -> None:
    commit_files(seeded, {"a.wav": blob(9, 1000), "b.wav": blob(10, 1000)}, "two files")
    before = harness.state()
    counted = CountingRemote(remote)
    report = push_main(seeded, counted, dry_run=True)
    assert report.dry_run and report.commits == 1 and report.objects == 2
    assert counted.counts["push"] == 0
    assert harness.state() == before


def test_request_count_per_push_is_constant(tmp_path: Path, remote: Remote) -> None:
    counts = []
    for n, branch in ((10, "small"), (500, "large")):
        repo = new_repo(tmp_path / branch)
        commit_files(repo, {f"f/{i}.bin": blob(n * 1000 + i, 64) for i in range(n)}, branch)
        counted = CountingRemote(remote)
        report = push(repo, counted, [(MAIN, f"refs/heads/{branch}")])
        assert report.objects == n
        counts.append(counted.counts)
    assert counts[0] == counts[1]
    assert counts[0]["push"] == 1 and counts[0]["fetch"] == 0


def test_incremental_push_reads_only_new_history(tmp_path: Path, remote: Remote) -> None:
    repo = new_repo(tmp_path / "long")
    for i in range(60):
        commit_files(repo, {"take.txt": f"take {i}".encode()}, f"take {i}")
    push_main(repo, remote)
    # A second later, as real work is: commits sharing a second with the remote's
    # tip are legitimately walked (they could reach it), the older history is not.
    time.sleep(1.1)
    commit_files(repo, {"take.txt": b"final"}, "final")
    reads: list[str] = []
    original = repo.graph.commit

    def counting(oid: str) -> object:
        reads.append(oid)
        return original(oid)

    repo.graph.commit = counting  # type: ignore[method-assign,assignment]
    repo.graph._cache.clear()
    report = push_main(repo, remote)
    assert report.commits == 1
    assert len(set(reads)) <= 3  # the new commit and its parent, never the 60 before


def test_a_fast_forward_over_same_second_commits_is_recognised(tmp_path: Path,
                                                               remote: Remote) -> None:
    """Commits made within one second tie on timestamp: ancestry must not depend on it."""
    repo = new_repo(tmp_path / "ties")
    snap = repo.store.read_snapshot(
        repo.graph.commit(commit_files(repo, {"a": b"a"}, "base")).snapshot)
    head = repo.head()
    assert head is not None
    chain = [head]
    with repo.store.batch() as batch:
        for i in range(12):
            made = repo.make_commit(snap.id, [chain[-1]], f"tie {i}", timestamp=1_700_000_000)
            batch.add_bytes(made.encode())
            chain.append(made.id)
    push(repo, remote, [(chain[1], MAIN)])
    repo.refs.update(MAIN, head, chain[-1], "test")
    report = push_main(repo, remote)
    assert [o.status for o in report.refs] == ["fast-forward"]
    assert report.commits == 11


def test_a_ref_naming_a_blob_or_a_tag_naming_a_snapshot_is_refused(
        tmp_path: Path, seeded: Repository, harness: RemoteHarness, remote: Remote) -> None:
    head = seeded.head()
    assert head is not None
    snapshot_id = seeded.graph.commit(head).snapshot
    blob_id = hashlib.sha256(blob(2, 700)).hexdigest()  # song.mid: stored on the remote
    before, refs = harness.state(), remote.list_refs()
    for name, target, kind in (("refs/heads/broken", blob_id, "blob"),
                               ("refs/tags/broken", snapshot_id, "snapshot")):
        counted = CountingRemote(remote)
        with pytest.raises(MuseError) as caught:
            push(seeded, counted, [(target, name)])
        assert caught.value.code == "not-a-commit" and caught.value.exit_code == 5
        assert f"is a {kind}, not a commit" in caught.value.message
        assert counted.counts["push"] == 0  # refused before anything was sent
        # A client that skips that check meets the same refusal at the remote.
        with pytest.raises(MuseError) as caught:
            remote.push(None, [RefUpdate(name, None, target)])
        assert caught.value.code == "not-a-commit" and caught.value.exit_code == 5
    # A bundle carrying a new blob, with a ref set to that blob: refused, nothing stored.
    take = blob(93, 5000)
    tip = commit_files(seeded, {"take4.wav": take}, "fourth take")
    bundle = write_push_bundle(seeded, tmp_path / "blob.bundle", tip, head)
    with pytest.raises(MuseError, match="a blob, not a commit") as caught:
        remote.push(bundle, [RefUpdate("refs/heads/broken", None,
                                       hashlib.sha256(take).hexdigest())])
    assert caught.value.exit_code == 5
    assert harness.state() == before and remote.list_refs() == refs


def test_a_bundle_naming_a_blob_as_prerequisite_and_parent_is_refused(
        tmp_path: Path, seeded: Repository, harness: RemoteHarness, remote: Remote) -> None:
    from tests.bundle_craft import Crafted, plain_commit, valid_parts

    blob_id = hashlib.sha256(blob(2, 700)).hexdigest()  # song.mid: stored on the remote
    data, snapshot, _ = valid_parts()
    commit = plain_commit(hashlib.sha256(snapshot).hexdigest(), parents=(blob_id,))
    crafted = Crafted([data], [snapshot], [commit.encode()], {"refs/heads/x": commit.id},
                      prerequisites=[blob_id]).build()
    (tmp_path / "crafted.bundle").write_bytes(crafted)
    before, refs = harness.state(), remote.list_refs()
    with pytest.raises(MuseError, match="prerequisite") as caught:
        remote.push(outgoing(tmp_path / "crafted.bundle"),
                    [RefUpdate("refs/heads/x", None, commit.id)])
    assert caught.value.code == "not-a-commit" and caught.value.exit_code == 5
    assert harness.state() == before and remote.list_refs() == refs


def test_a_name_clashing_with_a_remote_ref_is_not_a_race(
        tmp_path: Path, seeded: Repository, harness: RemoteHarness, remote: Remote) -> None:
    head = seeded.head()
    push(seeded, remote, [(MAIN, "refs/heads/band")])
    before, refs = harness.state(), remote.list_refs()
    counted = CountingRemote(remote)
    with pytest.raises(PushNameClashError) as caught:
        push(seeded, counted, [(MAIN, "refs/heads/band/drums")])
    error = caught.value
    assert error.exit_code == 4 and error.code == "ref-name-clash"
    assert "clashes with existing ref refs/heads/band" in error.message
    assert "fetch first" not in error.message + (error.hint or "")
    assert [o.status for o in error.refs] == ["rejected"]
    assert counted.counts["push"] == 0
    # A client whose reading predates `band` learns it from the remote's answer.
    stale = StaleView(remote, {MAIN: head} if head else {})
    with pytest.raises(PushNameClashError, match="clashes with existing ref refs/heads/band"):
        push(seeded, stale, [(MAIN, "refs/heads/band/drums")])
    results = remote.push(None, [RefUpdate("refs/heads/band/drums", None, head)])
    assert not results[0].ok and "clashes" in (results[0].reason or "")
    assert harness.state() == before and remote.list_refs() == refs


class Reversed(StaleView):
    """Answers a fetch with the driver's bundles in reverse: the engine must order them."""

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        return list(reversed(self.inner.fetch(wants, haves)))


def test_a_fetch_of_several_pushes_is_received_in_dependency_order(
        tmp_path: Path, remote: Remote, remote_url: str) -> None:
    repo = new_repo(tmp_path / "a")
    tips = []
    for i in range(3):
        tips.append(commit_files(repo, {f"take{i}.wav": blob(400 + i, 4000)}, f"take {i}"))
        push(repo, remote, [(MAIN, MAIN)])
    answer = remote.fetch([tips[-1]], [])
    assert answer, "a fetch of a non-empty remote answers with at least one bundle"
    provided: set[str] = set()
    for incoming in dependency_order(answer):
        assert incoming.requires <= provided  # nothing before it was left unmet
        provided |= incoming.provides
    probe = Repository.init(tmp_path / "probe", bare=True)
    report = fetch(probe, Reversed(remote, remote.list_refs()), "origin")
    assert report.commits == 3
    assert closure(probe, tips[-1]) == closure(repo, tips[-1])
    later = commit_files(repo, {"take3.wav": blob(403, 4000)}, "take 3")
    push(repo, remote, [(MAIN, MAIN)])
    assert fetch(probe, Reversed(remote, remote.list_refs()), "origin").commits == 1
    assert probe.refs.read("refs/remotes/origin/main") == later


# -- concurrency ----------------------------------------------------------------------------

RACE_WORKER = """
import json, os, sys, time
from pathlib import Path
from muse.errors import ConflictError
from muse.repo import Repository
from muse.transfer import push
hook = None
{open_code}
repo = Repository.find(Path(sys.argv[1]))
Path(sys.argv[3]).write_text("ready")
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
try:
    push(repo, remote, [("refs/heads/main", "refs/heads/main")], remote_name="origin")
    print(json.dumps({{"won": True}}))
except ConflictError as exc:
    print(json.dumps({{"won": False, "error": type(exc).__name__, "message": exc.message,
                      "exit": exc.exit_code}}))
"""


@pytest.mark.slow
def test_eight_processes_race_to_push_one_branch(tmp_path: Path, seeded: Repository,
                                                 harness: RemoteHarness, remote: Remote,
                                                 remote_url: str) -> None:
    workers = 8
    clones = [clone(remote_url, tmp_path / f"w{i}") for i in range(workers)]
    code = RACE_WORKER.format(open_code=harness.open_code())
    landed: list[str] = []
    errors: Counter[str] = Counter()
    for round_no in range(3):
        base = remote.list_refs()[MAIN]
        tips = []
        for i, repo in enumerate(clones):
            assert repo.head() is not None
            tips.append(commit_files(repo, {f"w{i}/r{round_no}.txt": f"{i}/{round_no}".encode()},
                                     f"worker {i} round {round_no}"))
        go = tmp_path / f"go-{round_no}"
        procs = []
        for i, repo in enumerate(clones):
            assert repo.root is not None
            ready = tmp_path / f"ready-{round_no}-{i}"
            procs.append((ready, subprocess.Popen(
                [sys.executable, "-c", code, str(repo.root), str(go), str(ready)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
        deadline = time.monotonic() + 60
        while not all(ready.exists() for ready, _ in procs) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.write_text("go")
        outcomes = []
        for _, proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
            outcomes.append(json.loads(out))
        winners = [i for i, o in enumerate(outcomes) if o["won"]]
        errors.update(o["error"] for o in outcomes if not o["won"])
        assert len(winners) == 1, outcomes  # same base for all: exactly one fast-forward
        assert remote.list_refs()[MAIN] == tips[winners[0]]
        landed.append(tips[winners[0]])
        for i, outcome in enumerate(outcomes):
            if i in winners:
                continue
            assert outcome["exit"] == 4
            assert outcome["error"] in {"PushNonFastForwardError", "PushConflictError"}
            assert "refused" in outcome["message"]
            # The loser catches up: fetch, merge the winner in, and goes again next round.
            fetch(clones[i], remote, "origin")
            tracked = clones[i].refs.read("refs/remotes/origin/main")
            assert tracked is not None and tracked != base
            merge_commit(clones[i], tracked, f"merge after round {round_no}")
        tip = remote.list_refs()[MAIN]
        probe = new_repo(tmp_path / f"probe-{round_no}")
        fetch(probe, remote, "origin")
        reachable = set(probe.graph.walk([tip]))
        assert set(landed) <= reachable  # no landed commit was ever lost

    # Losers that read the refs before the winner landed passed the client's check:
    # the remote's compare-and-swap is what stopped them.
    assert errors["PushConflictError"] > 0, errors

    # Every loser's work lands after catching up, one after another.
    for repo in clones:
        fetch(repo, remote, "origin")
        tracked = repo.refs.read("refs/remotes/origin/main")
        head = repo.head()
        assert tracked is not None and head is not None
        if not repo.graph.is_ancestor(tracked, head):
            merge_commit(repo, tracked, "final merge")
        push_main(repo, remote)
    final = new_repo(tmp_path / "final")
    fetch(final, remote, "origin")
    tip = remote.list_refs()[MAIN]
    files = final.store.read_snapshot(final.graph.commit(tip).snapshot).as_dict()
    assert {f"w{i}/r{r}.txt" for i in range(workers) for r in range(3)} <= set(files)
    assert_no_ghost_refs(remote, tmp_path / "probe-final")


# -- faults ---------------------------------------------------------------------------------


def _raise_at(point: str, times: int = 1_000_000) -> Callable[[str], None]:
    left = [times]

    def hook(at: str) -> None:
        if at == point and left[0] > 0:
            left[0] -= 1
            raise TransientRemoteError(f"injected fault at {point}")

    return hook


def test_a_fault_between_upload_and_ref_update_leaves_no_ghost_ref(
        tmp_path: Path, seeded: Repository, harness: RemoteHarness, remote: Remote) -> None:
    for n, point in enumerate(harness.fault_points):
        old = remote.list_refs()[MAIN]
        new = commit_files(seeded, {f"fault-{point}.wav": blob(100 + n, 3000)}, point)
        faulty = harness.open(hook=_raise_at(point))
        with pytest.raises(TransientRemoteError, match=point):
            push_main(seeded, faulty)
        refs = assert_no_ghost_refs(remote, tmp_path / f"probe-{point}")
        assert refs[MAIN] in (old, new)  # moved entirely or not at all
        report = push_main(seeded, remote)  # the retry completes
        assert remote.list_refs()[MAIN] == new
        assert [o.status for o in report.refs] == (
            ["up-to-date"] if refs[MAIN] == new else ["fast-forward"])


def test_retrying_wrapper_recovers_a_push_through_each_fault(
        tmp_path: Path, seeded: Repository, harness: RemoteHarness, remote: Remote) -> None:
    for n, point in enumerate(harness.fault_points):
        new = commit_files(seeded, {f"retry-{point}.wav": blob(200 + n, 3000)}, point)
        sleeps: list[float] = []
        counted = CountingRemote(harness.open(hook=_raise_at(point, times=1)))
        retrying = RetryingRemote(counted, attempts=3, sleep=sleeps.append)
        report = push_main(seeded, retrying)
        assert [o.status for o in report.refs] == ["fast-forward"]
        assert remote.list_refs()[MAIN] == new
        assert counted.counts["push"] == 2 and len(sleeps) == 1
    assert_no_ghost_refs(remote, tmp_path / "probe")


KILL_WORKER = """
import os, sys, time
from pathlib import Path
from muse.repo import Repository
from muse.transfer import push
def stall(point):
    Path(sys.argv[3]).write_text(point)
    time.sleep(120)
def hook(point):
    if point == sys.argv[2]:
        stall(point)
class Progress:
    def __init__(self):
        self.uploading, self.sent = False, 0
    def phase(self, name, total):
        self.uploading = name == "uploading"
    def advance(self, n):
        self.sent += n if self.uploading else 0
        if sys.argv[2] == "uploading" and self.sent > 1 << 20:
            stall("uploading")  # half of the bundle is on the remote's side
    def finish(self):
        pass
{open_code}
repo = Repository.find(Path(sys.argv[1]))
push(repo, remote, [("refs/heads/main", "refs/heads/main")], progress=Progress())
"""


@pytest.mark.slow
def test_a_pusher_killed_mid_push_leaves_no_ghost_and_no_stuck_lock(
        tmp_path: Path, seeded: Repository, harness: RemoteHarness, remote: Remote) -> None:
    code = KILL_WORKER.format(open_code=harness.open_code())
    points = ["uploading", *harness.fault_points[:-1]]
    for n, point in enumerate(points):
        old = remote.list_refs()[MAIN]
        new = commit_files(seeded, {f"killed-{point}.wav": blob(300 + n, 2 << 20)}, point)
        marker = tmp_path / f"at-{point}"
        assert seeded.root is not None
        proc = subprocess.Popen([sys.executable, "-c", code, str(seeded.root), point,
                                 str(marker)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, stderr_of(proc)
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()  # reaped: the lock's holder is now truly gone
        if proc.stderr is not None:
            proc.stderr.close()
        if harness.lock_held_point is not None and point == harness.lock_held_point:
            assert harness.lock_is_held()
        assert assert_no_ghost_refs(remote, tmp_path / f"probe-{point}")[MAIN] == old
        started = time.monotonic()
        report = push_main(seeded, remote)
        assert time.monotonic() - started < 5  # recovered at once, not after a lock timeout
        assert report.commits == 1
        assert remote.list_refs()[MAIN] == new


# -- hostile remotes ------------------------------------------------------------------------


def stderr_of(proc: subprocess.Popen[bytes]) -> str:
    return proc.stderr.read().decode() if proc.stderr is not None else ""


def _flip_middle(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def _truncate(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize("mangle", [_flip_middle, _truncate], ids=["tampered", "truncated"])
def test_a_bad_bundle_from_a_hostile_remote_changes_nothing(
        tmp_path: Path, seeded: Repository, remote: Remote, remote_url: str,
        mangle: Callable[[bytes], bytes]) -> None:
    local = clone(remote_url, tmp_path / "local")
    commit_files(seeded, {"new.wav": blob(77, 50_000)}, "new")
    push_main(seeded, remote)
    assert local.root is not None
    before = tree_state(local.root)
    hostile = HostileRemote(remote, mangle)
    with pytest.raises(BundleError) as caught:
        fetch(local, hostile, "origin")
    assert caught.value.exit_code == 5
    assert tree_state(local.root) == before

    with pytest.raises(BundleError):
        clone(remote_url, tmp_path / "fresh", remote=hostile)
    assert not (tmp_path / "fresh").exists()


def test_a_damaged_local_object_never_reaches_the_remote(tmp_path: Path, seeded: Repository,
                                                        remote: Remote,
                                                        harness: RemoteHarness) -> None:
    # A verifying remote re-hashes what it receives; for any other the writer re-hashes.
    take = blob(91, 40_000)
    commit_files(seeded, {"take2.wav": take}, "second take")
    loose = seeded.store.objects_dir / (oid := hashlib.sha256(take).hexdigest())[:2] / oid[2:]
    os.chmod(loose, 0o644)
    loose.write_bytes(_flip_middle(take))
    before = harness.state()
    with pytest.raises(MuseError) as caught:
        push_main(seeded, remote)
    assert oid in caught.value.message
    assert harness.state() == before


def test_a_damaged_object_on_the_remote_is_refused_on_clone_and_fetch(
        tmp_path: Path, seeded: Repository, remote: Remote, remote_url: str,
        harness: RemoteHarness) -> None:
    local = clone(remote_url, tmp_path / "local")
    assert local.root is not None
    take = blob(92, 60_000)
    commit_files(seeded, {"take3.wav": take}, "third take")
    push_main(seeded, remote)
    harness.damage(take)
    before = tree_state(local.root)
    with pytest.raises(BundleError) as caught:
        fetch(local, remote, "origin")
    assert hashlib.sha256(take).hexdigest() in caught.value.message
    assert tree_state(local.root) == before
    with pytest.raises(BundleError):
        clone(remote_url, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_a_remote_that_lies_about_its_refs_is_refused(tmp_path: Path, seeded: Repository,
                                                      remote: Remote, remote_url: str) -> None:
    local = clone(remote_url, tmp_path / "local")
    assert local.root is not None
    before = tree_state(local.root)
    liar = StaleView(remote, {**remote.list_refs(), "refs/heads/ghost": "ab" * 32})
    with pytest.raises(Exception) as caught:
        fetch(local, liar, "origin")
    assert getattr(caught.value, "exit_code", None) == 6
    assert tree_state(local.root) == before


def test_conflict_errors_share_the_exit_code() -> None:
    assert issubclass(PushConflictError, ConflictError)
    assert PushConflictError("x", hint=None, refs=[]).exit_code == 4


def test_cloning_an_empty_remote_gives_an_empty_repository(tmp_path: Path, remote: Remote,
                                                           remote_url: str) -> None:
    repo = clone(remote_url, tmp_path / "empty-clone")
    assert repo.head() is None and repo.refs.list() == {}
    assert repo.config.get("remote.origin.url") == remote_url
    # …and the first push from it creates the branch.
    commit_files(repo, {"first.mid": b"MThd"}, "first")
    push_main(repo, remote)
    assert remote.list_refs() == {MAIN: repo.head()}
    assert repo.refs.read("refs/remotes/origin/main") == repo.head()
