"""The hub's index schema, versioned: the hub creates and migrates it itself, on every backend.

The SQL is portable between SQLite and PostgreSQL on purpose (text ids, BIGINT
times, 0/1 flags): one schema, one set of queries, a small adapter per database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .negotiate import generations

# A step of a migration that is not one SQL statement: called with (cursor, database)
# inside the migration's transaction.
Step = Callable[[Any, Any], None]


def fill_generations(cur: Any, db: Any) -> None:
    """Give every commit row its generation (version 4): all rows read in one query, the
    generations computed parents first in memory, written back in one bulk insert and
    one UPDATE. A row whose ancestry has a gap keeps NULL (fetch walks the whole graph)."""
    cur.execute("SELECT repo_id, oid, parents FROM commits WHERE generation IS NULL")
    by_repo: dict[str, dict[str, tuple[str, ...]]] = {}
    for repo_id, oid, parents in cur.fetchall():
        by_repo.setdefault(str(repo_id), {})[str(oid)] = tuple(str(parents).split())
    rows = []
    for repo_id, graph in by_repo.items():
        for oid, generation in generations(graph, lambda parent: None).items():
            if generation is not None:
                rows.append((repo_id, oid, generation))
    cur.execute("CREATE TABLE generation_fill (repo_id TEXT NOT NULL, oid TEXT NOT NULL,"
                " generation BIGINT NOT NULL, PRIMARY KEY (repo_id, oid))")
    db.bulk_insert(cur, "generation_fill", ("repo_id", "oid", "generation"), rows)
    cur.execute("UPDATE commits SET generation = (SELECT f.generation FROM generation_fill f"
                " WHERE f.repo_id = commits.repo_id AND f.oid = commits.oid)"
                " WHERE generation IS NULL")
    cur.execute("DROP TABLE generation_fill")


# Each entry moves the schema from version i to i + 1; never edit a released one.
MIGRATIONS: tuple[tuple[str | Step, ...], ...] = (
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
    (
        # The security layer (docs/hub-security.md). Per-repository rules; NULL: the hub's.
        "ALTER TABLE repos ADD COLUMN max_bundle_bytes BIGINT",
        "ALTER TABLE repos ADD COLUMN max_object_bytes BIGINT",
        "ALTER TABLE repos ADD COLUMN max_repo_bytes BIGINT",
        "ALTER TABLE repos ADD COLUMN daily_bytes BIGINT",
        "ALTER TABLE repos ADD COLUMN signatures TEXT NOT NULL DEFAULT 'signed'",
        # Hub-wide settings (limits, quotas, rates): one row per name.
        "CREATE TABLE hub_settings (name TEXT PRIMARY KEY, value BIGINT)",
        "CREATE TABLE blocked (oid TEXT PRIMARY KEY, reason TEXT NOT NULL, actor TEXT NOT NULL,"
        " created BIGINT NOT NULL)",
        "CREATE TABLE quarantine (id TEXT PRIMARY KEY, bundle_id TEXT NOT NULL,"
        " repo_id TEXT NOT NULL, user_name TEXT, created BIGINT NOT NULL, code TEXT NOT NULL,"
        " reason TEXT NOT NULL, blob_key TEXT, size BIGINT NOT NULL, purged BIGINT)",
        "CREATE TABLE user_keys (user_name TEXT NOT NULL REFERENCES users(name),"
        " fingerprint TEXT NOT NULL, public_key TEXT NOT NULL, added BIGINT NOT NULL,"
        " PRIMARY KEY (user_name, fingerprint))",
        "CREATE TABLE takedowns (notice TEXT PRIMARY KEY, repo_id TEXT NOT NULL,"
        " claimant TEXT NOT NULL, noticed TEXT NOT NULL, body TEXT NOT NULL,"
        " objects TEXT NOT NULL, state TEXT NOT NULL, created BIGINT NOT NULL,"
        " packs TEXT NOT NULL DEFAULT '[]')",
        # Bytes received per UTC day, per subject ('user:NAME', 'repo:ID').
        "CREATE TABLE usage (day TEXT NOT NULL, subject TEXT NOT NULL, bytes BIGINT NOT NULL,"
        " PRIMARY KEY (day, subject))",
        # Push requests per token per minute window.
        "CREATE TABLE rates (token_id TEXT NOT NULL, win BIGINT NOT NULL,"
        " hits BIGINT NOT NULL, PRIMARY KEY (token_id, win))",
        # Append-only: nothing ever updates or deletes a row.
        "CREATE TABLE audit (id TEXT PRIMARY KEY, at_ns BIGINT NOT NULL, actor TEXT NOT NULL,"
        " action TEXT NOT NULL, repo TEXT, target TEXT, detail TEXT NOT NULL)",
        "CREATE INDEX audit_by_time ON audit (at_ns)",
    ),
    (
        # Server-side repacking (docs/hub.md, "Repacking"). A pack folded into another keeps
        # its row, and its bytes, until the grace period after `replaced_at` has passed:
        # a fetch that chose it a moment ago still downloads it. `replaced_by` is the pack
        # that carries its items now: hidden when that one is.
        "ALTER TABLE packs ADD COLUMN replaced_at BIGINT",
        "ALTER TABLE packs ADD COLUMN replaced_by TEXT",
        # At most one repack per repository at a time, whichever replica runs it.
        "CREATE TABLE repack_leases (repo_id TEXT PRIMARY KEY, holder TEXT NOT NULL,"
        " expires BIGINT NOT NULL)",
    ),
    (
        # Fetch negotiation by generation (remotes/hub/negotiate.py): 1 for a root commit,
        # else 1 + its parents' highest; NULL where unknown (fetch then reads the graph).
        "ALTER TABLE commits ADD COLUMN generation BIGINT",
        "CREATE INDEX commits_by_generation ON commits (repo_id, generation)",
        # A fetch lists what its chosen packs provide; a repack deletes a pack's rows.
        "CREATE INDEX commits_by_pack ON commits (repo_id, pack_id)",
        fill_generations,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
