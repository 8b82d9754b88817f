"""Fetch negotiation by generation: exactly the full walk's answer, at a cost bounded by
what the client lacks; schema version 4 fills the generations; a real fetch still works."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from muse.errors import RemoteError
from muse.repo import Repository
from muse.transfer import clone, fetch, push
from remotes.hub.negotiate import Node, UnknownCommit, full_walk, generations, negotiate
from remotes.hub.postgres_db import PostgresDatabase
from remotes.hub.repack import Repacker
from remotes.hub.schema import MIGRATIONS, SCHEMA_VERSION
from remotes.hub.sql_index import Database, SqlIndex
from remotes.hub.sqlite_db import SqliteDatabase
from tests.hub.conftest import hub_remote
from tests.hub.negotiate_support import (
    CountingDatabase,
    Pack,
    install_packs,
    linear_packs,
    oid,
)
from tests.hub_server import HubServer
from tests.remotes.remote_support import MAIN, commit_files, new_repo

# -- an in-memory commit source, counting what it is asked --------------------------------


class DictSource:
    def __init__(self, graph: dict[str, Node], requires: dict[str, tuple[str, ...]]) -> None:
        self._graph = graph
        self._requires = requires
        self.rows = 0
        self.queries = 0

    def nodes(self, oids: Collection[str]) -> dict[str, Node]:
        self.queries += 1
        found = {o: self._graph[o] for o in oids if o in self._graph}
        self.rows += len(found)
        return found

    def band(self, low: int, high: int) -> dict[str, Node]:
        self.queries += 1
        found = {o: n for o, n in self._graph.items()
                 if n.generation is not None and low <= n.generation <= high}
        self.rows += len(found)
        return found

    def graph(self) -> dict[str, Node]:
        self.queries += 1
        self.rows += len(self._graph)
        return dict(self._graph)

    def requires(self, packs: Collection[str]) -> dict[str, tuple[str, ...]]:
        self.queries += 1
        return {p: self._requires[p] for p in packs if p in self._requires}


@st.composite
def dags(draw: st.DrawFn) -> tuple[dict[str, Node], dict[str, tuple[str, ...]],
                                   list[str], list[str]]:
    """A random DAG in random packs with random prerequisites, some generations unknown,
    and random wants and haves (some unknown to the hub, some not ancestors of the wants)."""
    n = draw(st.integers(1, 40))
    names = [f"c{i}" for i in range(n)]
    parents: dict[str, tuple[str, ...]] = {}
    for i, name in enumerate(names):
        if i == 0:
            parents[name] = ()
            continue
        picks = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True))
        # Mostly long chains, as real histories are: the newest commit often the parent.
        if draw(st.booleans()):
            picks = [i - 1, *[p for p in picks if p != i - 1]][:3]
        parents[name] = tuple(names[p] for p in picks)
    packs = [f"p{k}" for k in range(draw(st.integers(1, 5)))]
    provider = {c: draw(st.sampled_from(packs)) for c in names}
    requires = {p: tuple(draw(st.lists(st.sampled_from(names), max_size=3, unique=True)))
                for p in packs}
    gens = generations(parents, lambda p: None)
    unknown = set(draw(st.lists(st.sampled_from(names), max_size=2)))
    if draw(st.integers(0, 4)) > 0:
        unknown = set()  # mostly a fully migrated database
    graph = {c: Node(provider[c], parents[c], None if c in unknown else gens[c])
             for c in names}
    wants = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
    haves = draw(st.lists(st.sampled_from([*names, "stranger", "c999"]), max_size=5))
    return graph, requires, wants, haves


def reference(graph: dict[str, Node], requires: dict[str, tuple[str, ...]],
              wants: list[str], haves: list[str]) -> Any:
    try:
        return full_walk(wants, haves, graph, lambda p: requires[p])
    except Exception as exc:  # the same failure is the same answer
        return type(exc)


def negotiated(graph: dict[str, Node], requires: dict[str, tuple[str, ...]],
               wants: list[str], haves: list[str], **knobs: int) -> Any:
    try:
        return negotiate(wants, haves, DictSource(graph, requires), **knobs).chosen
    except Exception as exc:
        return type(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_the_walk_by_generation_chooses_exactly_what_the_full_walk_does(case: Any) -> None:
    graph, requires, wants, haves = case
    expected = reference(graph, requires, wants, haves)
    assert negotiated(graph, requires, wants, haves) == expected
    # Generation bands from the second query on, of width 1 then 2, 4, …: the same answer.
    assert negotiated(graph, requires, wants, haves, exact_queries=1, first_band=1) == expected
    # The walk answered, not the fallback, whenever every generation is known and the
    # client has something the hub knows.
    if all(n.generation is not None for n in graph.values()) and \
            any(h in graph for h in haves) and not isinstance(expected, type):
        assert not negotiate(wants, haves, DictSource(graph, requires)).fallback


@settings(max_examples=200, deadline=None)
@given(dags())
def test_generations_are_one_above_the_highest_parent(case: Any) -> None:
    graph = case[0]
    parents = {c: n.parents for c, n in graph.items()}
    gens = generations(parents, lambda p: None)
    for c, ps in parents.items():
        assert gens[c] == 1 + max((gens[p] or 0 for p in ps), default=0)
    # A parent outside the map with an unknown generation leaves its descendants unknown.
    gens = generations({"a": ("outside",), "b": ("a",), "c": ()}, lambda p: None)
    assert gens == {"a": None, "b": None, "c": 1}
    assert generations({"a": ("outside",)}, lambda p: 41) == {"a": 42}


def test_a_cycle_a_damaged_index_claims_ends_unknown() -> None:
    # No hashed history holds one; rows edited by hand might: the walk must still end.
    gens = generations({"a": ("b",), "b": ("a",), "c": ("a",), "d": ()}, lambda p: None)
    assert gens == {"a": None, "b": None, "c": None, "d": 1}


def test_a_want_the_hub_lacks_is_named() -> None:
    graph = {"a": Node("p", (), 1)}
    with pytest.raises(UnknownCommit) as caught:
        negotiate(["a", "zz"], [], DictSource(graph, {"p": ()}))
    assert caught.value.oid == "zz"


# -- the hub's index: rows read, queries, migration ----------------------------------------


def new_index(db: Database) -> tuple[SqlIndex, Any]:
    index = SqlIndex(db)
    index.migrate()
    index.add_user("ada")
    return index, index.create_repo("ada", "song", public=False)


def full_plan(index: SqlIndex, repo: Any, wants: list[str], haves: list[str]) -> list[str]:
    """The answer of the fetch as it was: the whole graph in memory."""
    graph = {c: Node(p, ps, None) for c, (p, ps) in index.commit_graph(repo).items()}
    packs = index.pack_rows(repo, replaced=True)
    return full_walk(wants, haves, graph, lambda p: packs[p][1])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_fetch_five_behind_reads_a_handful_of_rows(backend: str, tmp_path: Path,
                                                     request: pytest.FixtureRequest) -> None:
    inner: Database = (SqliteDatabase(tmp_path / "index.sqlite3") if backend == "sqlite"
                       else PostgresDatabase(request.getfixturevalue("pg_database")))
    db = CountingDatabase(inner)
    index, repo = new_index(db)
    total = 3000
    packs = linear_packs(total, [1000, 1000, 995, 5])
    # A side branch off the middle, and an old tag-like node: rows a fetch must not read.
    side = {oid(f"side-{i}"): (oid(1500) if i == 0 else oid(f"side-{i - 1}"),)
            for i in range(50)}
    install_packs(index, repo, [*packs, Pack(oid("pack-side"), side, (oid(1500),))])
    tip, have = oid(total - 1), oid(total - 6)
    for haves in ([have], [have, oid("side-49"), oid("unknown")]):
        expected = full_plan(index, repo, [tip], haves)
        db.counts.reset()
        plan = index.fetch_plan(repo, [tip], haves)
        assert plan.chosen == [packs[-1].pack_id] == expected
        assert plan.provides == {packs[-1].pack_id: sorted(packs[-1].parents)}
        assert not plan.negotiated.fallback
        # Five commits lacked: a few rows per step, never the 3,050 of the whole graph.
        assert db.counts.rows <= 40, db.counts.statements
        assert db.counts.queries <= 20, db.counts.statements
    expected = full_plan(index, repo, [tip], [])
    db.counts.reset()
    plan = index.fetch_plan(repo, [tip], [])  # a clone: every pack, in O(log n) queries
    assert plan.chosen == expected == sorted(p.pack_id for p in packs)
    assert db.counts.queries <= 40
    assert db.counts.rows <= 2 * (total + len(side)) + 10


def seed_version_3(db: Database, dangling: bool) -> None:
    """A hub database of schema version 3 holding one repository's commit rows, a linear
    history with a merge; with `dangling`, a second repository whose commit has a parent
    with no row (no push makes one: a damaged database)."""
    with db.cursor() as cur:
        for statements in MIGRATIONS[:3]:
            for statement in statements:
                assert isinstance(statement, str)
                cur.execute(statement)
        cur.execute("INSERT INTO hub_meta (key, value) VALUES ('schema_version', '3')")
        cur.execute("INSERT INTO users (name, created) VALUES ('ada', 1)")
        for repo in ("r1", "r2"):
            cur.execute(db.sql("INSERT INTO repos (id, owner, name, public, created) "
                               "VALUES (?, 'ada', ?, 0, 1)"), (repo, f"song-{repo}"))
        cur.execute("INSERT INTO packs (repo_id, pack_id, size, requires, created) "
                    "VALUES ('r1', 'p1', 10, '[]', 1)")
        rows = [("r1", "a", ""), ("r1", "b", "a"), ("r1", "c", "b"), ("r1", "x", "a"),
                ("r1", "m", "c x"), ("r1", "d", "m")]
        if dangling:  # the same ids in another repository, and a gap
            rows += [("r2", "a", ""), ("r2", "b", "a"), ("r2", "e", "ghost"), ("r2", "f", "e")]
        # Children first, as no insert order can be relied on.
        for repo, commit, parents in reversed(rows):
            cur.execute(db.sql("INSERT INTO commits (repo_id, oid, pack_id, parents) "
                               "VALUES (?, ?, 'p1', ?)"), (repo, commit, parents))


def generations_of(db: Database, repo: str = "r1") -> dict[str, int | None]:
    with db.cursor() as cur:
        cur.execute(db.sql("SELECT oid, generation FROM commits WHERE repo_id = ?"), (repo,))
        return {str(o): None if g is None else int(g) for o, g in cur.fetchall()}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_version_3_databases_gain_generations_parents_first(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db: Database = (SqliteDatabase(tmp_path / "index.sqlite3") if backend == "sqlite"
                    else PostgresDatabase(request.getfixturevalue("pg_database")))
    seed_version_3(db, dangling=True)
    assert SqlIndex(db).migrate() == 3
    assert SqlIndex(db).migrate() == SCHEMA_VERSION == 4
    assert generations_of(db) == {"a": 1, "b": 2, "c": 3, "x": 2, "m": 4, "d": 5}
    # A gap below: unknown, not guessed.
    assert generations_of(db, "r2") == {"a": 1, "b": 2, "e": None, "f": None}
    index = SqlIndex(db)
    repo = index.repo("ada", "song-r1")
    assert repo is not None
    plan = index.fetch_plan(repo, ["d"], ["c"])
    assert plan.chosen == ["p1"] and not plan.negotiated.fallback
    assert plan.provides == {"p1": ["a", "b", "c", "d", "m", "x"]}
    # A row an older hub (a replica not yet upgraded) inserted, without a generation: the
    # fetch reading it walks the whole graph, as before the migration.
    with db.cursor() as cur:
        cur.execute("UPDATE commits SET generation = NULL WHERE oid = 'd'")
    plan = index.fetch_plan(repo, ["d"], ["c"])
    assert plan.negotiated.fallback and plan.chosen == ["p1"]
    # A push on top of it gets no generation either; one beside it does.
    install_packs(index, repo, [Pack("p2", {"g": ("d",)}, ("d",)),
                                Pack("p3", {"h": ("c",)}, ("c",))])
    assert {k: v for k, v in generations_of(db).items() if k in "gh"} == {"g": None, "h": 4}
    assert index.fetch_plan(repo, ["g"], ["d"]).chosen == ["p2"]
    plan = index.fetch_plan(repo, ["h"], ["c"])
    assert plan.chosen == ["p3"] and not plan.negotiated.fallback
    assert index.fetch_plan(repo, ["g", "h"], ["x"]).chosen == ["p1", "p2", "p3"]
    with pytest.raises(RemoteError, match="has no commit"):
        index.fetch_plan(repo, ["nope"], [])


def test_the_fill_is_a_few_statements_whatever_the_rows(tmp_path: Path) -> None:
    db = CountingDatabase(SqliteDatabase(tmp_path / "index.sqlite3"))
    seed_version_3(db, dangling=False)
    with db.cursor() as cur:
        for i in range(2000):
            cur.execute("INSERT INTO commits (repo_id, oid, pack_id, parents) "
                        "VALUES ('r1', ?, 'p1', ?)", (f"n{i}", f"n{i - 1}" if i else "d"))
    db.counts.reset()
    SqlIndex(db).migrate()
    assert db.counts.queries < 30  # not one UPDATE per row
    assert generations_of(db)["n1999"] == 2005


# -- over real HTTP ---------------------------------------------------------------------


def test_a_fetch_over_http_returns_only_what_the_client_lacks(
        tmp_path: Path, hub_server: HubServer, muse_home: Path) -> None:
    repo = hub_server.new_repo()
    local: Repository = new_repo(tmp_path / "local")
    remote = hub_remote(repo, inline=1 << 30)
    reader = hub_remote(repo, token=repo.read_token)
    heads = []
    for i in range(4):  # four pushes: four packs
        heads.append(commit_files(local, {f"take-{i}.txt": f"take {i}\n".encode()},
                                  f"take {i}"))
        push(local, remote, [(MAIN, MAIN)])
        if i == 1:
            cloned = clone(repo.url, tmp_path / "clone", remote=reader)
    behind = reader.fetch([heads[-1]], [heads[1], "0" * 64])
    assert len(behind) == 2
    assert set().union(*(b.provides for b in behind)) == {heads[2], heads[3]}
    everything = reader.fetch([heads[-1]], [])
    assert set().union(*(b.provides for b in everything)) == set(heads)
    assert reader.fetch([heads[-1]], [heads[-1]]) == []
    with pytest.raises(RemoteError, match="has no commit"):
        reader.fetch(["f" * 64], [])
    # The client's own fetch, two commits behind, lands exactly those.
    report = fetch(cloned, reader, "origin")
    assert report.commits == 2
    assert cloned.refs.read("refs/remotes/origin/main") == heads[-1]


def test_a_repack_keeps_every_generation(tmp_path: Path, hub_server: HubServer,
                                         muse_home: Path) -> None:
    repo = hub_server.new_repo()
    local: Repository = new_repo(tmp_path / "local")
    heads = []
    for i in range(4):
        heads.append(commit_files(local, {f"take-{i}.txt": f"take {i}\n".encode()},
                                  f"take {i}"))
        push(local, hub_remote(repo), [(MAIN, MAIN)])
    hub = hub_server.admin()
    found = hub.index.repo(repo.owner, repo.name)
    assert found is not None

    def rows() -> dict[str, int | None]:
        with hub.index.db.cursor() as cur:
            cur.execute(hub.index.db.sql("SELECT oid, generation FROM commits WHERE "
                                         "repo_id = ?"), (found.id,))
            return {str(o): g for o, g in cur.fetchall()}

    before = rows()
    assert sorted(before[h] or 0 for h in heads) == [1, 2, 3, 4]
    assert Repacker(hub).repack(found).packs_after == 1
    assert rows() == before
    plan = hub.index.fetch_plan(found, [heads[-1]], [heads[-2]])
    assert not plan.negotiated.fallback and len(plan.chosen) == 1
    assert heads[-1] in plan.provides[plan.chosen[0]]
