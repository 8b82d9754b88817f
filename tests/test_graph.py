"""The history graph: reachability deltas against the exact answer, ancestry, merge bases."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from muse.graph import parents_first, reachability_delta
from muse.objects import Commit, Snapshot
from muse.repo import Repository


class History:
    """A synthetic history written straight into a store (no working tree needed)."""

    def __init__(self, path: Path) -> None:
        self.repo = Repository.init(path)
        self.snapshot = Snapshot.from_entries([])
        self.commits: list[str] = []
        self.times: dict[str, int] = {}
        with self.repo.store.batch() as batch:
            batch.add_bytes(self.snapshot.encode())

    def add(self, parents: list[str], timestamp: int) -> str:
        commit = Commit(self.snapshot.id, tuple(parents), "A", "a@example.org", timestamp, 0,
                        f"commit {len(self.commits)}")
        with self.repo.store.batch() as batch:
            batch.add_bytes(commit.encode())
        self.commits.append(commit.id)
        self.times[commit.id] = timestamp
        return commit.id

    def ancestors(self, oid: str) -> set[str]:
        return set(self.repo.graph.walk([oid]))


def random_history(path: Path, seed: int, *, skew: int, size: int = 250) -> History:
    rng = random.Random(seed)
    history = History(path)
    history.add([], 1_000_000)
    for _ in range(size):
        recent = history.commits[-30:]
        parents = [history.commits[-1] if rng.random() < 0.7 else rng.choice(recent)]
        if rng.random() < 0.15:
            parents.append(rng.choice(recent))
        parents = list(dict.fromkeys(parents))
        newest_parent = max(history.times[p] for p in parents)
        history.add(parents, newest_parent + rng.choice([0, 0, 1]) - rng.randint(0, skew))
    return history


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_delta_is_exact_when_clocks_only_move_forward(tmp_path: Path, seed: int) -> None:
    history = random_history(tmp_path / "h", seed, skew=0)
    rng = random.Random(seed)
    for _ in range(150):
        a, b = rng.choice(history.commits), rng.choice(history.commits)
        got = reachability_delta(history.repo.graph, [a], [b]).commits
        assert set(got) == history.ancestors(a) - history.ancestors(b)
        assert len(got) == len(set(got))


@pytest.mark.parametrize("seed", [4, 5])
def test_delta_never_misses_a_commit_under_clock_skew(tmp_path: Path, seed: int) -> None:
    history = random_history(tmp_path / "h", seed, skew=3)
    rng = random.Random(seed)
    for _ in range(150):
        a, b = rng.choice(history.commits), rng.choice(history.commits)
        got = set(reachability_delta(history.repo.graph, [a], [b]).commits)
        exact = history.ancestors(a) - history.ancestors(b)
        assert exact <= got
        assert not (got - exact) & {b}  # never the excluded tip itself


def test_same_second_chain_is_recognised_as_old(tmp_path: Path) -> None:
    history = History(tmp_path / "h")
    chain = [history.add([], 7)]
    for _ in range(60):
        chain.append(history.add([chain[-1]], 7))
    graph = history.repo.graph
    assert reachability_delta(graph, [chain[10]], [chain[-1]]).commits == []
    assert reachability_delta(graph, [chain[-1]], [chain[-2]]).commits == [chain[-1]]


def test_incremental_delta_reads_only_the_new_commits(tmp_path: Path) -> None:
    history = History(tmp_path / "h")
    chain = [history.add([], 100)]
    for i in range(200):
        chain.append(history.add([chain[-1]], 100 + i))
    graph = history.repo.graph
    graph._cache.clear()
    reads: list[str] = []
    original = graph.commit

    def counting(oid: str) -> Commit:
        reads.append(oid)
        return original(oid)

    graph.commit = counting  # type: ignore[method-assign]
    delta = reachability_delta(graph, [chain[-1]], [chain[-3]])
    assert delta.commits == chain[-2:]
    assert len(set(reads)) <= 4


def test_commits_sharing_a_second_are_walked_only_within_that_second(tmp_path: Path) -> None:
    history = History(tmp_path / "h")
    chain = [history.add([], 100)]
    for i in range(200):
        chain.append(history.add([chain[-1]], 100 + i // 50))  # runs of 50 per second
    graph = history.repo.graph
    graph._cache.clear()
    delta = reachability_delta(graph, [chain[-1]], [chain[-3]])
    assert delta.commits == chain[-2:]
    assert len(graph._cache) <= 60  # this second's run, not the 200 before


def test_delta_orders_parents_before_children(tmp_path: Path) -> None:
    history = random_history(tmp_path / "h", 9, skew=0, size=120)
    delta = reachability_delta(history.repo.graph, [history.commits[-1]], [])
    position = {oid: i for i, oid in enumerate(delta.commits)}
    for oid in delta.commits:
        for parent in history.repo.graph.commit(oid).parents:
            assert position[parent] < position[oid]


def test_merge_base_of_diverged_branches(tmp_path: Path) -> None:
    history = History(tmp_path / "h")
    base = history.add([], 10)
    left = history.add([history.add([base], 11)], 12)
    right = history.add([base], 13)
    graph = history.repo.graph
    assert graph.merge_bases(left, right) == [base]
    assert graph.is_ancestor(base, left) and not graph.is_ancestor(left, right)


@pytest.mark.parametrize(("seed", "skew"), [(4, 0), (5, 0), (6, 5), (7, 30)])
def test_ancestry_and_relation_match_the_exhaustive_answer(tmp_path: Path, seed: int,
                                                           skew: int) -> None:
    # Under skew the delta shortcut is inconclusive, and the exhaustive walk must decide.
    history = random_history(tmp_path / "h", seed, skew=skew)
    graph = history.repo.graph
    rng = random.Random(seed)
    expected_names = {(True, True): "same", (True, False): "behind",
                      (False, True): "ahead", (False, False): "diverged"}
    for _ in range(150):
        a, b = rng.choice(history.commits), rng.choice(history.commits)
        a_in_b, b_in_a = a in history.ancestors(b), b in history.ancestors(a)
        assert graph.is_ancestor(a, b) == a_in_b
        assert graph.relation(a, b) == expected_names[(a_in_b, b_in_a)]


def test_a_fast_forward_check_reads_only_the_commits_between(tmp_path: Path) -> None:
    history = History(tmp_path / "h")
    tip = history.add([], 1_000_000)
    for i in range(1, 400):
        tip = history.add([tip], 1_000_000 + i)
    old = tip
    for i in range(3):
        tip = history.add([tip], 2_000_000 + i)
    history.repo.graph._cache.clear()
    assert history.repo.graph.relation(old, tip) == "behind"
    assert history.repo.graph.relation(tip, old) == "ahead"
    assert len(history.repo.graph._cache) <= 10  # not the 400 commits of older history


def test_parents_first_places_parents_before_children_and_survives_a_claimed_cycle():
    parents = {"c": ["b", "a"], "b": ["a"], "a": []}
    assert parents_first(["c", "b", "a"], parents.__getitem__) == ["a", "b", "c"]
    # Rows claiming a cycle (only a damaged index could): each commit once, and it ends.
    looped = {"x": ["y"], "y": ["x"], "z": ["x"]}
    order = parents_first(["z", "x", "y"], looped.__getitem__)
    assert sorted(order) == ["x", "y", "z"] and order[-1] == "z"
