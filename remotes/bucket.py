"""Bucket primitives: the seven operations a remote without a server is built from.

    get(key)                      bytes and a version tag, or None
    put_if_absent(key, source)    create only; False when the key exists
    put_if_match(key, data, tag)  replace only while the tag still holds (tag None: create)
    list(prefix)                  every key under a prefix (paging is the driver's)
    list_info(prefix)             the same keys, each with its size and when it was written
    open_range(key, start, n)     a ranged read, streamed
    delete(key)

A directory gives them with hard links and a lock + rename (`remotes/fs.py`); S3 with
`If-None-Match: *` and `If-Match` (`remotes/s3.py`). The push and fetch
algorithm over them is written once (`BucketRemote`, below).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from muse.bundle import BundleReader, Progress
from muse.errors import BundleError, RemoteError, TransientRemoteError, UsageError
from muse.objects import is_object_id
from muse.policy import DEFAULT_POLICY, ReceivePolicy
from muse.receive import VerifiedPack, verify_pack
from muse.refs import HEADS, RefUpdate, check_ref_name
from muse.remote import (
    Capabilities,
    IncomingBundle,
    OutgoingBundle,
    RefResult,
    dependency_order,
)
from muse.storage import KINDS, TAG, PackEntry


@dataclass(frozen=True)
class Versioned:
    """A stored value and the tag that names this version of it (an ETag, a digest)."""

    data: bytes
    tag: str


@dataclass(frozen=True)
class KeyInfo:
    """A stored key, its length, and when its value was written (seconds since the epoch)."""

    key: str
    size: int
    modified: float


class Bucket(Protocol):
    """Keys → bytes with conditional writes. Keys are `/`-separated, relative to the remote."""

    url: str

    def get(self, key: str) -> Versioned | None:
        ...

    def put_if_absent(self, key: str, source: Path | bytes, *, sha256: str | None = None,
                      disposable: bool = False, progress: Progress | None = None) -> bool:
        """Store `source` under `key` unless the key exists; True when this call created it.

        `sha256` (hex), when given, lets the store itself refuse other bytes.
        `disposable` says the file at `source` is the caller's temporary file,
        which the bucket may take over (rename, hard link) instead of copying.
        `progress` hears how many bytes have gone (an upload's progress bar).
        A failed or interrupted call leaves no key behind.
        """
        ...

    def put_if_match(self, key: str, data: bytes, tag: str | None) -> str | None:
        """Replace `key` with `data` only while its version is `tag` (None: only while absent).

        Returns the new version's tag, or None when the precondition failed.
        """
        ...

    def list(self, prefix: str) -> Iterator[str]:
        ...

    def list_info(self, prefix: str) -> Iterator[KeyInfo]:
        """What `list` gives, with each key's size and write time (maintenance ages packs
        by it: a directory's mtime, S3's LastModified, in the store's own clock)."""
        ...

    def open_range(self, key: str, start: int = 0,
                   length: int | None = None) -> contextlib.AbstractContextManager[BinaryIO]:
        """A stream of `length` bytes of `key` from `start` (None: to the end)."""
        ...

    def delete(self, key: str) -> None:
        ...


# -- the layout -------------------------------------------------------------------------
#     refs.json                      every ref, and every pack a ref may rely on (REFS_FORMAT)
#     packs/pack-ID.bundle           a pushed bundle, verified, kept whole (ID = its sha256)
#     packs/pack-ID.index            its index: prerequisites, commits, object rows (PACK_FORMAT)
# Data first, refs last: a pack and its index are written (create-only) before the
# refs document names the pack; a pack no refs document names is garbage a later
# push may reuse, never something a ref relies on.

REFS_KEY = "refs.json"
PACKS_PREFIX = "packs/"
REFS_FORMAT = "muse-remote-refs"
REFS_VERSION = 2
REFS_DOC_KEYS = {"format", "version", "refs", "packs", "checksum"}
PACK_FORMAT = "muse-pack-index"
PACK_VERSION = 1
PACK_DOC_KEYS = {"format", "version", "pack", "size", "requires", "commits", "objects"}
# A lost compare-and-swap is retried this often (re-read, re-check) before giving up.
SWAP_ATTEMPTS = 50

# Where a test (or an operator's tracer) may hook in; each is called with its name.
#   open      start of every operation, before anything is read
#   stored    the pack is stored; its index is not
#   indexed   the pack's index is stored; the refs document is not swapped yet
#   swapped   the new refs document is in place (the reply is not sent yet)
# A bucket may add its own (the directory's `locked`: its refs lock is held).
STEPS = ("open", "stored", "indexed", "swapped")
Hook = Callable[[str], None]


def pack_key(pack_id: str) -> str:
    return f"{PACKS_PREFIX}pack-{pack_id}.bundle"


def index_key(pack_id: str) -> str:
    return f"{PACKS_PREFIX}pack-{pack_id}.index"


def _corrupt(what: str, where: str, why: str) -> RemoteError:
    return RemoteError(f"{what} {where} is corrupt: {why}",
                       hint="restore it from a backup, or rewrite it from a clone's "
                       "remote-tracking refs; no ref was changed", code="remote-corrupt")


def _load_json(raw: bytes, what: str, where: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    # RecursionError: deeply nested arrays are damage too, not a crash.
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _corrupt(what, where, "not valid JSON") from None


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class RefsDoc:
    """The refs document's content: every ref, and the commits each named pack provides."""

    refs: dict[str, str]
    packs: dict[str, tuple[str, ...]]

    def commits(self) -> dict[str, str]:
        """Every commit the remote holds → the (first, by id) pack that provides it."""
        found: dict[str, str] = {}
        for pack_id in sorted(self.packs):
            for commit in self.packs[pack_id]:
                found.setdefault(commit, pack_id)
        return found


EMPTY_DOC = RefsDoc({}, {})


def encode_refs_doc(refs: dict[str, str],
                    packs: Mapping[str, Iterable[str]] | None = None) -> bytes:
    ordered = dict(sorted(refs.items()))
    listed = {p: sorted(set(c)) for p, c in sorted((packs or {}).items())}
    doc = {"format": REFS_FORMAT, "version": REFS_VERSION, "refs": ordered, "packs": listed,
           "checksum": "sha256:" + _digest({"refs": ordered, "packs": listed})}
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")


def decode_refs_doc(raw: bytes, where: str) -> RefsDoc:
    """The refs document's content, or RemoteError naming the document and what is wrong."""
    what = "refs document"
    doc = _load_json(raw, what, where)
    if not isinstance(doc, dict) or set(doc) != REFS_DOC_KEYS:
        raise _corrupt(what, where, f"expected exactly the keys {sorted(REFS_DOC_KEYS)}")
    if doc["format"] != REFS_FORMAT:
        raise _corrupt(what, where, f"format is {doc['format']!r}, not {REFS_FORMAT!r}")
    if doc["version"] != REFS_VERSION:
        raise _corrupt(what, where, f"version {doc['version']!r} is not supported (this "
                       f"Muse reads {REFS_VERSION})")
    refs, packs = doc["refs"], doc["packs"]
    if not isinstance(refs, dict) or not isinstance(packs, dict):
        raise _corrupt(what, where, "refs and packs must be objects")
    for name, value in refs.items():
        if not isinstance(value, str) or not is_object_id(value):
            raise _corrupt(what, where, f"ref {name!r} has a malformed id")
        try:
            check_ref_name(name)
        except UsageError:
            raise _corrupt(what, where, f"invalid ref name {name!r}") from None
    for pack_id, commits in packs.items():
        if (not is_object_id(pack_id) or not isinstance(commits, list)
                or not all(isinstance(c, str) and is_object_id(c) for c in commits)):
            raise _corrupt(what, where, f"pack {str(pack_id)[:80]!r} is malformed")
    if doc["checksum"] != "sha256:" + _digest({"refs": refs, "packs": packs}):
        raise _corrupt(what, where, "checksum mismatch (edited by hand or damaged)")
    return RefsDoc(dict(refs), {p: tuple(c) for p, c in packs.items()})


@dataclass(frozen=True)
class PackIndex:
    """What the verifier saw in one pack: enough to serve it, order it and locate objects."""

    pack: str
    size: int
    requires: tuple[str, ...]
    commits: dict[str, tuple[str, ...]]  # each carried commit → its parents
    entries: tuple[PackEntry, ...]

    def kinds(self) -> dict[str, str]:
        return {e.oid: e.kind for e in self.entries}

    def encode(self) -> bytes:
        doc = {"format": PACK_FORMAT, "version": PACK_VERSION, "pack": self.pack,
               "size": self.size, "requires": sorted(self.requires),
               "commits": {c: list(p) for c, p in sorted(self.commits.items())},
               "objects": [[e.oid, e.offset, e.size, e.kind] for e in self.entries]}
        return (json.dumps(doc, separators=(",", ":")) + "\n").encode("utf-8")


def decode_pack_index(raw: bytes, where: str) -> PackIndex:
    what = "pack index"
    doc = _load_json(raw, what, where)
    if not isinstance(doc, dict) or set(doc) != PACK_DOC_KEYS:
        raise _corrupt(what, where, f"expected exactly the keys {sorted(PACK_DOC_KEYS)}")
    if doc["format"] != PACK_FORMAT or doc["version"] != PACK_VERSION:
        raise _corrupt(what, where, "unknown format or version")
    try:
        requires = tuple(_ids(doc["requires"]))
        commits = {c: tuple(_ids(p)) for c, p in doc["commits"].items() if is_object_id(c)}
        entries = tuple(PackEntry(oid, int(off), int(size), kind)
                        for oid, off, size, kind in doc["objects"]
                        if is_object_id(oid) and kind in KINDS)
        size = int(doc["size"])
    except (AttributeError, TypeError, ValueError):
        raise _corrupt(what, where, "malformed rows") from None
    if (len(commits) != len(doc["commits"]) or len(entries) != len(doc["objects"])
            or not is_object_id(doc["pack"])):
        raise _corrupt(what, where, "malformed ids")
    return PackIndex(doc["pack"], size, requires, commits, entries)


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and is_object_id(v)
                                              for v in value):
        raise ValueError("not a list of ids")
    return value


def outgoing_index(bundle: OutgoingBundle, doc: RefsDoc, policy: ReceivePolicy) -> PackIndex:
    """The index of the pack `bundle` becomes; its prerequisites must be commits here.

    When the sending engine says what it wrote (`bundle.contents`: it re-hashed every
    object while writing, as it does for a remote that does not verify), that is
    the index, and the bundle is not read back. Otherwise the bundle goes through
    the core's verifier, streaming, under the policy's limits.
    """
    contents = bundle.contents
    if contents is not None:
        _check_prerequisites(contents.prerequisites, doc)
        return PackIndex(bundle.sha256, bundle.size, contents.prerequisites,
                         pack_graph(contents.parents, contents.tags), contents.entries)
    with open(bundle.path, "rb") as peek:
        # The header alone says what the bundle builds on: refuse before reading the rest.
        prerequisites = BundleReader(peek, policy=policy).read_header().prerequisites
    _check_prerequisites(prerequisites, doc)
    with bundle.open() as stream:
        # No index: everything the bundle carries is a row of its own pack's index.
        verified = verify_pack(stream, None, policy=policy)
    summary = verified.summary
    if summary.bundle_id != bundle.sha256 or summary.size != bundle.size:
        raise BundleError("the bundle's bytes do not match its declared id and size; "
                          "nothing was changed")
    return verified_index(verified)


def verified_index(verified: VerifiedPack) -> PackIndex:
    """The index of a pack as its verified bytes say it is (no index to trust)."""
    summary = verified.summary
    return PackIndex(summary.bundle_id, summary.size, tuple(summary.header.prerequisites),
                     pack_graph(verified.parents, verified.tags), tuple(verified.entries))


def index_problems(index: PackIndex, found: PackIndex) -> Iterator[str]:
    """Where a stored `index` disagrees with `found`, its pack's verified bytes."""
    if found.pack != index.pack:
        yield f"pack {index.pack} hashes to {found.pack}"
    if found.size != index.size:
        yield f"pack {index.pack} is {found.size} bytes; its index says {index.size}"
    if set(found.entries) != set(index.entries):
        yield f"pack {index.pack}'s index rows disagree with its bundle"
    if found.commits != dict(index.commits):
        yield f"pack {index.pack}'s index lists other commits than its bundle carries"


def pack_graph(parents: Mapping[str, tuple[str, ...]],
           tags: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """A pack's graph rows: each commit → its parents, and each tag object → its target.

    A tag enters the graph as a node whose one "parent" is its target (a commit, or
    the tag it signs over), so fetching a tag chooses the pack that holds it and,
    through that edge, its chain and history: the refs document and the pack index
    keep their format.
    """
    return {**parents, **{t: (target,) for t, target in tags.items()}}


def _check_prerequisites(prerequisites: Iterable[str], doc: RefsDoc) -> None:
    known = doc.commits()
    for oid in prerequisites:
        if oid not in known:
            raise BundleError(f"the bundle's prerequisite {oid} is not a commit on the "
                              "remote; nothing was changed", code="not-a-commit",
                              hint="fetch first, then push again")


def check_updates(updates: Sequence[RefUpdate]) -> None:
    """Well-formed updates: valid names, each once, well-formed ids (a driver's first check)."""
    names = [u.name for u in updates]
    if len(set(names)) != len(names):
        raise UsageError("a ref appears twice in one push")
    for u in updates:
        check_ref_name(u.name)
        for value in (u.old, u.new):
            if value is not None and not is_object_id(value):
                raise UsageError(f"malformed commit id for {u.name}: {value[:80]!r}")


def name_clash(name: str, names: Iterable[str]) -> str | None:
    """A ref that cannot coexist with `name` as files (`a` vs `a/b`), as clients store refs."""
    for other in names:
        if other != name and (other.startswith(name + "/") or name.startswith(other + "/")):
            return other
    return None


def check_targets(updates: Sequence[RefUpdate], pack: PackIndex | None, doc: RefsDoc,
                  kind_of: Callable[[str, str], str | None] | None = None) -> None:
    """Every `new` is a commit in the pack or on the remote (never a blob or a snapshot);
    a tag may also name a tag object. `kind_of(id, pack id)` reads a stored pack's index,
    asked only for a branch set to an id already on the remote."""
    known = doc.commits()
    kinds = pack.kinds() if pack is not None else {}
    for u in updates:
        if u.new is None:
            continue
        if u.name.startswith(HEADS):
            kind = kinds.get(u.new)
            if kind is None and u.new in known and kind_of is not None:
                kind = kind_of(u.new, known[u.new])
            if kind == TAG:
                raise BundleError(f"push would set branch {u.name} to tag object {u.new}; "
                                  "nothing was changed", code="not-a-commit",
                                  hint="a branch must name a commit")
        if u.new in known or (pack is not None and u.new in pack.commits):
            continue
        kind = kinds.get(u.new)
        if kind is not None:
            raise BundleError(f"push would set {u.name} to {u.new}, a {kind}, not a commit; "
                              "nothing was changed", code="not-a-commit",
                              hint="a branch or tag must name a commit")
        raise BundleError(f"push names commit {u.new} for {u.name}, which is neither in the "
                          "bundle nor on the remote; nothing was changed", code="not-a-commit",
                          hint="a branch or tag must name a commit the remote holds")


def refusals(updates: Sequence[RefUpdate], current: dict[str, str]) -> list[RefResult] | None:
    """The per-ref refusal if any `old` no longer holds or a name clashes; None: all apply."""
    # An update whose ref already holds `new` is done: re-sending a push whose
    # reply was lost succeeds instead of reporting a conflict with itself.
    refused = {u.name: "stale" for u in updates if current.get(u.name) not in (u.old, u.new)}
    proposed = apply_updates(updates, current)
    for u in updates:
        other = name_clash(u.name, proposed) if u.new is not None else None
        if other is not None and u.name not in refused:
            refused[u.name] = f"rejected: {u.name} clashes with existing ref {other}"
    if not refused:
        return None
    return [RefResult(u.name, u.old, u.new, False,
                      refused.get(u.name, "not applied: another ref in this push was refused"))
            for u in updates]


def apply_updates(updates: Sequence[RefUpdate], current: dict[str, str]) -> dict[str, str]:
    proposed = dict(current)
    for u in updates:
        if u.new is None:
            proposed.pop(u.name, None)
        else:
            proposed[u.name] = u.new
    return proposed


class BucketRemote:
    """The push and fetch algorithm of a remote without a server, over `Bucket` primitives.

    Push: read the refs document; refuse stale or clashing updates before sending
    anything; verify the bundle with the core's verifier (its prerequisites and every
    ref target must be commits here); store the pack, then its index, create-only;
    swap the refs document by compare-and-swap, re-reading and re-checking on a lost
    race. Four requests whatever the push's size. Fetch: the packs the client lacks,
    as they are stored, each with its prerequisites and commits.
    """

    def __init__(self, bucket: Bucket, *, url: str, policy: ReceivePolicy = DEFAULT_POLICY,
                 hook: Hook | None = None, swap_attempts: int = SWAP_ATTEMPTS) -> None:
        self.bucket = bucket
        self.url = url
        self.policy = policy
        self._hook: Hook = hook or (lambda step: None)
        self._swap_attempts = swap_attempts
        self._seen: tuple[RefsDoc, str | None] | None = None

    def _read(self) -> tuple[RefsDoc, str | None]:
        found = self.bucket.get(REFS_KEY)
        if found is None:
            return EMPTY_DOC, None
        return decode_refs_doc(found.data, self._where(REFS_KEY)), found.tag

    def _last_read(self) -> tuple[RefsDoc, str | None]:
        """The document `list_refs` just read (once), else a fresh read.

        The push planned on that document, so it is the one to check and swap against:
        if the refs moved since, the swap's If-Match fails and `_swap` reads again. This
        spares a push and a clone one request (and one round trip).
        """
        seen, self._seen = self._seen, None
        return seen if seen is not None else self._read()

    def _stored_kind(self, oid: str, pack_id: str) -> str | None:
        found = self.bucket.get(index_key(pack_id))
        if found is None:
            return None
        return decode_pack_index(found.data, self._where(index_key(pack_id))).kinds().get(oid)

    def _where(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"

    # -- the protocol -------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        # No server verifies what lands in a bucket: the pushing engine re-hashes every
        # object as it writes the bundle, and every fetching client verifies it all.
        return Capabilities(atomic_multi_ref=True, max_bundle_bytes=self.policy.max_bundle_bytes,
                            server_verifies=False, writable=True)

    def recorded_settings(self) -> dict[str, str]:
        """What the bucket's driver took from the environment (muse.remote)."""
        found = getattr(self.bucket, "recorded_settings", None)
        return dict(found) if isinstance(found, dict) else {}

    def list_refs(self) -> dict[str, str]:
        self._hook("open")
        self._seen = self._read()
        return dict(self._seen[0].refs)

    def push(self, bundle: OutgoingBundle | None,
             updates: Sequence[RefUpdate]) -> list[RefResult]:
        updates = list(updates)
        check_updates(updates)
        self._hook("open")
        doc, tag = self._last_read()  # a damaged refs document refuses the push before any write
        refused = refusals(updates, doc.refs)
        if refused is not None:
            return refused  # nothing would land: nothing is uploaded
        pack = outgoing_index(bundle, doc, self.policy) if bundle is not None else None
        check_targets(updates, pack, doc, self._stored_kind)
        if pack is not None and bundle is not None and pack.pack not in doc.packs:
            self._store(bundle, pack)
        return self._swap(updates, pack, doc, tag)

    def _store(self, bundle: OutgoingBundle, pack: PackIndex) -> None:
        # Create-only: the same bundle pushed twice (a resent push) is the same key.
        self.bucket.put_if_absent(pack_key(pack.pack), bundle.path, sha256=bundle.sha256,
                                  disposable=bundle.disposable, progress=bundle.progress)
        self._hook("stored")
        self.bucket.put_if_absent(index_key(pack.pack), pack.encode())
        self._hook("indexed")

    def _swap(self, updates: list[RefUpdate], pack: PackIndex | None, doc: RefsDoc,
              tag: str | None) -> list[RefResult]:
        for _attempt in range(self._swap_attempts):
            proposed = apply_updates(updates, doc.refs)
            if proposed == doc.refs:
                return [RefResult(u.name, u.old, u.new, True) for u in updates]
            packs = dict(doc.packs)
            if pack is not None:
                packs.setdefault(pack.pack, tuple(pack.commits))
            if self.bucket.put_if_match(REFS_KEY, encode_refs_doc(proposed, packs),
                                        tag) is not None:
                self._hook("swapped")
                return [RefResult(u.name, u.old, u.new, True) for u in updates]
            # Lost the race: re-read. A ref this push expects to change that moved is a
            # conflict; a concurrent change to other refs is kept and ours goes on top.
            doc, tag = self._read()
            refused = refusals(updates, doc.refs)
            if refused is not None:
                return refused
            check_targets(updates, pack, doc, self._stored_kind)
        raise TransientRemoteError(f"the refs of {self.url} kept changing while pushing; "
                                   "nothing was changed", hint="retry the push")

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        self._hook("open")
        doc, _ = self._last_read()  # the wants came from it
        provider = doc.commits()
        for want in wants:
            if want not in provider:
                raise RemoteError(f"{self.url} has no commit {want[:80]}")
        indexes: dict[str, PackIndex] = {}

        def index(pack_id: str) -> PackIndex:
            if pack_id not in indexes:
                found = self.bucket.get(index_key(pack_id))
                if found is None:
                    raise RemoteError(f"the remote at {self.url} is incomplete: pack {pack_id} "
                                      "has no index", hint="restore it from a backup")
                indexes[pack_id] = decode_pack_index(found.data, self._where(index_key(pack_id)))
            return indexes[pack_id]

        def parents(commit: str) -> tuple[str, ...]:
            return index(provider[commit]).commits.get(commit, ())

        chosen = choose_packs(wants, haves, provider, parents,
                              lambda pack_id: index(pack_id).requires)
        answer = [self._incoming(index(p)) for p in chosen]
        return dependency_order(answer)

    def _incoming(self, pack: PackIndex) -> IncomingBundle:
        key = pack_key(pack.pack)
        # A bucket whose keys are files here (a directory) offers them for hard-linking.
        local_file = getattr(self.bucket, "local_file", None)
        return IncomingBundle(label=key, opener=lambda: self.bucket.open_range(key),
                              size=pack.size, requires=frozenset(pack.requires),
                              provides=frozenset(pack.commits),
                              local_path=None if local_file is None else local_file(key),
                              bundle_id=pack.pack)

    def close(self) -> None:
        pass


def choose_packs(wants: Sequence[str], haves: Sequence[str], provider: Mapping[str, str],
                 parents: Callable[[str], tuple[str, ...]],
                 requires: Callable[[str], Iterable[str]]) -> list[str]:
    """The packs (sorted) a client holding `haves` needs for `wants`; shared by every server.

    `provider` maps each stored commit to the pack that provides it. A chosen pack
    may also need what another pack provides (a pack carrying two branches): its
    prerequisites come along unless the client has them.
    """
    have = _ancestry([h for h in haves if h in provider], parents)
    needed = _ancestry(list(wants), parents, stop=have)
    chosen = sorted({provider[c] for c in needed})
    pending = list(chosen)
    while pending:
        for r in requires(pending.pop()):
            if r not in have and provider[r] not in chosen:
                chosen.append(provider[r])
                pending.append(provider[r])
    return sorted(chosen)


def _ancestry(tips: list[str], parents: Callable[[str], tuple[str, ...]],
              stop: set[str] | None = None) -> set[str]:
    """Every commit reachable from `tips` (not walking into `stop`)."""
    stop = stop or set()
    seen: set[str] = set()
    stack = [t for t in tips if t not in stop]
    while stack:
        commit = stack.pop()
        if commit in seen:
            continue
        seen.add(commit)
        stack.extend(p for p in parents(commit) if p not in seen and p not in stop)
    return seen
