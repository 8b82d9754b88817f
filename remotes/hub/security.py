"""The hub's protective rules, enforced on the push path before anything becomes visible.

Size gates, daily byte quotas, push rates, the signature policy, blocked ids,
takedowns and quarantine (docs/hub-security.md has each rule's status, error
code, admin command and test). Every refusal is recorded in the audit log.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from muse.errors import BundleError, MuseError, RemoteError
from muse.policy import ANY, SIGNED, TRUSTED, ReceivePolicy

from .blobs import BlobStore, bundle_key
from .security_index import Quarantined, SecurityIndex
from .sql_index import Repo, SqlIndex
from .tokens import Grant

# A repository's signature rule: any, signed, or signed by a key registered to the pusher.
REGISTERED = "registered"
SIGNATURE_RULES = {"any": ANY, "signed": SIGNED, REGISTERED: TRUSTED}
# Verification failures that quarantine the upload (its bytes are kept for inspection).
QUARANTINED_CODES = {"bad-bundle", "corrupt-object", "bad-signature", "missing-prerequisite",
                     "not-a-commit", "integrity", "missing-object", "checksum-mismatch"}
# Refusals by rule: the push is refused and audited, the bytes are not worth keeping.
DEFAULT_PUSHES_PER_MINUTE = 120
# Takedown states that hide: `hidden` (reversible) and `purged` (the bytes are gone).
IN_FORCE = ("hidden", "purged")


class ThrottledError(RemoteError):
    """A quota or rate refusal (HTTP 429); `retry_after` seconds until it may succeed."""

    def __init__(self, message: str, *, code: str, retry_after: int, hint: str) -> None:
        super().__init__(message, code=code, hint=hint)
        self.retry_after = retry_after


class QuarantinedError(BundleError):
    """A bundle that failed verification, kept in quarantine under `quarantine_id`."""

    def __init__(self, cause: MuseError, quarantine_id: str) -> None:
        super().__init__(f"{cause.message} (the upload is quarantined as {quarantine_id})",
                         hint=cause.hint, code=cause.code)
        self.quarantine_id = quarantine_id


def utc_day(now: float | None = None) -> str:
    return dt.datetime.fromtimestamp(now or time.time(), dt.UTC).strftime("%Y-%m-%d")


def seconds_to_midnight(now: float | None = None) -> int:
    moment = dt.datetime.fromtimestamp(now or time.time(), dt.UTC)
    tomorrow = (moment + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
    return max(1, int((tomorrow - moment).total_seconds()))


@dataclass(frozen=True)
class Effective:
    """One repository's limits: its own where set, else the hub's."""

    max_bundle_bytes: int | None
    max_object_bytes: int | None
    max_repo_bytes: int | None
    daily_repo_bytes: int | None
    daily_user_bytes: int | None
    pushes_per_minute: int
    signatures: str


class Guard:
    """Applies the rules for one hub; stateless (everything is in the index)."""

    def __init__(self, index: SqlIndex, blobs: BlobStore, *, max_bundle_bytes: int | None = None,
                 max_object_bytes: int | None = None) -> None:
        self.rows = SecurityIndex(index)
        self.blobs = blobs
        self._flags = {"max_bundle_bytes": max_bundle_bytes, "max_object_bytes": max_object_bytes}

    def effective(self, repo: Repo) -> Effective:
        own = self.rows.repo_rules(repo)
        hub = self.rows.hub_settings()

        def pick(mine: int | None, name: str) -> int | None:
            for value in (mine, hub.get(name), self._flags.get(name)):
                if value is not None:
                    return value
            return None

        rate = hub.get("pushes_per_minute")
        return Effective(pick(own.max_bundle_bytes, "max_bundle_bytes"),
                         pick(own.max_object_bytes, "max_object_bytes"),
                         pick(own.max_repo_bytes, "max_repo_bytes"),
                         pick(own.daily_bytes, "daily_repo_bytes"),
                         hub.get("daily_user_bytes"),
                         DEFAULT_PUSHES_PER_MINUTE if rate is None else rate, own.signatures)

    # -- before any byte is sent -------------------------------------------------------------

    def admit_push(self, repo: Repo, grant: Grant, size: int | None) -> Effective:
        """Rate, size and quota checks of a push about to send `size` bytes (None: none)."""
        rules = self.effective(repo)
        self._rate(repo, grant, rules)
        if size is not None:
            self.check_sizes(repo, grant, rules, size)
            self._quota(repo, grant, rules, size)
        return rules

    def _rate(self, repo: Repo, grant: Grant, rules: Effective) -> None:
        if grant.token_id is None:
            return
        window = int(time.time() // 60)
        if self.rows.hit(grant.token_id, window) > rules.pushes_per_minute:
            self._refused(repo, grant, "rate-limited", f"over {rules.pushes_per_minute}/min")
            raise ThrottledError(f"this token has made more than {rules.pushes_per_minute} push "
                                 "requests this minute", code="rate-limited",
                                 retry_after=60 - int(time.time()) % 60,
                                 hint="wait a minute and push again")

    def check_sizes(self, repo: Repo, grant: Grant, rules: Effective, size: int) -> None:
        """The bundle and repository size gates (413)."""
        limit = rules.max_bundle_bytes
        if limit is not None and size > limit:
            self._refused(repo, grant, "too-large", f"bundle {size} > {limit}")
            raise BundleError(f"the bundle is {size} bytes; {repo.full_name} takes at most "
                              f"{limit} per push", code="too-large",
                              hint="push fewer commits at a time")
        limit = rules.max_repo_bytes
        if limit is not None:
            held = self.rows.repo_bytes(repo)
            if held + size > limit:
                self._refused(repo, grant, "repo-too-large", f"{held} + {size} > {limit}")
                raise BundleError(f"{repo.full_name} holds {held} bytes; this push of {size} "
                                  f"would pass its limit of {limit}", code="repo-too-large",
                                  hint="ask the hub's admin for more room")

    def _quota(self, repo: Repo, grant: Grant, rules: Effective, size: int) -> None:
        day = utc_day()
        for subject, limit, what in ((f"repo:{repo.id}", rules.daily_repo_bytes,
                                      repo.full_name),
                                     (f"user:{grant.user}", rules.daily_user_bytes,
                                      f"user {grant.user}")):
            if limit is None or (subject.startswith("user:") and grant.user is None):
                continue
            left = limit - self.rows.used(day, subject)
            if size > left:
                self._refused(repo, grant, "quota-exceeded", f"{what}: {size} > {left} left")
                raise ThrottledError(f"{what} may upload {max(left, 0)} more bytes today (UTC); "
                                     f"this push is {size}", code="quota-exceeded",
                                     retry_after=seconds_to_midnight(),
                                     hint="push again after midnight UTC, or ask the hub's "
                                     "admin for a larger quota")

    def count_upload(self, repo: Repo, grant: Grant, size: int) -> None:
        subjects = [f"repo:{repo.id}"] + ([f"user:{grant.user}"] if grant.user else [])
        self.rows.add_usage(utc_day(), subjects, size)

    # -- while verifying ----------------------------------------------------------------------

    def policy(self, repo: Repo, grant: Grant, rules: Effective) -> ReceivePolicy:
        signers = SIGNATURE_RULES.get(rules.signatures, SIGNED)
        keys = frozenset(self.rows.keys_of(grant.user).values()) \
            if signers == TRUSTED and grant.user else frozenset()
        blocked = self.rows.blocked()
        return ReceivePolicy(signers=signers, trusted_keys=keys,
                             max_bundle_bytes=rules.max_bundle_bytes,
                             max_object_bytes=rules.max_object_bytes,
                             blocked=blocked.__contains__ if blocked else None)

    def refuse_bundle(self, repo: Repo, grant: Grant, bundle_id: str, size: int,
                      error: MuseError, inline: Path | None) -> MuseError:
        """Audit a refused bundle and, for a verification failure, quarantine its bytes."""
        if error.code == "untrusted-signer":
            error = BundleError(error.message, code=error.code,
                                hint=f"register the key with `muse hub key add {grant.user} "
                                "KEY`, or ask the repository's admin to accept any signer")
        if error.code not in QUARANTINED_CODES:
            self._refused(repo, grant, error.code, error.message, bundle=bundle_id)
            return error
        qid = secrets.token_hex(8)
        key = self._keep(bundle_id, qid, inline)
        self.rows.quarantine(Quarantined(qid, bundle_id, repo.id, grant.user, int(time.time()),
                                         error.code, error.message, key, size, None))
        self._refused(repo, grant, error.code, error.message, bundle=bundle_id,
                      quarantine=qid)
        return QuarantinedError(error, qid)

    def _keep(self, bundle_id: str, qid: str, inline: Path | None) -> str | None:
        """Copy the refused bytes to `quarantine/`, where nothing reads them.

        The upload itself stays where it is: bytes that hash to their name may be a
        pack another repository is verifying or has indexed (the service deletes an
        upload whose bytes do not match its name, which no push can ever use).
        """
        key = f"quarantine/{qid}.bundle"
        if inline is not None:
            self.blobs.put_key(key, inline)
        elif self.blobs.exists(bundle_id):
            self.blobs.copy(bundle_key(bundle_id), key)
        else:
            return None
        return key

    # -- reading --------------------------------------------------------------------------

    def hidden_packs(self, repo: Repo) -> dict[str, str]:
        """Packs a read must not return → why (a blocked id, a takedown notice)."""
        hidden = {p: f"it holds blocked content ({oid})"
                  for p, oid in self.rows.blocked_packs(repo).items()}
        for notice in self.rows.takedowns(repo):
            if notice.state in IN_FORCE and notice.objects:
                why = f"it is taken down (notice {notice.notice})"
                for pack in [*self.rows.packs_holding(repo, notice.objects), *notice.packs]:
                    hidden[pack] = why
        if hidden:
            # A pack a repack folded carries what its replacement carries: hidden with it.
            for pack, into in self.rows.index.replaced_into(repo, hidden).items():
                hidden.setdefault(pack, hidden[into])
        return hidden

    def check_not_taken_down(self, repo: Repo) -> None:
        for notice in self.rows.takedowns(repo):
            if notice.state in IN_FORCE and not notice.objects:
                raise RemoteError(f"{repo.full_name} is taken down (notice {notice.notice})",
                                  code="taken-down", hint="see the notice on the hub")

    def _refused(self, repo: Repo, grant: Grant, code: str, why: str, **detail: str) -> None:
        self.rows.record(grant.user or "anonymous", "push-refused", repo=repo.full_name,
                         target=code, why=why, **detail)


def actor_name() -> str:
    """Who runs an admin command (the audit log's actor): $MUSE_HUB_ACTOR, else $USER."""
    return os.environ.get("MUSE_HUB_ACTOR") or os.environ.get("USER") or "admin"
