"""Access tokens: shown once in plain text, stored only as sha256 hashes, one repository each."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from muse.errors import RemoteError, UsageError

from .sql_index import Repo, SqlIndex, TokenRow

READ, WRITE, ADMIN = "read", "write", "admin"
SCOPES = (READ, WRITE, ADMIN)  # each includes the ones before it
TOKEN_PREFIX = "muse_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(index: SqlIndex, user: str, repo: Repo, scope: str, *,
                expires_in: int | None = None, note: str = "") -> tuple[TokenRow, str]:
    """A new token for `user` on `repo`; the plain token is returned once and never stored."""
    if scope not in SCOPES:
        raise UsageError(f"unknown scope {scope!r}", hint=f"one of {', '.join(SCOPES)}")
    if not index.user_exists(user):
        raise UsageError(f"no user {user!r} on this hub",
                         hint=f"add it first: muse hub user add {user}")
    if expires_in is not None and expires_in <= 0:
        raise UsageError("a token's lifetime must be positive")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = int(time.time())
    row = TokenRow(secrets.token_hex(8), token_hash(plain), user, repo.id, scope, now,
                   None if expires_in is None else now + expires_in, None, note)
    index.add_token(row)
    return row, plain


@dataclass(frozen=True)
class Grant:
    """Who a request speaks for: a token's user, repository and scope (none: anonymous)."""

    user: str | None = None
    repo_id: str | None = None
    scope: str | None = None
    token_id: str | None = None

    def allows(self, repo: Repo, need: str) -> bool:
        if need == READ and repo.public:
            return True
        if self.scope is None or self.repo_id != repo.id:
            return False
        return SCOPES.index(self.scope) >= SCOPES.index(need)


ANONYMOUS = Grant()


def authenticate(index: SqlIndex, authorization: str | None) -> Grant:
    """The grant an `Authorization: Bearer …` header carries; RemoteError (401) when it is bad."""
    if not authorization:
        return ANONYMOUS
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _refused("the Authorization header is not `Bearer TOKEN`")
    digest = token_hash(token.strip())
    row = index.token_by_hash(digest)
    # The lookup is by hash; the comparison is in constant time all the same.
    if row is None or not hmac.compare_digest(row.hash, digest):
        raise _refused("the token is not known to this hub")
    if row.revoked is not None:
        raise _refused("the token was revoked")
    if row.expires is not None and row.expires <= time.time():
        raise _refused("the token has expired")
    return Grant(row.user, row.repo_id, row.scope, row.id)


def _refused(why: str) -> RemoteError:
    return RemoteError(why, code="remote-auth",
                       hint="ask the hub's admin for a token (`muse hub token create`), then "
                       "set MUSE_TOKEN or keep it with `muse remote set-token NAME`")
