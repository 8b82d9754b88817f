"""Commit graphs for the negotiation's tests and benchmark: rows straight into a hub index,
and a Database wrapper that counts every query and every row read back."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from muse.storage import COMMIT, PackEntry
from remotes.hub.sql_index import Database, NewPack, Repo, SqlIndex


def oid(label: object) -> str:
    return hashlib.sha256(str(label).encode()).hexdigest()


@dataclass(frozen=True)
class Pack:
    pack_id: str
    parents: Mapping[str, tuple[str, ...]]   # the pack's commits → their parents
    requires: tuple[str, ...] = ()


def install_packs(index: SqlIndex, repo: Repo, packs: Sequence[Pack]) -> None:
    """Index each pack as a push would (one install transaction each), refs untouched."""
    for pack in packs:
        entries = [PackEntry(c, i, 100, COMMIT) for i, c in enumerate(pack.parents)]
        index.install(repo, NewPack(pack.pack_id, 1000, pack.requires, entries,
                                    dict(pack.parents)), [], stored=lambda p: True)


def linear_packs(commits: int, pack_sizes: Sequence[int]) -> list[Pack]:
    """A linear history of `commits`, cut into packs of `pack_sizes` (their sum), oldest
    first; each pack requires the last commit of the one before."""
    assert sum(pack_sizes) == commits
    packs, at, previous = [], 0, None
    for n, size in enumerate(pack_sizes):
        parents = {}
        for i in range(at, at + size):
            parents[oid(i)] = () if i == 0 else (oid(i - 1),)
        packs.append(Pack(oid(f"pack-{n}"), parents, () if previous is None else (previous,)))
        at += size
        previous = oid(at - 1)
    return packs


@dataclass
class Counts:
    queries: int = 0
    rows: int = 0
    statements: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.queries, self.rows, self.statements = 0, 0, []


class CountingCursor:
    def __init__(self, inner: Any, counts: Counts) -> None:
        self.inner = inner
        self._counts = counts

    @property
    def rowcount(self) -> int:
        return int(self.inner.rowcount)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._counts.queries += 1
        self._counts.statements.append(sql)
        return self.inner.execute(sql, params)

    def fetchone(self) -> Any:
        row = self.inner.fetchone()
        self._counts.rows += row is not None
        return row

    def fetchall(self) -> list[Any]:
        rows = list(self.inner.fetchall())
        self._counts.rows += len(rows)
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CountingDatabase:
    """`inner` behind the `Database` adapter, counting the queries and rows through it."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.url = inner.url
        self.lock_rows = inner.lock_rows
        self.counts = Counts()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[CountingCursor]:
        with self.inner.cursor() as cur:
            yield CountingCursor(cur, self.counts)

    def sql(self, query: str) -> str:
        return self.inner.sql(query)

    def begin_write(self, cur: Any) -> None:
        self.inner.begin_write(cur)

    def begin_read(self, cur: Any) -> None:
        self.inner.begin_read(cur)

    def lock_schema(self, cur: Any) -> None:
        self.inner.lock_schema(cur)

    def lock_key(self, cur: Any, key: str) -> None:
        self.inner.lock_key(cur, key)

    def bulk_insert(self, cur: Any, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        self.counts.queries += 1
        self.inner.bulk_insert(cur.inner, table, columns, rows)

    def table_names(self, cur: Any) -> set[str]:
        return self.inner.table_names(cur)

    def close(self) -> None:
        self.inner.close()
