"""The hub creates and migrates its own schema, and refuses a database from a newer Muse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from muse.errors import UsageError
from remotes.hub.deploy import open_hub
from remotes.hub.schema import MIGRATIONS, SCHEMA_VERSION
from remotes.hub.sql_index import SqlIndex
from remotes.hub.sqlite_db import SqliteDatabase


def test_an_older_database_is_migrated_in_place_keeping_its_rows(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "index.sqlite3")
    with db.cursor() as cur:  # a hub of schema version 1, with one user in it
        for statement in MIGRATIONS[0]:
            cur.execute(statement)
        cur.execute("INSERT INTO hub_meta (key, value) VALUES ('schema_version', '1')")
        cur.execute("INSERT INTO users (name, created) VALUES ('ada', 1)")
    assert SqlIndex(db).migrate() == 1
    hub = open_hub(tmp_path)
    assert hub.index.users() == ["ada"]
    assert hub.guard.rows.hub_settings()["max_bundle_bytes"] is None  # a v2 table answers
    assert SqlIndex(db).migrate() == SCHEMA_VERSION  # nothing left to do


def test_a_database_from_a_newer_muse_is_refused(tmp_path: Path) -> None:
    hub = open_hub(tmp_path)
    with hub.index.db.cursor() as cur:
        cur.execute("UPDATE hub_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(UsageError, match="schema version 99"):
        open_hub(tmp_path)


def seed_version_2(db: Any) -> None:
    """A hub database of schema version 2 holding one repository with one pack."""
    with db.cursor() as cur:
        for statements in MIGRATIONS[:2]:
            for statement in statements:
                cur.execute(statement)
        cur.execute("INSERT INTO hub_meta (key, value) VALUES ('schema_version', '2')")
        cur.execute("INSERT INTO users (name, created) VALUES ('ada', 1)")
        cur.execute("INSERT INTO repos (id, owner, name, public, created) "
                    "VALUES ('r1', 'ada', 'song', 0, 1)")
        cur.execute("INSERT INTO packs (repo_id, pack_id, size, requires, created) "
                    "VALUES ('r1', 'p1', 10, '[]', 1)")


def test_a_version_2_database_gains_replaced_packs_and_leases(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "index.sqlite3")
    seed_version_2(db)
    assert SqlIndex(db).migrate() == 2
    hub = open_hub(tmp_path)
    repo = hub.index.repo("ada", "song")
    assert repo is not None
    assert hub.index.pack_rows(repo) == {"p1": (10, ())}  # live: replaced_at is NULL
    assert hub.index.replaced_packs(repo) == {}
    assert hub.index.take_lease(repo, "me", 100.0, 60) is None
    assert hub.index.take_lease(repo, "you", 120.0, 60) == "me"
    assert SqlIndex(db).migrate() == SCHEMA_VERSION == 4
