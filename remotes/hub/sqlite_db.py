"""The embedded index database: SQLite in WAL mode, a fresh connection per operation."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# A writer waits this long for another (process or thread) to finish its transaction.
BUSY_TIMEOUT_S = 30.0


class SqliteDatabase:
    """SQLite behind the `Database` adapter; safe for several threads and processes."""

    lock_rows = ""  # BEGIN IMMEDIATE already holds the database's write lock

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.cursor() as cur:
            cur.execute("PRAGMA journal_mode=WAL")

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Any]:
        # A connection per operation: sqlite3 connections are not shared between the
        # server's threads, and opening one is a few microseconds.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn.cursor()
        finally:
            conn.close()

    def sql(self, query: str) -> str:
        return query

    def begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def begin_read(self, cur: Any) -> None:
        cur.execute("BEGIN")  # deferred: WAL keeps the snapshot of its first read

    def lock_schema(self, cur: Any) -> None:
        pass  # BEGIN IMMEDIATE holds the whole database's write lock already

    def lock_key(self, cur: Any, key: str) -> None:
        pass  # the same: one writer at a time, whatever it writes

    def bulk_insert(self, cur: Any, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        marks = ", ".join("?" * len(columns))
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
                        "ON CONFLICT DO NOTHING", rows)

    def table_names(self, cur: Any) -> set[str]:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(r[0]) for r in cur.fetchall()}

    def close(self) -> None:
        pass
