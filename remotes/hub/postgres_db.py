"""The production index database: PostgreSQL through psycopg 3, behind the `Database` adapter.

The portable queries of `sql_index.py` run as they are (placeholders become
`%s`); what differs is here: row locks (`FOR UPDATE`), bulk inserts by COPY
into a staging table then one `INSERT … ON CONFLICT DO NOTHING`, an advisory
lock around schema migrations, a small pool of connections, and psycopg's
errors translated into the Muse error tree. psycopg is imported only here.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from muse.errors import ConfigError, RemoteError, TransientRemoteError
from muse.remote_registry import redact_url

POOL_SIZE = 8            # idle connections kept per process (one per busy request thread)
CONNECT_TIMEOUT_S = 10
# Every Muse hub takes this advisory lock to migrate, so replicas starting together
# apply each migration once ("muse" in ASCII).
MIGRATION_LOCK = 0x6D757365
# The advisory locks of `lock_key` are (KEY_LOCKS, a hash of the key): two 32-bit numbers,
# a space apart from the migration lock's one 64-bit number ("keys" in ASCII).
KEY_LOCKS = 0x6B657973
RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock detected


class PostgresDatabase:
    """PostgreSQL for the hub's index; safe for many threads and many hub processes."""

    lock_rows = " FOR UPDATE"  # the push transaction locks the refs rows it compares

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        try:
            import psycopg
        except ImportError:
            raise ConfigError("the hub on PostgreSQL needs psycopg",
                              hint="install it with `pip install 'muse-vcs[postgres]'`") from None
        self._psycopg = psycopg
        self._dsn = url
        self.url = redact_url(url)
        self._pool_size = pool_size
        self._idle: list[Any] = []
        self._guard = threading.Lock()
        with self.cursor() as cur:  # fail now, with a clear message, not at the first request
            cur.execute("SELECT 1")

    # -- connections ----------------------------------------------------------------------

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Any]:
        conn = self._checkout()
        try:
            with self._edge(), conn.cursor() as cur:
                yield cur
        finally:
            self._checkin(conn)

    def _checkout(self) -> Any:
        with self._guard:
            if self._idle:
                return self._idle.pop()
        with self._edge():
            return self._psycopg.connect(self._dsn, autocommit=True,
                                         connect_timeout=CONNECT_TIMEOUT_S,
                                         application_name="muse-hub")

    def _checkin(self, conn: Any) -> None:
        # Only a connection left outside any transaction (committed or rolled back) is reused.
        idle = self._psycopg.pq.TransactionStatus.IDLE
        if not conn.closed and conn.info.transaction_status == idle:
            with self._guard:
                if len(self._idle) < self._pool_size:
                    self._idle.append(conn)
                    return
        with contextlib.suppress(Exception):
            conn.close()

    @contextlib.contextmanager
    def _edge(self) -> Iterator[None]:
        """psycopg's errors as Muse's: lost or busy servers are transient (a retry helps)."""
        psycopg = self._psycopg
        try:
            yield
        except psycopg.OperationalError as exc:
            # A refused login comes as a connection failure whose text says so (no sqlstate).
            if isinstance(exc, psycopg.errors.InvalidPassword) or \
                    "authentication failed" in str(exc):
                raise ConfigError(f"the hub database {self.url} refused the credentials: "
                                  f"{_first_line(exc)}",
                                  hint="check the user and password in --database") from None
            if getattr(exc, "sqlstate", None) in RETRYABLE:
                raise TransientRemoteError(f"the hub database {self.url} aborted a "
                                           f"transaction: {_first_line(exc)}",
                                           hint="run it again") from None
            raise TransientRemoteError(f"the hub database {self.url} is unreachable: "
                                       f"{_first_line(exc)}",
                                       hint="check that PostgreSQL is running and the "
                                       "--database URL is right") from None
        except psycopg.errors.UndefinedTable as exc:
            raise RemoteError(f"the hub database {self.url} lacks a table: "
                              f"{_first_line(exc)}", code="remote-corrupt",
                              hint="run any `muse hub` command once to create the "
                              "schema") from None

    # -- the adapter ----------------------------------------------------------------------

    def sql(self, query: str) -> str:
        return query.replace("%", "%%").replace("?", "%s")

    def begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN")

    def begin_read(self, cur: Any) -> None:
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def lock_schema(self, cur: Any) -> None:
        """Inside a write transaction: wait until no other hub is migrating (released at
        commit or rollback)."""
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    def lock_key(self, cur: Any, key: str) -> None:
        """Inside a write transaction: wait until no other transaction holds `key`'s lock
        (released at commit or rollback). Keys whose hashes collide only wait for each other."""
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (KEY_LOCKS, _int32_of(key)))

    def bulk_insert(self, cur: Any, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        names = ", ".join(columns)
        stage = f"muse_stage_{table}"
        # COPY cannot skip existing keys, so rows go to a staging table first. Inserting
        # them in key order means two pushes of overlapping objects wait for each other
        # instead of deadlocking.
        cur.execute(f"CREATE TEMP TABLE {stage} (LIKE {table}) ON COMMIT DROP")
        with cur.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "
                    f"ORDER BY {names} ON CONFLICT DO NOTHING")

    def table_names(self, cur: Any) -> set[str]:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {str(r[0]) for r in cur.fetchall()}

    def close(self) -> None:
        with self._guard:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


def _int32_of(key: str) -> int:
    """A signed 32-bit number of `key` (its sha256's first four bytes): an advisory lock key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
