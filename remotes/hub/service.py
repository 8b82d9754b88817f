"""What the hub does, free of HTTP: refs, presign, confirm (verify, index, move refs), fetch.

The ASGI layer (`app.py`) only parses requests and writes responses; every rule
lives here, so it is the same whichever process, database or blob store serves it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from muse.errors import BundleError, MuseError, RemoteError, UsageError
from muse.objects import is_object_id
from muse.policy import ReceivePolicy
from muse.receive import VerifiedPack, verify_pack
from muse.refs import TAGS, RefUpdate
from muse.storage import COMMIT, TAG

from ..bucket import check_updates, refusals
from .blobs import BlobStore
from .security import Effective, Guard
from .sql_index import Installed, NewPack, Repo, SqlIndex
from .tickets import read_ticket, sign_ticket
from .tokens import READ, Grant, authenticate

API = "/api/v1"
# A repository is OWNER/NAME, each a name a URL and a folder can carry as they are.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """The hub's numbers, announced to clients with the refs (docs/hub.md)."""

    max_bundle_bytes: int | None = None
    max_object_bytes: int | None = None
    inline_max_bytes: int = 4 * MIB      # smaller bundles go inside the confirm request
    ticket_seconds: int = 15 * 60        # how long an upload or download URL stays valid


@dataclass
class Hub:
    """One deployment: an index, a blob store, limits. Stateless between requests."""

    index: SqlIndex
    blobs: BlobStore
    limits: Limits = field(default_factory=Limits)
    # Called at each named step of confirm and repack (a test kills the process there).
    hook: Callable[[str], None] = field(default=lambda step: None)
    # Called with the repository after each push that stored a pack (`serve` sets the
    # background repack here, `repack.AutoRepack`); it must return at once.
    after_push: Callable[[Repo], None] | None = None

    def __post_init__(self) -> None:
        self.guard = Guard(self.index, self.blobs, max_bundle_bytes=self.limits.max_bundle_bytes,
                           max_object_bytes=self.limits.max_object_bytes)

    # -- who may do what --------------------------------------------------------------------

    def grant(self, authorization: str | None) -> Grant:
        return authenticate(self.index, authorization)

    def repo(self, owner: str, name: str, grant: Grant, need: str) -> Repo:
        """The repository if `grant` may `need` it; a private one stays hidden (404)."""
        repo = self.index.repo(owner, name) if _valid(owner, name) else None
        if repo is None or not grant.allows(repo, READ):
            raise RemoteError(f"no repository {owner}/{name} on this hub",
                              code="remote-not-found",
                              hint="check the URL; a private repository needs a token: set "
                              "MUSE_TOKEN, or keep one with `muse remote set-token NAME`")
        if not grant.allows(repo, need):
            raise RemoteError(f"this token may not {need} {owner}/{name}",
                              code="remote-forbidden" if grant.scope else "remote-auth",
                              hint="pushing needs a token with the write scope "
                              "(`muse hub token create --scope write`)")
        self.guard.check_not_taken_down(repo)
        return repo

    # -- reading ----------------------------------------------------------------------------

    def refs(self, repo: Repo) -> dict[str, Any]:
        return {"refs": self.index.refs(repo), "capabilities": self.capabilities(repo)}

    def capabilities(self, repo: Repo) -> dict[str, Any]:
        rules = self.guard.effective(repo)
        return {"atomic_multi_ref": True, "server_verifies": True,
                "max_bundle_bytes": rules.max_bundle_bytes,
                "max_object_bytes": rules.max_object_bytes,
                "inline_max_bytes": self.limits.inline_max_bytes,
                "signatures": rules.signatures}

    # -- push: presign, upload, confirm -----------------------------------------------------

    def presign(self, repo: Repo, grant: Grant, bundle_id: str, size: int,
                base_url: str) -> dict[str, Any]:
        """Where to PUT the bundle (or that the hub has it already): one URL, bound to id+size.

        The declared size passes the size gates and the daily quotas here, before any
        byte is sent (413, 429).
        """
        _check_bundle_id(bundle_id)
        if size <= 0:
            raise UsageError("a bundle's size must be positive")
        self.guard.admit_push(repo, grant, size)
        if self.blobs.exists(bundle_id):
            return {"exists": True}
        expires = self.limits.ticket_seconds
        upload = self.blobs.presign_upload(bundle_id, size, expires)
        if upload is None:
            ticket = sign_ticket(self.index.ticket_secret(),
                                 {"p": "upload", "repo": repo.id, "id": bundle_id, "size": size},
                                 expires)
            upload = {"url": f"{base_url}{API}/uploads/{ticket}", "headers": {}}
        return {"exists": False, "method": "PUT", "expires_in": expires, **upload}

    def upload_ticket(self, ticket: str) -> tuple[str, int]:
        """The bundle id and size an upload URL was signed for."""
        fields = read_ticket(self.index.ticket_secret(), ticket)
        if fields.get("p") != "upload" or not isinstance(fields.get("size"), int):
            raise RemoteError("not an upload ticket", code="remote-auth")
        bundle_id = str(fields.get("id"))
        _check_bundle_id(bundle_id)
        return bundle_id, int(fields["size"])

    def store_upload(self, bundle_id: str, path: Path) -> None:
        """Keep an upload the hub received itself (its bytes already hash to `bundle_id`)."""
        self.blobs.put(bundle_id, path)

    def new_work_file(self) -> Path:
        work = self.blobs.work_dir()
        work.mkdir(parents=True, exist_ok=True)
        return work / f"upload-{os.urandom(8).hex()}"

    def confirm(self, repo: Repo, grant: Grant, updates: Sequence[RefUpdate], *,
                bundle_id: str | None = None, inline: Path | None = None) -> dict[str, Any]:
        """Verify the bundle (uploaded, or `inline`), index it and move every ref, all or none.

        Like git's default, fast-forward rules are the pushing client's: a writer's
        update applies whenever its `old` still holds (compare-and-swap).
        """
        updates = list(updates)
        check_updates(updates)
        current = self.index.refs(repo)
        # Refuse what cannot land before reading the bundle (the transaction re-checks).
        early = refusals(updates, current)
        if early is not None:
            return _answer(Installed(early, 0, 0))
        pack = None
        if bundle_id is not None or inline is not None:
            size = inline.stat().st_size if inline is not None else None
            rules = self.guard.admit_push(repo, grant, size)
            verified = self._verify(repo, grant, rules, bundle_id, inline)
            pack = _new_pack(verified)
        else:
            self.guard.admit_push(repo, grant, None)
        self.hook("verified")
        self._check_targets(repo, updates, pack)
        done = self.index.install(repo, pack, updates, self.hook, stored=self.blobs.exists)
        if pack is not None and self.after_push is not None and all(r.ok for r in done.results):
            self.after_push(repo)
        return _answer(done)

    def _verify(self, repo: Repo, grant: Grant, rules: Effective, bundle_id: str | None,
                inline: Path | None) -> VerifiedPack:
        """Verify under the repository's policy; a refusal is audited (and quarantined)."""
        label = bundle_id or "inline"
        try:
            verified = self._read_bundle(repo, self.guard.policy(repo, grant, rules),
                                         bundle_id, inline)
        except MuseError as error:
            if error.code in ("remote-missing", "usage"):
                raise
            # What arrived counts against the quotas whether or not it verified.
            size = self._arrived(bundle_id, inline)
            self.guard.count_upload(repo, grant, size)
            refusal = self.guard.refuse_bundle(repo, grant, label, size, error, inline)
            if bundle_id is not None and inline is None:
                self._drop_if_misnamed(bundle_id)
            raise refusal from None
        self.guard.count_upload(repo, grant, verified.summary.size)
        if inline is None:
            # The declared size passed the gates at presign; the bytes that arrived
            # pass them again (an inline bundle did before it was read).
            self.guard.check_sizes(repo, grant, rules, verified.summary.size)
        return verified

    def _drop_if_misnamed(self, bundle_id: str) -> None:
        """Delete an unindexed upload whose bytes do not hash to its name.

        An upload in parts is bound part by part, by length only, so its whole can be
        other bytes; left in place it would pass for the bundle (presign answers
        "exists") and refuse every later push of the real one. No push can ever use
        such bytes, so deleting them cannot harm a concurrent confirm.
        """
        if not self.blobs.exists(bundle_id) or self.index.pack_known(bundle_id):
            return
        digest = hashlib.sha256()
        with self.blobs.open(bundle_id) as stream:
            while chunk := stream.read(MIB):
                digest.update(chunk)
        if digest.hexdigest() != bundle_id:
            self.blobs.delete(bundle_id)

    def _arrived(self, bundle_id: str | None, inline: Path | None) -> int:
        if inline is not None:
            return inline.stat().st_size
        if bundle_id is not None and self.blobs.exists(bundle_id):
            return self.blobs.size_of(bundle_id) or 0
        return 0

    def _read_bundle(self, repo: Repo, policy: ReceivePolicy, bundle_id: str | None,
                     inline: Path | None) -> VerifiedPack:
        objects = self.index.objects(repo)
        if inline is not None:
            with open(inline, "rb") as stream:
                verified = verify_pack(stream, objects, policy=policy,
                                       size=inline.stat().st_size)
            if bundle_id is not None and verified.pack_id != bundle_id:
                raise BundleError("the inline bundle is not the bundle the request names; "
                                  "nothing was changed")
            self.blobs.put(verified.pack_id, inline)
            return verified
        assert bundle_id is not None
        _check_bundle_id(bundle_id)
        self.blobs.finish_upload(bundle_id)
        if not self.blobs.exists(bundle_id):
            raise RemoteError(f"bundle {bundle_id} was not uploaded (or its upload expired)",
                              code="remote-missing", hint="push again")
        with self.blobs.open(bundle_id) as stream:
            verified = verify_pack(stream, objects, policy=policy,
                                   size=self.blobs.size_of(bundle_id))
        if verified.pack_id != bundle_id:  # a store that did not check the upload's checksum
            raise BundleError(f"the uploaded bytes do not hash to {bundle_id}; nothing was "
                              "changed")
        return verified

    def _check_targets(self, repo: Repo, updates: Sequence[RefUpdate],
                       pack: NewPack | None) -> None:
        objects = self.index.objects(repo)
        carried = {e.oid: e.kind for e in pack.entries} if pack is not None else {}
        for u in updates:
            if u.new is None:
                continue
            kind = carried.get(u.new) or objects.kind(u.new)
            if kind == TAG and u.name.startswith(TAGS):
                continue  # verified on its way in: its commit is here too (no ghost refs)
            if kind != COMMIT:
                what = f"a {kind}" if kind else "neither in the bundle nor on the hub"
                raise BundleError(f"push would set {u.name} to {u.new}, {what}, not a commit; "
                                  "nothing was changed", code="not-a-commit",
                                  hint="a branch or tag must name a commit")

    # -- fetch ------------------------------------------------------------------------------

    def fetch(self, repo: Repo, wants: Sequence[str], haves: Sequence[str],
              base_url: str) -> dict[str, Any]:
        # One snapshot, reading only what the client lacks plus a small frontier.
        plan = self.index.fetch_plan(repo, wants, haves)
        hidden = self.guard.hidden_packs(repo)
        for pack_id in plan.chosen:
            if pack_id in hidden:
                raise _unavailable(repo, hidden[pack_id])
        answer = []
        for pack_id in plan.chosen:
            size, requires = plan.packs[pack_id]
            url = self.blobs.presign_download(pack_id, self.limits.ticket_seconds)
            answer.append({"id": pack_id, "size": size, "requires": sorted(requires),
                           "provides": plan.provides.get(pack_id, []),
                           "url": url or f"{base_url}{API}/repos/{repo.full_name}/packs/"
                                         f"{pack_id}"})
        return {"bundles": answer}

    @contextlib.contextmanager
    def open_pack(self, repo: Repo, pack_id: str) -> Iterator[BinaryIO]:
        # A replaced pack is served through its grace period: a fetch chose it a moment ago.
        if not is_object_id(pack_id) or pack_id not in self.index.pack_rows(repo,
                                                                            replaced=True):
            raise RemoteError(f"{repo.full_name} has no pack {pack_id[:80]}",
                              code="remote-not-found")
        hidden = self.guard.hidden_packs(repo)
        if pack_id in hidden:
            raise _unavailable(repo, hidden[pack_id])
        with self.blobs.open(pack_id) as stream:
            yield stream


