"""The hub's index schema, versioned: the hub creates and migrates it itself, on every backend.

The SQL is portable between SQLite and PostgreSQL on purpose (text ids, BIGINT
times, 0/1 flags): one schema, one set of queries, a small adapter per database.
"""

from __future__ import annotations

# Each entry moves the schema from version i to i + 1; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE hub_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE users (name TEXT PRIMARY KEY, created BIGINT NOT NULL)",
        "CREATE TABLE repos (id TEXT PRIMARY KEY, owner TEXT NOT NULL REFERENCES users(name),"
        " name TEXT NOT NULL, public INTEGER NOT NULL, created BIGINT NOT NULL,"
        " UNIQUE (owner, name))",
        # Tokens are kept only as sha256 hashes; `repo_id` scopes each to one repository.
        "CREATE TABLE tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
        " user_name TEXT NOT NULL REFERENCES users(name), repo_id TEXT NOT NULL"
        " REFERENCES repos(id), scope TEXT NOT NULL, created BIGINT NOT NULL,"
        " expires BIGINT, revoked BIGINT, note TEXT NOT NULL)",
        "CREATE TABLE refs (repo_id TEXT NOT NULL REFERENCES repos(id), name TEXT NOT NULL,"
        " head TEXT NOT NULL, PRIMARY KEY (repo_id, name))",
        # A pack is a verified bundle, kept whole in the blob store under its id.
        "CREATE TABLE packs (repo_id TEXT NOT NULL REFERENCES repos(id), pack_id TEXT NOT NULL,"
        " size BIGINT NOT NULL, requires TEXT NOT NULL, created BIGINT NOT NULL,"
        " PRIMARY KEY (repo_id, pack_id))",
        "CREATE INDEX packs_by_id ON packs (pack_id)",
        # Every object, snapshot and commit a repository holds, located in its pack.
        "CREATE TABLE objects (repo_id TEXT NOT NULL, oid TEXT NOT NULL, pack_id TEXT NOT NULL,"
        " pos BIGINT NOT NULL, size BIGINT NOT NULL, kind TEXT NOT NULL,"
        " PRIMARY KEY (repo_id, oid))",
        # The commit graph: each commit's parents (space-separated) and the pack providing it.
        "CREATE TABLE commits (repo_id TEXT NOT NULL, oid TEXT NOT NULL, pack_id TEXT NOT NULL,"
        " parents TEXT NOT NULL, PRIMARY KEY (repo_id, oid))",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
