"""The hub's index: users, repositories, tokens, refs and object rows, in one SQL database.

Written once against a small `Database` adapter (`sqlite_db.py`, `postgres_db.py`):
the queries are portable, the adapter supplies connections, the placeholder
style, the write-transaction statement and the bulk insert (executemany on
SQLite, COPY on PostgreSQL). A push is installed in one transaction that
inserts its rows and moves every ref by compare-and-swap, all or none.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from muse.errors import ConflictError, CorruptObjectError, RemoteError, UsageError
from muse.refs import RefUpdate
from muse.remote import RefResult
from muse.storage import COMMIT, TAG, Location, PackEntry

from ..bucket import refusals
from .negotiate import Negotiated, Node, UnknownCommit, generations, negotiate
from .schema import MIGRATIONS, SCHEMA_VERSION

# Ids per `IN (…)` query: well under SQLite's and PostgreSQL's parameter limits.
BATCH = 500


def _select_batched(cur: Cursor, db: Database, query: str, params: Sequence[Any],
                    ids: Iterable[str]) -> Iterator[Any]:
    """Every row of `query` for `ids`, run BATCH ids at a time: `{marks}` in it stands for
    one placeholder per id of the batch, which follow `params`."""
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start:start + BATCH]
        marks = ", ".join("?" * len(chunk))
        cur.execute(db.sql(query.format(marks=marks)), (*params, *chunk))
        yield from cur.fetchall()


class Cursor(Protocol):
    rowcount: int

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Database(Protocol):
    """What a backend supplies: connections and the few statements that differ."""

    url: str
    lock_rows: str  # appended to a SELECT that must lock the rows it reads (" FOR UPDATE")

    def cursor(self) -> contextlib.AbstractContextManager[Cursor]:
        """A cursor on a connection in autocommit mode (transactions are explicit)."""
        ...

    def sql(self, query: str) -> str:
        """`query` (written with `?` placeholders) in this database's placeholder style."""
        ...

    def begin_write(self, cur: Cursor) -> None:
        """Start a transaction that will write (SQLite: BEGIN IMMEDIATE)."""
        ...

    def begin_read(self, cur: Cursor) -> None:
        """Start a read-only transaction whose reads all see one snapshot."""
        ...

    def lock_schema(self, cur: Cursor) -> None:
        """Inside a write transaction: hold off every other process's migration until it ends
        (SQLite: BEGIN IMMEDIATE did already; PostgreSQL: an advisory lock)."""
        ...

    def lock_key(self, cur: Cursor, key: str) -> None:
        """Inside a write transaction: hold off every other transaction locking the same `key`
        until this one ends (SQLite: BEGIN IMMEDIATE did already; PostgreSQL: an advisory
        lock). A pack id's lock orders whoever deletes its bytes and whoever indexes it."""
        ...

    def bulk_insert(self, cur: Cursor, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        """Insert `rows`, skipping any whose primary key exists already."""
        ...

    def table_names(self, cur: Cursor) -> set[str]:
        ...

    def close(self) -> None:
        ...


@dataclass(frozen=True)
class Repo:
    id: str
    owner: str
    name: str
    public: bool

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class TokenRow:
    id: str
    hash: str
    user: str
    repo_id: str
    scope: str
    created: int
    expires: int | None
    revoked: int | None
    note: str


@dataclass(frozen=True)
class NewPack:
    """A verified bundle to index: its rows, its commits' parents, what it builds on."""

    pack_id: str
    size: int
    requires: tuple[str, ...]
    entries: Sequence[PackEntry]           # only the items the repository lacked
    parents: dict[str, tuple[str, ...]]    # every commit among `entries` → its parents


@dataclass(frozen=True)
class Installed:
    results: list[RefResult]
    commits: int
    objects: int


Hook = Callable[[str], None]
# Whether the blob store holds a pack's bytes (`BlobStore.exists`): asked under its key lock.
Stored = Callable[[str], bool]
# Why `swap_packs` changed nothing.
PACKS_CHANGED = "the packs changed while folding"
PACK_VANISHED = "the folded pack left the blob store before its swap"


class SqlIndex:
    """Every question the hub asks of its database, and the one transaction a push is."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> int:
        """Create or upgrade the schema to SCHEMA_VERSION; returns the version found."""
        with self._write() as cur:
            self.db.lock_schema(cur)  # replicas starting together migrate once
            found = self._version(cur)
            if found > SCHEMA_VERSION:
                raise UsageError(f"the hub database {self.db.url} has schema version {found}; "
                                 f"this Muse knows up to {SCHEMA_VERSION}",
                                 hint="upgrade Muse on this host")
            for statements in MIGRATIONS[found:]:
                for statement in statements:
                    if callable(statement):
                        statement(cur, self.db)
                    else:
                        cur.execute(statement)
            self._set_meta(cur, "schema_version", str(SCHEMA_VERSION))
            if self._meta(cur, "ticket_secret") is None:
                self._set_meta(cur, "ticket_secret", secrets.token_hex(32))
            return found

    def _version(self, cur: Cursor) -> int:
        if "hub_meta" not in self.db.table_names(cur):
            return 0
        value = self._meta(cur, "schema_version")
        return int(value) if value is not None else 0

    def _meta(self, cur: Cursor, key: str) -> str | None:
        cur.execute(self.db.sql("SELECT value FROM hub_meta WHERE key = ?"), (key,))
        row = cur.fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, cur: Cursor, key: str, value: str) -> None:
        cur.execute(self.db.sql("DELETE FROM hub_meta WHERE key = ?"), (key,))
        cur.execute(self.db.sql("INSERT INTO hub_meta (key, value) VALUES (?, ?)"), (key, value))

    def ticket_secret(self) -> bytes:
        """The key upload tickets are signed with: shared by every replica through the index."""
        with self._read() as cur:
            value = self._meta(cur, "ticket_secret")
        if value is None:
            raise UsageError("the hub database is not initialised",
                             hint="run `muse hub serve` or any `muse hub` admin command once")
        return bytes.fromhex(value)

    # -- transactions ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _read(self) -> Iterator[Cursor]:
        with self.db.cursor() as cur:
            yield cur

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[Cursor]:
        """A read transaction: every query in it sees the same committed state."""
        with self.db.cursor() as cur:
            self.db.begin_read(cur)
            try:
                yield cur
            finally:
                cur.execute("ROLLBACK")

    @contextlib.contextmanager
    def _write(self) -> Iterator[Cursor]:
        with self.db.cursor() as cur:
            self.db.begin_write(cur)
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def _one(self, query: str, *params: Any) -> Any:
        with self._read() as cur:
            cur.execute(self.db.sql(query), params)
            return cur.fetchone()

    def _all(self, query: str, *params: Any) -> list[Any]:
        with self._read() as cur:
            cur.execute(self.db.sql(query), params)
            return cur.fetchall()

    # -- users, repositories, tokens -------------------------------------------------------

    def add_user(self, name: str) -> None:
        with self._write() as cur:
            cur.execute(self.db.sql("SELECT 1 FROM users WHERE name = ?"), (name,))
            if cur.fetchone() is not None:
                raise ConflictError(f"user {name!r} exists already", code="exists")
            cur.execute(self.db.sql("INSERT INTO users (name, created) VALUES (?, ?)"),
                        (name, int(time.time())))

    def users(self) -> list[str]:
        return [str(r[0]) for r in self._all("SELECT name FROM users ORDER BY name")]

    def user_exists(self, name: str) -> bool:
        return self._one("SELECT 1 FROM users WHERE name = ?", name) is not None

    def create_repo(self, owner: str, name: str, *, public: bool) -> Repo:
        repo = Repo(secrets.token_hex(16), owner, name, public)
        with self._write() as cur:
            cur.execute(self.db.sql("SELECT 1 FROM users WHERE name = ?"), (owner,))
            if cur.fetchone() is None:
                raise UsageError(f"no user {owner!r} on this hub",
                                 hint=f"add it first: muse hub user add {owner}")
            cur.execute(self.db.sql("SELECT 1 FROM repos WHERE owner = ? AND name = ?"),
                        (owner, name))
            if cur.fetchone() is not None:
                raise ConflictError(f"repository {owner}/{name} exists already", code="exists")
            cur.execute(self.db.sql("INSERT INTO repos (id, owner, name, public, created) "
                                    "VALUES (?, ?, ?, ?, ?)"),
                        (repo.id, owner, name, int(public), int(time.time())))
        return repo

    def repo(self, owner: str, name: str) -> Repo | None:
        row = self._one("SELECT id, owner, name, public FROM repos WHERE owner = ? AND name = ?",
                        owner, name)
        return None if row is None else Repo(row[0], row[1], row[2], bool(row[3]))

    def repos(self) -> list[Repo]:
        rows = self._all("SELECT id, owner, name, public FROM repos ORDER BY owner, name")
        return [Repo(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def set_public(self, repo: Repo, public: bool) -> None:
        with self._write() as cur:
            cur.execute(self.db.sql("UPDATE repos SET public = ? WHERE id = ?"),
                        (int(public), repo.id))

    def add_token(self, row: TokenRow) -> None:
        with self._write() as cur:
            cur.execute(self.db.sql(
                "INSERT INTO tokens (id, hash, user_name, repo_id, scope, created, expires, "
                "revoked, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                (row.id, row.hash, row.user, row.repo_id, row.scope, row.created, row.expires,
                 row.revoked, row.note))

    _TOKEN_COLUMNS = "id, hash, user_name, repo_id, scope, created, expires, revoked, note"

    def token_by_hash(self, digest: str) -> TokenRow | None:
        row = self._one(f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE hash = ?", digest)
        return None if row is None else TokenRow(*row)

    def tokens(self, repo: Repo | None = None) -> list[TokenRow]:
        if repo is None:
            rows = self._all(f"SELECT {self._TOKEN_COLUMNS} FROM tokens ORDER BY created, id")
        else:
            rows = self._all(f"SELECT {self._TOKEN_COLUMNS} FROM tokens WHERE repo_id = ? "
                             "ORDER BY created, id", repo.id)
        return [TokenRow(*r) for r in rows]

    def revoke_token(self, token_id: str) -> bool:
        """Revoke the token whose id (or a unique prefix of it) is `token_id`."""
        with self._write() as cur:
            cur.execute(self.db.sql("UPDATE tokens SET revoked = ? WHERE id = ? AND revoked "
                                    "IS NULL"), (int(time.time()), token_id))
            return bool(cur.rowcount == 1)

    # -- what a repository holds -----------------------------------------------------------

    def refs(self, repo: Repo) -> dict[str, str]:
        rows = self._all("SELECT name, head FROM refs WHERE repo_id = ?", repo.id)
        return {str(name): str(head) for name, head in rows}

    def objects(self, repo: Repo) -> RepoObjects:
        return RepoObjects(self, repo)

    def commit_graph(self, repo: Repo) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Every commit of `repo` → (the pack providing it, its parents): one query."""
        rows = self._all("SELECT oid, pack_id, parents FROM commits WHERE repo_id = ?", repo.id)
        return {str(o): (str(p), tuple(str(parents).split())) for o, p, parents in rows}

    def fetch_plan(self, repo: Repo, wants: Sequence[str],
                   haves: Sequence[str]) -> FetchPlan:
        """What a fetch of `wants` by a client holding `haves` downloads, read in one
        snapshot and bounded by what the client lacks (`negotiate.py`). RemoteError
        (`remote-missing`) for a want the repository lacks."""
        with self._snapshot() as cur:
            source = RepoCommits(self, cur, repo)
            try:
                done = negotiate(wants, haves, source)
            except UnknownCommit as unknown:
                raise RemoteError(f"{repo.full_name} has no commit {unknown.oid[:80]}",
                                  code="remote-missing") from None
            packs = source.packs(done.chosen)
            if done.graph is not None:  # read whole already: what each pack provides is in it
                provides: dict[str, list[str]] = {p: [] for p in done.chosen}
                for commit, node in done.graph.items():
                    if node.pack in provides:
                        provides[node.pack].append(commit)
                provides = {p: sorted(c) for p, c in provides.items()}
            else:
                provides = source.provided(done.chosen)
        return FetchPlan(done.chosen, packs, provides, done)

    def pack_rows(self, repo: Repo, *, replaced: bool = False
                  ) -> dict[str, tuple[int, tuple[str, ...]]]:
        """Every live pack of `repo` → (its size, its prerequisites); with `replaced`, also
        the packs a repack folded, still served through their grace period."""
        live = "" if replaced else " AND replaced_at IS NULL"
        rows = self._all("SELECT pack_id, size, requires FROM packs WHERE repo_id = ?" + live,
                         repo.id)
        return {str(p): (int(s), tuple(json.loads(r))) for p, s, r in rows}

    def replacements(self, repo: Repo) -> dict[str, str]:
        """Every replaced pack of `repo` → the pack it was folded into."""
        rows = self._all("SELECT pack_id, replaced_by FROM packs WHERE repo_id = ? AND "
                         "replaced_by IS NOT NULL", repo.id)
        return {str(p): str(b) for p, b in rows}

    def replaced_into(self, repo: Repo, packs: Iterable[str]) -> dict[str, str]:
        """Each replaced pack of `repo` whose items are now in one of `packs` (through
        repacks one after another) → that pack."""
        by = self.replacements(repo)
        targets = set(packs)
        found: dict[str, str] = {}
        for pack in by:
            seen, at = {pack}, by[pack]
            while at in by and at not in seen and at not in targets:
                seen.add(at)
                at = by[at]
            if at in targets:
                found[pack] = at
        return found

    def replaced_packs(self, repo: Repo) -> dict[str, int]:
        """Every pack of `repo` a repack folded into another → when."""
        rows = self._all("SELECT pack_id, replaced_at FROM packs WHERE repo_id = ? AND "
                         "replaced_at IS NOT NULL", repo.id)
        return {str(p): int(t) for p, t in rows}

    def pack_known(self, pack_id: str) -> bool:
        """Whether any repository's index names this pack (so its bytes are in the blob store)."""
        return self._one("SELECT 1 FROM packs WHERE pack_id = ?", pack_id) is not None

    def _select_in(self, columns: str, repo: Repo, ids: Iterable[str]) -> Iterator[Any]:
        with self._read() as cur:
            yield from _select_batched(cur, self.db, f"SELECT {columns} FROM objects WHERE "
                                       "repo_id = ? AND oid IN ({marks})", (repo.id,), ids)

    # -- the push transaction --------------------------------------------------------------

    def install(self, repo: Repo, pack: NewPack | None, updates: Sequence[RefUpdate],
                hook: Hook | None = None, *, stored: Stored) -> Installed:
        """Index `pack` and move every ref by compare-and-swap, in one transaction.

        Returns per-ref refusals (and indexes nothing) when an `old` no longer holds
        or a name clashes; a concurrent push that moved a ref first makes its CAS
        update touch no row, which refuses and rolls back this whole push. RemoteError
        (`remote-missing`, nothing changed) when the pack's bytes left the blob store.
        """
        step = hook or (lambda name: None)
        try:
            with self._write() as cur:
                cur.execute(self.db.sql("SELECT name, head FROM refs WHERE repo_id = ?"
                                        + self.db.lock_rows), (repo.id,))
                current = {str(n): str(h) for n, h in cur.fetchall()}
                refused = refusals(updates, current)
                if refused is not None:
                    raise _Refused(refused)
                commits = objects = 0
                if pack is not None:
                    if not self._still_stored(cur, pack.pack_id, stored):
                        raise RemoteError(f"bundle {pack.pack_id} left the blob store before "
                                          "it was indexed; nothing was changed",
                                          code="remote-missing", hint="push again")
                    commits, objects = self._insert_pack(cur, repo, pack)
                step("indexed")
                for u in updates:
                    if current.get(u.name) != u.new and not self._move(cur, repo, u):
                        raise _Refused(_lost_race(updates, u.name))
                step("moved")
        except _Refused as refusal:  # rolled back: nothing of this push is indexed
            return Installed(refusal.results, 0, 0)
        step("committed")
        return Installed([RefResult(u.name, u.old, u.new, True) for u in updates],
                         commits, objects)

    def replace_pack(self, repo: Repo, old: str, new: NewPack, *, stored: Stored) -> None:
        """Swap one pack's rows for another's (a pack rewritten by a purge), atomically;
        RemoteError (nothing changed) when the new pack's bytes left the blob store."""
        with self._write() as cur:
            if not self._still_stored(cur, new.pack_id, stored):
                raise RemoteError(f"the rewritten pack {new.pack_id} left the blob store "
                                  "before it was indexed; nothing was changed",
                                  code="remote-missing", hint="run the purge again")
            for table in ("objects", "commits", "packs"):
                cur.execute(self.db.sql(f"DELETE FROM {table} WHERE repo_id = ? AND "
                                        "pack_id = ?"), (repo.id, old))
            self._insert_pack(cur, repo, new)

    def drop_contents(self, repo: Repo) -> list[str]:
        """Forget every ref and row of `repo` (a purged takedown); returns its packs."""
        packs = sorted(self.pack_rows(repo, replaced=True))
        with self._write() as cur:
            for table in ("refs", "objects", "commits", "packs"):
                cur.execute(self.db.sql(f"DELETE FROM {table} WHERE repo_id = ?"), (repo.id,))
        return packs

    # -- repacking -------------------------------------------------------------------------

    def take_lease(self, repo: Repo, holder: str, now: float, seconds: int) -> str | None:
        """Hold `repo`'s repack lease until `now + seconds`; None when taken, else who holds
        it. One row per repository: two hubs inserting it at once, one wins."""
        with self._write() as cur:
            cur.execute(self.db.sql("DELETE FROM repack_leases WHERE repo_id = ? AND "
                                    "(expires <= ? OR holder = ?)"), (repo.id, int(now), holder))
            cur.execute(self.db.sql("INSERT INTO repack_leases (repo_id, holder, expires) "
                                    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
                        (repo.id, holder, int(now) + seconds))
            if cur.rowcount == 1:
                return None
            return self._holder(cur, repo)

    def renew_lease(self, repo: Repo, holder: str, now: float, seconds: int) -> str | None:
        """Extend `holder`'s lease on `repo` to `now + seconds`, by compare-and-swap on the
        holder; None when renewed, else who holds it now (it lapsed and another repack took
        it: this one must stop)."""
        with self._write() as cur:
            if self._renew(cur, repo, holder, now, seconds):
                return None
            return self._holder(cur, repo)

    def _holder(self, cur: Cursor, repo: Repo) -> str:
        cur.execute(self.db.sql("SELECT holder FROM repack_leases WHERE repo_id = ?"),
                    (repo.id,))
        row = cur.fetchone()
        return "another repack" if row is None else str(row[0])

    def _renew(self, cur: Cursor, repo: Repo, holder: str, now: float, seconds: int) -> bool:
        cur.execute(self.db.sql("UPDATE repack_leases SET expires = ? WHERE repo_id = ? AND "
                                "holder = ?"), (int(now) + seconds, repo.id, holder))
        return bool(cur.rowcount == 1)

    def release_lease(self, repo: Repo, holder: str) -> None:
        with self._write() as cur:
            cur.execute(self.db.sql("DELETE FROM repack_leases WHERE repo_id = ? AND "
                                    "holder = ?"), (repo.id, holder))

    def swap_packs(self, repo: Repo, replaced: Sequence[str], new: NewPack, now: float,
                   hook: Hook | None = None, *, stored: Stored, holder: str,
                   lease_seconds: int) -> str | None:
        """In one transaction: index `new` and point every row of the `replaced` packs at it,
        marking them replaced at `now`, and renew `holder`'s lease. None when swapped; else
        why nothing changed (PACKS_CHANGED unless every one of them is still live,
        PACK_VANISHED). ConflictError (`repack-busy`, nothing changed) when the lease is
        another's now; a row the new pack lacks rolls it all back (CorruptObjectError)."""
        step = hook or (lambda name: None)
        with self._write() as cur:
            # The refs rows a push locks first: a push's install and this swap take turns.
            cur.execute(self.db.sql("SELECT name FROM refs WHERE repo_id = ?"
                                    + self.db.lock_rows), (repo.id,))
            cur.fetchall()
            # The lease row, compared and renewed in the swap itself: a repack whose lease
            # lapsed and was taken never swaps after the new holder read the packs.
            if not self._renew(cur, repo, holder, now, lease_seconds):
                raise lease_lost(repo, self._holder(cur, repo))
            live = self._live_among(cur, repo, replaced)
            if live != set(replaced):
                return PACKS_CHANGED
            if not self._still_stored(cur, new.pack_id, stored):
                return PACK_VANISHED
            moved = {str(r[0]) for r in self._rows_of(cur, "objects", repo, replaced)}
            graph = {str(r[0]) for r in self._rows_of(cur, "commits", repo, replaced)}
            carried = {e.oid for e in new.entries}
            if not moved <= carried or not graph <= carried:
                raise CorruptObjectError(f"the repacked pack {new.pack_id} lacks "
                                         f"{len((moved | graph) - carried)} of the items it "
                                         "replaces; nothing was changed")
            for start in range(0, len(replaced), BATCH):
                chunk = list(replaced[start:start + BATCH])
                marks = ", ".join("?" * len(chunk))
                for table in ("objects", "commits"):
                    cur.execute(self.db.sql(f"DELETE FROM {table} WHERE repo_id = ? AND "
                                            f"pack_id IN ({marks})"), (repo.id, *chunk))
                cur.execute(self.db.sql(f"UPDATE packs SET replaced_at = ?, replaced_by = ? "
                                        f"WHERE repo_id = ? AND pack_id IN ({marks})"),
                            (int(now), new.pack_id, repo.id, *chunk))
            # Only the rows that pointed at a replaced pack move: rows elsewhere stay, and an
            # item no row named (a purged object a bundle still carries) gets none.
            kept = NewPack(new.pack_id, new.size, new.requires,
                           [e for e in new.entries if e.oid in moved or e.oid in graph],
                           new.parents)
            cur.execute(self.db.sql("UPDATE packs SET replaced_at = NULL, replaced_by = NULL "
                                    "WHERE repo_id = ? AND pack_id = ?"), (repo.id, new.pack_id))
            self._insert_pack(cur, repo, kept, objects=moved, graph=graph)
            step("swapping")
        return None

    # -- the bytes behind the rows ----------------------------------------------------------

    def named_packs(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` some repository's row names (live, or replaced in its grace)."""
        with self._read() as cur:
            return {str(r[0]) for r in _select_batched(
                cur, self.db, "SELECT DISTINCT pack_id FROM packs WHERE pack_id IN ({marks})",
                (), ids)}

    def delete_unnamed(self, pack_id: str, delete: Callable[[], bool], *,
                       forget: Repo | None = None) -> bool:
        """Call `delete` (which deletes the pack's bytes; True when it did) unless a row names
        the pack; with `forget`, that repository's replaced row of it goes first, in the same
        transaction. True when the bytes went.

        Every deletion of a pack's bytes goes through here, holding the pack's key lock, and
        every transaction that names a pack checks under the same lock that its bytes are
        still stored (`_still_stored`): whichever comes second sees what the first did, so
        no row ever names deleted bytes, however a sweep, a drop, a push, a repack and a
        purge interleave.
        """
        with self._write() as cur:
            self.db.lock_key(cur, pack_id)
            if forget is not None:
                cur.execute(self.db.sql("DELETE FROM packs WHERE repo_id = ? AND pack_id = ? "
                                        "AND replaced_at IS NOT NULL"), (forget.id, pack_id))
            cur.execute(self.db.sql("SELECT 1 FROM packs WHERE pack_id = ?"), (pack_id,))
            if cur.fetchone() is not None:
                return False
            return delete()

    def _still_stored(self, cur: Cursor, pack_id: str, stored: Stored) -> bool:
        """Inside a transaction about to name `pack_id`: whether its bytes are stored, asked
        holding its key lock, so no `delete_unnamed` can take them before this commits."""
        self.db.lock_key(cur, pack_id)
        return stored(pack_id)

    def forget_pack(self, repo: Repo, pack_id: str) -> None:
        """Drop a replaced pack's row (its grace period over); a live pack keeps its row."""
        with self._write() as cur:
            cur.execute(self.db.sql("DELETE FROM packs WHERE repo_id = ? AND pack_id = ? AND "
                                    "replaced_at IS NOT NULL"), (repo.id, pack_id))

    def _live_among(self, cur: Cursor, repo: Repo, packs: Sequence[str]) -> set[str]:
        return {str(r[0]) for r in _select_batched(
            cur, self.db, "SELECT pack_id FROM packs WHERE repo_id = ? AND replaced_at IS NULL "
            "AND pack_id IN ({marks})" + self.db.lock_rows, (repo.id,), packs)}

    def _rows_of(self, cur: Cursor, table: str, repo: Repo,
                 packs: Sequence[str]) -> Iterator[Any]:
        yield from _select_batched(cur, self.db, f"SELECT oid FROM {table} WHERE repo_id = ? "
                                   "AND pack_id IN ({marks})", (repo.id,), packs)

    def _insert_pack(self, cur: Cursor, repo: Repo, pack: NewPack, *,
                     objects: set[str] | None = None,
                     graph: set[str] | None = None) -> tuple[int, int]:
        cur.execute(self.db.sql("SELECT 1 FROM packs WHERE repo_id = ? AND pack_id = ?"),
                    (repo.id, pack.pack_id))
        if cur.fetchone() is None:
            cur.execute(self.db.sql("INSERT INTO packs (repo_id, pack_id, size, requires, "
                                    "created) VALUES (?, ?, ?, ?, ?)"),
                        (repo.id, pack.pack_id, pack.size, json.dumps(sorted(pack.requires)),
                         int(time.time())))
        rows = [(repo.id, e.oid, pack.pack_id, e.offset, e.size, e.kind) for e in pack.entries
                if objects is None or e.oid in objects]
        self.db.bulk_insert(cur, "objects", ("repo_id", "oid", "pack_id", "pos", "size", "kind"),
                            rows)
        # A tag object is a graph node whose one parent is its target (remotes/bucket.py's
        # `_graph`): fetching a tag then chooses its pack and its history.
        kept = [e.oid for e in pack.entries if e.kind in (COMMIT, TAG)
                and (graph is None or e.oid in graph)]
        generation = self._generations(cur, repo, pack, kept)
        nodes = [(repo.id, oid, pack.pack_id, " ".join(pack.parents.get(oid, ())),
                  generation.get(oid)) for oid in kept]
        self.db.bulk_insert(cur, "commits",
                            ("repo_id", "oid", "pack_id", "parents", "generation"), nodes)
        commits = sum(e.kind == COMMIT for e in pack.entries)
        return commits, len(rows) - commits

    def _generations(self, cur: Cursor, repo: Repo, pack: NewPack,
                     nodes: Sequence[str]) -> dict[str, int | None]:
        """The generation of each of `nodes` (commits and tags of `pack`), parents first:
        a parent is in the pack or in the table already (read in batches, in this
        transaction); one of unknown generation leaves its descendants unknown."""
        graph = {oid: tuple(pack.parents.get(oid, ())) for oid in nodes}
        graph.update({c: tuple(p) for c, p in pack.parents.items()})
        outside = {p for ps in graph.values() for p in ps if p not in graph}
        rows = _select_batched(cur, self.db, "SELECT oid, generation FROM commits WHERE "
                               "repo_id = ? AND oid IN ({marks})", (repo.id,), outside)
        known = {str(o): None if g is None else int(g) for o, g in rows}
        return generations(graph, known.get)

    def _move(self, cur: Cursor, repo: Repo, u: RefUpdate) -> bool:
        if u.new is None:
            cur.execute(self.db.sql("DELETE FROM refs WHERE repo_id = ? AND name = ? AND "
                                    "head = ?"), (repo.id, u.name, u.old))
        elif u.old is None:
            cur.execute(self.db.sql("INSERT INTO refs (repo_id, name, head) VALUES (?, ?, ?) "
                                    "ON CONFLICT DO NOTHING"), (repo.id, u.name, u.new))
        else:
            cur.execute(self.db.sql("UPDATE refs SET head = ? WHERE repo_id = ? AND name = ? "
                                    "AND head = ?"), (u.new, repo.id, u.name, u.old))
        return bool(cur.rowcount == 1)


@dataclass(frozen=True)
class FetchPlan:
    chosen: list[str]                                   # the packs, sorted
    packs: dict[str, tuple[int, tuple[str, ...]]]       # each → (size, prerequisites)
    provides: dict[str, list[str]]                      # each → its commits, sorted
    negotiated: Negotiated


class RepoCommits:
    """One repository's commit rows, read inside one snapshot: the negotiation's source."""

    def __init__(self, index: SqlIndex, cur: Cursor, repo: Repo) -> None:
        self._db = index.db
        self._sql = index.db.sql
        self._cur = cur
        self._repo = repo
        self._packs: dict[str, tuple[int, tuple[str, ...]]] = {}

    _COLUMNS = "oid, pack_id, parents, generation"

    def _batched(self, query: str, ids: Iterable[str]) -> Iterator[Any]:
        return _select_batched(self._cur, self._db, query, (self._repo.id,), ids)

    @staticmethod
    def _nodes(rows: Iterable[Any]) -> dict[str, Node]:
        # tuple.__new__: a third faster than Node(...), which counts in a clone's 20,000.
        make = tuple.__new__
        return {str(o): make(Node, (str(p), tuple(str(parents).split()), g))
                for o, p, parents, g in rows}

    def nodes(self, oids: Iterable[str]) -> dict[str, Node]:
        return self._nodes(self._batched(f"SELECT {self._COLUMNS} FROM commits WHERE "
                                         "repo_id = ? AND oid IN ({marks})", oids))

    def band(self, low: int, high: int) -> dict[str, Node]:
        self._cur.execute(self._sql(f"SELECT {self._COLUMNS} FROM commits WHERE repo_id = ? "
                                    "AND generation >= ? AND generation <= ?"),
                          (self._repo.id, low, high))
        return self._nodes(self._cur.fetchall())

    def graph(self) -> dict[str, Node]:
        self._cur.execute(self._sql(f"SELECT {self._COLUMNS} FROM commits WHERE repo_id = ?"),
                          (self._repo.id,))
        return self._nodes(self._cur.fetchall())

    def packs(self, ids: Iterable[str]) -> dict[str, tuple[int, tuple[str, ...]]]:
        """Each of `ids` (live, or replaced in its grace) → (its size, its prerequisites)."""
        wanted = set(ids)
        rows = self._batched("SELECT pack_id, size, requires FROM packs WHERE repo_id = ? AND "
                             "pack_id IN ({marks})", wanted - self._packs.keys())
        self._packs.update({str(p): (int(s), tuple(json.loads(r))) for p, s, r in rows})
        return {p: self._packs[p] for p in wanted if p in self._packs}

    def requires(self, ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        return {p: r for p, (_, r) in self.packs(ids).items()}

    def provided(self, ids: Iterable[str]) -> dict[str, list[str]]:
        """Each of `ids` → the commits (and tags) it provides, sorted."""
        out: dict[str, list[str]] = {p: [] for p in ids}
        for pack, oid in self._batched("SELECT pack_id, oid FROM commits WHERE repo_id = ? "
                                       "AND pack_id IN ({marks})", ids):
            out.setdefault(str(pack), []).append(str(oid))
        return {p: sorted(c) for p, c in out.items()}


class _Refused(Exception):
    """Leaves the push transaction (rolling it back) with the per-ref refusals."""

    def __init__(self, results: list[RefResult]) -> None:
        super().__init__("refused")
        self.results = results


def _lost_race(updates: Sequence[RefUpdate], ref: str) -> list[RefResult]:
    """A CAS update touched no row: another push moved `ref` inside our transaction."""
    return [RefResult(u.name, u.old, u.new, False, "stale" if u.name == ref else
                      "not applied: another ref in this push was refused") for u in updates]


def lease_lost(repo: Repo, holder: str) -> ConflictError:
    """A repack found its lease on `repo` taken by `holder` (it lapsed unrenewed)."""
    return ConflictError(f"the repack of {repo.full_name} lost its lease to {holder}; it "
                         "stopped at a step boundary, leaving nothing half done",
                         code="repack-busy",
                         hint="another repack holds the repository now; run this one again "
                         "once that one has ended")


class RepoObjects:
    """One repository's rows as an `ObjectIndex`: what the core's verifier asks, batched."""

    def __init__(self, index: SqlIndex, repo: Repo) -> None:
        self._index = index
        self._repo = repo

    def missing(self, ids: Iterable[str]) -> set[str]:
        wanted = set(ids)
        return wanted - {str(r[0]) for r in self._index._select_in("oid", self._repo, wanted)}

    def sizes(self, ids: Iterable[str]) -> dict[str, int]:
        return {str(o): int(s) for o, s in self._index._select_in("oid, size", self._repo, ids)}

    def locate(self, oid: str) -> Location | None:
        rows = list(self._index._select_in("oid, pack_id, pos, size, kind", self._repo, [oid]))
        if not rows:
            return None
        o, pack, pos, size, kind = rows[0]
        return Location(str(o), str(pack), int(pos), int(size), str(kind))

    def kind(self, oid: str) -> str | None:
        found = self.locate(oid)
        return None if found is None else found.kind
