"""The remote protocol every driver speaks: list refs, push one bundle, fetch bundles.

A driver is a small class satisfying `Remote`; drivers are found by URL scheme
through the `muse.remotes` entry-point group (see docs/writing-a-driver.md), so
a third party can add one. Retry and request counting wrap any driver, and are
assembled in one place: `connect()`. docs/remote-protocol.md has the MUST/SHOULD
rules, including the write ordering that makes ghost refs impossible.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast, runtime_checkable

from .errors import RemoteError
from .refs import RefUpdate
from .storage import PackEntry

__all__ = [
    "Capabilities",
    "IncomingBundle",
    "Opener",
    "OutgoingBundle",
    "RefResult",
    "RefUpdate",
    "Remote",
    "RemoteOptions",
    "dependency_order",
    "recorded_settings",
]


@dataclass(frozen=True)
class RemoteOptions:
    """How to open a driver beyond its URL: credentials, timeouts, per-remote settings.

    `settings` holds the remote's own config keys without the `remote.NAME.`
    prefix (`endpoint`, `region`, `path-style`, …); a driver reads what it knows.
    `request_attempts` is how often a driver may send one request itself: 1 under
    `connect()`, whose retry wrapper is the one retry policy (a driver retrying too
    would multiply the two); more only for a caller with no wrapper above it.
    """

    token: str | None = None
    timeout: float = 30.0
    settings: Mapping[str, str] = field(default_factory=dict)
    request_attempts: int = 1


@dataclass(frozen=True)
class PackContents:
    """What the sending engine wrote into a bundle: every item's offset, size and kind.

    The engine re-hashed every object as it wrote them (it does so whenever the
    remote does not verify), so a remote without a server indexes the pack from
    this instead of reading the whole bundle back. A remote that verifies ignores it.
    """

    prerequisites: tuple[str, ...]
    parents: Mapping[str, tuple[str, ...]]  # each carried commit's parents
    entries: tuple[PackEntry, ...]
    tags: Mapping[str, str] = field(default_factory=dict)  # each carried tag object's target


@dataclass(frozen=True)
class OutgoingBundle:
    """A bundle ready to send: a file on disk whose size and sha256 (= bundle id) are known.

    Knowing them before the upload lets a driver pick a content-addressed key, a
    checksum header or a multipart upload. `disposable` marks the sender's own
    temporary file, which nothing writes again: a receiver on the same
    filesystem may keep it by hard link instead of copying it.
    """

    path: Path
    size: int
    sha256: str
    disposable: bool = False
    progress: Callable[[int], None] | None = field(default=None, compare=False)
    contents: PackContents | None = field(default=None, compare=False, repr=False)

    def open(self) -> BinaryIO:
        """The bundle's bytes from the start; reading them advances `progress`."""
        handle = open(self.path, "rb")  # noqa: SIM115 - the caller closes it
        if self.progress is None:
            return handle
        return counting_reader(handle, self.progress)


# Opens one bundle of a fetch answer: a context manager of its byte stream.
Opener = Callable[[], contextlib.AbstractContextManager[BinaryIO]]


@dataclass(frozen=True)
class IncomingBundle:
    """One bundle of a fetch answer, opened only when the engine is ready to receive it.

    `requires` (its prerequisites) and `provides` (its commits), when the driver
    knows them, let the engine receive several bundles in dependency order.
    """

    label: str
    opener: Opener = field(compare=False)
    size: int | None = None
    requires: frozenset[str] = frozenset()
    provides: frozenset[str] = frozenset()
    # A file on this machine holding exactly this bundle, never rewritten (a filesystem
    # remote's pack, named by its sha256 `bundle_id`): a receiver on the same filesystem
    # may hard-link it instead of copying it, and still verifies every byte of it. A
    # wrapper whose opener serves other bytes must set it to None.
    local_path: Path | None = None
    bundle_id: str | None = None

    def open(self) -> contextlib.AbstractContextManager[BinaryIO]:
        return self.opener()