def _unavailable(repo: Repo, why: str) -> RemoteError:
    code = "taken-down" if "taken down" in why else "blocked"
    return RemoteError(f"part of {repo.full_name}'s history cannot be served: {why}", code=code,
                       hint="branches whose history does not need it can still be fetched "
                       "(docs/hub-security.md)")


def _valid(owner: str, name: str) -> bool:
    return bool(NAME_RE.match(owner) and NAME_RE.match(name))


def check_repo_name(full: str) -> tuple[str, str]:
    """OWNER/NAME, each of letters, digits, `.`, `_`, `-`; UsageError otherwise."""
    owner, _, name = full.partition("/")
    if not _valid(owner, name) or name.endswith(".") or owner.endswith("."):
        raise UsageError(f"invalid repository name {full!r}",
                         hint="use OWNER/NAME of letters, digits, '.', '_' and '-'")
    return owner, name


def _check_bundle_id(bundle_id: str) -> None:
    if not is_object_id(bundle_id):
        raise UsageError(f"malformed bundle id {bundle_id[:80]!r}",
                         hint="a bundle id is its sha256, 64 lowercase hex digits")


def _new_pack(verified: VerifiedPack) -> NewPack:
    new_commits = {e.oid for e in verified.entries if e.kind == COMMIT}
    graph = {c: p for c, p in verified.parents.items() if c in new_commits}
    graph.update({e.oid: (verified.tags[e.oid],) for e in verified.entries if e.kind == TAG})
    return NewPack(verified.pack_id, verified.summary.size,
                   tuple(verified.summary.header.prerequisites), verified.entries, graph)


def _answer(done: Installed) -> dict[str, Any]:
    return {"results": [{"name": r.name, "old": r.old, "new": r.new, "ok": r.ok,
                         "reason": r.reason} for r in done.results],
            "stored_commits": done.commits, "stored_objects": done.objects}


__all__ = ["API", "Hub", "Limits", "MuseError", "check_repo_name"]
