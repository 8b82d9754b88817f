"""The security layer's rows: settings, blocked ids, quarantine, keys, takedowns, usage, audit.

Same database, same adapter as `SqlIndex` (it borrows its transactions); kept
apart so the push index stays readable. Audit rows are only ever inserted.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .sql_index import Repo, SqlIndex

REPO_RULES = ("max_bundle_bytes", "max_object_bytes", "max_repo_bytes", "daily_bytes")
HUB_SETTINGS = ("max_bundle_bytes", "max_object_bytes", "max_repo_bytes", "daily_repo_bytes",
                "daily_user_bytes", "pushes_per_minute")


@dataclass(frozen=True)
class RepoRules:
    max_bundle_bytes: int | None
    max_object_bytes: int | None
    max_repo_bytes: int | None
    daily_bytes: int | None
    signatures: str


@dataclass(frozen=True)
class Quarantined:
    id: str
    bundle_id: str
    repo_id: str
    user: str | None
    created: int
    code: str
    reason: str
    blob_key: str | None
    size: int
    purged: int | None


@dataclass(frozen=True)
class Takedown:
    notice: str
    repo_id: str
    claimant: str
    noticed: str
    body: str
    objects: tuple[str, ...]  # empty: the whole repository
    state: str                # hidden | restored | purged
    created: int
    packs: tuple[str, ...] = ()  # packs rewritten without the objects (after a purge)


@dataclass(frozen=True)
class AuditEntry:
    at_ns: int
    actor: str
    action: str
    repo: str | None
    target: str | None
    detail: dict[str, Any]


class SecurityIndex:
    """Queries of the security layer, over the hub's one database."""

    def __init__(self, index: SqlIndex) -> None:
        self.index = index
        self.db = index.db

    # -- settings -------------------------------------------------------------------------

    def hub_setting(self, name: str) -> int | None:
        row = self.index._one("SELECT value FROM hub_settings WHERE name = ?", name)
        return None if row is None or row[0] is None else int(row[0])

    def hub_settings(self) -> dict[str, int | None]:
        found = {str(n): v for n, v in self.index._all("SELECT name, value FROM hub_settings")}
        return {name: found.get(name) for name in HUB_SETTINGS}

    def set_hub_setting(self, name: str, value: int | None) -> None:
        assert name in HUB_SETTINGS
        with self.index._write() as cur:
            cur.execute(self.db.sql("DELETE FROM hub_settings WHERE name = ?"), (name,))
            cur.execute(self.db.sql("INSERT INTO hub_settings (name, value) VALUES (?, ?)"),
                        (name, value))

    def repo_rules(self, repo: Repo) -> RepoRules:
        row = self.index._one(f"SELECT {', '.join(REPO_RULES)}, signatures FROM repos "
                              "WHERE id = ?", repo.id)
        sizes = [None if v is None else int(v) for v in row[:4]]
        return RepoRules(sizes[0], sizes[1], sizes[2], sizes[3], str(row[4]))

    def set_repo_rule(self, repo: Repo, name: str, value: int | str | None) -> None:
        assert name in (*REPO_RULES, "signatures")
        with self.index._write() as cur:
            cur.execute(self.db.sql(f"UPDATE repos SET {name} = ? WHERE id = ?"),
                        (value, repo.id))

    def repo_bytes(self, repo: Repo) -> int:
        row = self.index._one("SELECT COALESCE(SUM(size), 0) FROM packs WHERE repo_id = ? "
                              "AND replaced_at IS NULL",
                              repo.id)
        return int(row[0])

    # -- blocked ids ------------------------------------------------------------------------

    def block(self, oid: str, reason: str, actor: str) -> bool:
        with self.index._write() as cur:
            cur.execute(self.db.sql("INSERT INTO blocked (oid, reason, actor, created) "
                                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                        (oid, reason, actor, int(time.time())))
            return bool(cur.rowcount == 1)

    def unblock(self, oid: str) -> bool:
        with self.index._write() as cur:
            cur.execute(self.db.sql("DELETE FROM blocked WHERE oid = ?"), (oid,))
            return bool(cur.rowcount == 1)

    def blocked(self) -> dict[str, str]:
        return {str(o): str(r) for o, r in self.index._all("SELECT oid, reason FROM blocked")}

    def packs_holding(self, repo: Repo, oids: Iterable[str]) -> dict[str, str]:
        """Each pack of `repo` holding one of `oids` → one such id."""
        found: dict[str, str] = {}
        for oid, pack in self.index._select_in("oid, pack_id", repo, oids):
            found.setdefault(str(pack), str(oid))
        return found

    def blocked_packs(self, repo: Repo) -> dict[str, str]:
        rows = self.index._all("SELECT o.pack_id, o.oid FROM objects o JOIN blocked b "
                               "ON b.oid = o.oid WHERE o.repo_id = ?", repo.id)
        return {str(p): str(o) for p, o in rows}

    # -- quarantine -------------------------------------------------------------------------

    def quarantine(self, row: Quarantined) -> None:
        with self.index._write() as cur:
            cur.execute(self.db.sql(
                "INSERT INTO quarantine (id, bundle_id, repo_id, user_name, created, code, "
                "reason, blob_key, size, purged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                (row.id, row.bundle_id, row.repo_id, row.user, row.created, row.code,
                 row.reason, row.blob_key, row.size, row.purged))

    _Q = "id, bundle_id, repo_id, user_name, created, code, reason, blob_key, size, purged"

    def quarantined(self) -> list[Quarantined]:
        rows = self.index._all(f"SELECT {self._Q} FROM quarantine ORDER BY created, id")
        return [Quarantined(*r) for r in rows]

    def quarantined_one(self, qid: str) -> Quarantined | None:
        row = self.index._one(f"SELECT {self._Q} FROM quarantine WHERE id = ?", qid)
        return None if row is None else Quarantined(*row)

    def mark_purged(self, qid: str) -> None:
        with self.index._write() as cur:
            cur.execute(self.db.sql("UPDATE quarantine SET purged = ? WHERE id = ?"),
                        (int(time.time()), qid))

    # -- users' signing keys ------------------------------------------------------------------

    def add_key(self, user: str, fingerprint: str, public_key: bytes) -> bool:
        with self.index._write() as cur:
            cur.execute(self.db.sql("INSERT INTO user_keys (user_name, fingerprint, public_key,"
                                    " added) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                        (user, fingerprint, public_key.hex(), int(time.time())))
            return bool(cur.rowcount == 1)

    def remove_key(self, user: str, fingerprint: str) -> bool:
        with self.index._write() as cur:
            cur.execute(self.db.sql("DELETE FROM user_keys WHERE user_name = ? AND "
                                    "fingerprint = ?"), (user, fingerprint))
            return bool(cur.rowcount == 1)

    def keys_of(self, user: str) -> dict[str, bytes]:
        rows = self.index._all("SELECT fingerprint, public_key FROM user_keys WHERE "
                               "user_name = ? ORDER BY fingerprint", user)
        return {str(f): bytes.fromhex(k) for f, k in rows}

    # -- takedowns --------------------------------------------------------------------------

    def add_takedown(self, t: Takedown) -> None:
        with self.index._write() as cur:
            cur.execute(self.db.sql(
                "INSERT INTO takedowns (notice, repo_id, claimant, noticed, body, objects, "
                "state, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                (t.notice, t.repo_id, t.claimant, t.noticed, t.body,
                 json.dumps(list(t.objects)), t.state, t.created))

    _T = "notice, repo_id, claimant, noticed, body, objects, state, created, packs"

    def takedown(self, notice: str) -> Takedown | None:
        row = self.index._one(f"SELECT {self._T} FROM takedowns WHERE notice = ?", notice)
        return None if row is None else _takedown(row)

    def takedowns(self, repo: Repo | None = None) -> list[Takedown]:
        if repo is None:
            rows = self.index._all(f"SELECT {self._T} FROM takedowns ORDER BY created")
        else:
            rows = self.index._all(f"SELECT {self._T} FROM takedowns WHERE repo_id = ? "
                                   "ORDER BY created", repo.id)
        return [_takedown(r) for r in rows]

    def set_takedown_state(self, notice: str, state: str,
                           packs: Iterable[str] | None = None) -> None:
        with self.index._write() as cur:
            cur.execute(self.db.sql("UPDATE takedowns SET state = ? WHERE notice = ?"),
                        (state, notice))
            if packs is not None:
                cur.execute(self.db.sql("UPDATE takedowns SET packs = ? WHERE notice = ?"),
                            (json.dumps(sorted(packs)), notice))

    # -- usage and rates -------------------------------------------------------------------

    def used(self, day: str, subject: str) -> int:
        row = self.index._one("SELECT bytes FROM usage WHERE day = ? AND subject = ?",
                              day, subject)
        return 0 if row is None else int(row[0])

    def add_usage(self, day: str, subjects: Iterable[str], n: int) -> None:
        with self.index._write() as cur:
            for subject in subjects:
                cur.execute(self.db.sql(
                    "INSERT INTO usage (day, subject, bytes) VALUES (?, ?, ?) "
                    "ON CONFLICT (day, subject) DO UPDATE SET bytes = usage.bytes + "
                    "excluded.bytes"), (day, subject, n))

    def hit(self, token_id: str, window: int) -> int:
        """Count one more push request of `token_id` in `window`; returns the count so far."""
        with self.index._write() as cur:
            cur.execute(self.db.sql(
                "INSERT INTO rates (token_id, win, hits) VALUES (?, ?, 1) "
                "ON CONFLICT (token_id, win) DO UPDATE SET hits = rates.hits + 1"),
                (token_id, window))
            cur.execute(self.db.sql("DELETE FROM rates WHERE token_id = ? AND win < ?"),
                        (token_id, window))
            cur.execute(self.db.sql("SELECT hits FROM rates WHERE token_id = ? AND win = ?"),
                        (token_id, window))
            return int(cur.fetchone()[0])

    # -- the audit log ---------------------------------------------------------------------

    def record(self, actor: str, action: str, *, repo: str | None = None,
               target: str | None = None, **detail: Any) -> None:
        with self.index._write() as cur:
            cur.execute(self.db.sql(
                "INSERT INTO audit (id, at_ns, actor, action, repo, target, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)"),
                (secrets.token_hex(8), time.time_ns(), actor, action, repo, target,
                 json.dumps(detail, sort_keys=True, default=str)))

    def audit(self, *, repo: str | None = None, limit: int = 100) -> list[AuditEntry]:
        query = "SELECT at_ns, actor, action, repo, target, detail FROM audit"
        params: tuple[Any, ...] = ()
        if repo is not None:
            query += " WHERE repo = ?"
            params = (repo,)
        rows = self.index._all(query + " ORDER BY at_ns DESC, id DESC LIMIT ?", *params, limit)
        return [AuditEntry(int(a), str(b), str(c), d, e, json.loads(f))
                for a, b, c, d, e, f in reversed(rows)]


def _takedown(row: Any) -> Takedown:
    n, repo_id, claimant, noticed, body, objects, state, created, packs = row
    return Takedown(n, repo_id, claimant, noticed, body, tuple(json.loads(objects)), state,
                    int(created), tuple(json.loads(packs)))