def dependency_order(bundles: Sequence[IncomingBundle]) -> list[IncomingBundle]:
    """`bundles` so that each comes after every bundle providing one of its prerequisites.

    Stable: bundles with no order between them keep theirs. A cycle is a misbehaving
    remote (RemoteError): no order could make every prerequisite arrive first.
    """
    provider: dict[str, int] = {}
    for i, b in enumerate(bundles):
        for commit in b.provides:
            provider.setdefault(commit, i)
    after = {i: {provider[r] for r in b.requires if provider.get(r, i) != i}
             for i, b in enumerate(bundles)}
    placed: list[int] = []
    done: set[int] = set()
    while len(placed) < len(bundles):
        ready = [i for i in range(len(bundles)) if i not in done and after[i] <= done]
        if not ready:
            raise RemoteError("the remote answered with bundles whose prerequisites form a "
                              "cycle", hint="the remote is damaged or misbehaving")
        placed.append(ready[0])
        done.add(ready[0])
    return [bundles[i] for i in placed]



def counting_reader(handle: BinaryIO, advance: Callable[[int], None]) -> BinaryIO:
    """`handle`, reporting every byte read to `advance` (how an upload's progress is seen)."""
    return cast(BinaryIO, _CountingReader(handle, advance))


class _CountingReader:
    """A read-only file wrapper reporting bytes read (how an upload's progress is seen).

    Only bytes past the furthest point read so far count: an HTTP client that reads a
    body, seeks back and sends it (botocore does, for S3) must not show 200 %.
    """

    def __init__(self, inner: BinaryIO, advance: Callable[[int], None]) -> None:
        self._inner = inner
        self._advance = advance
        self._furthest = inner.tell()

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        if data:
            position = self._inner.tell()
            if position > self._furthest:
                self._advance(position - self._furthest)
                self._furthest = position
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> _CountingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()


@dataclass(frozen=True)
class Capabilities:
    """What a remote can do, as data the transfer engine reads."""

    atomic_multi_ref: bool = True        # a multi-ref push lands all-or-nothing
    max_bundle_bytes: int | None = None  # refuse larger pushes before uploading
    server_verifies: bool = True         # the remote re-hashes what it stores
    writable: bool = True                # False: fetch only (a bundle file, a mirror)


def recorded_settings(remote: Remote) -> dict[str, str]:
    """The settings a repository records for `remote` (`remote.NAME.KEY`), so that it
    opens the same remote from any shell: what its driver took from the environment
    (an S3 endpoint in AWS_ENDPOINT_URL). Optional: a driver without such settings
    has no `recorded_settings` method."""
    found = getattr(remote, "recorded_settings", None)
    return dict(found()) if callable(found) else {}


@dataclass(frozen=True)
class RefResult:
    """The outcome of one ref update in a push: `ok`, or why it was refused."""

    name: str
    old: str | None
    new: str | None
    ok: bool
    reason: str | None = None  # "stale" (CAS lost), "non-fast-forward", "rejected: …"


@runtime_checkable
class Remote(Protocol):
    """One remote repository. Every method is one round trip or a constant number."""

    url: str

    def capabilities(self) -> Capabilities:
        """What this remote supports."""
        ...

    def list_refs(self) -> dict[str, str]:
        """Every ref the remote has (`refs/heads/…`, `refs/tags/…`) → commit id."""
        ...

    def push(self, bundle: OutgoingBundle | None,
             updates: Sequence[RefUpdate]) -> list[RefResult]:
        """Store `bundle` (if any) durably, then apply every update by CAS, all or none.

        MUST verify the bundle completely, and store it durably, before any update
        becomes visible; MUST refuse (raise, code `not-a-commit`) an update whose
        `new` is not a commit in the bundle or already stored (a blob, a snapshot);
        MUST NOT move a ref unless every update's `old` still holds; on refusal
        returns a result per ref with `ok=False` and changes no ref. An update whose
        ref already holds `new` succeeds without a change, so re-sending a push
        whose reply was lost is safe (idempotent).
        """
        ...

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        """Bundles holding `wants` and what they need beyond `haves` (one or several).

        `wants` are commit ids the remote's refs name; `haves` are the client's ref
        tips (the remote ignores those it does not know). A remote may answer with
        the packs it stores, as they are. The receiver verifies every stream in
        full, so a remote cannot make a client store anything false.
        """
        ...

    def close(self) -> None:
        ...

