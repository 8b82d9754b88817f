"""The remote protocol every driver speaks: list refs, push one bundle, fetch one bundle.

A driver is a small class satisfying `Remote`; drivers are found by URL scheme
through the `muse.remotes` entry-point group (see docs/writing-a-driver.md), so
a third party can add one. Retry and request counting wrap any driver, and are
assembled in one place: `connect()`. docs/remote-protocol.md has the MUST/SHOULD
rules, including the write ordering that makes ghost refs impossible.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

from .refs import RefUpdate

__all__ = ["Capabilities", "RefResult", "RefUpdate", "Remote"]


@dataclass(frozen=True)
class Capabilities:
    """What a remote can do, as data the transfer engine reads."""

    atomic_multi_ref: bool = True        # a multi-ref push lands all-or-nothing
    max_bundle_bytes: int | None = None  # refuse larger pushes before uploading
    server_verifies: bool = True         # the remote re-hashes what it stores
    writable: bool = True                # False: fetch only (a bundle file, a mirror)


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

    def push(self, bundle: BinaryIO | None, updates: Sequence[RefUpdate]) -> list[RefResult]:
        """Store `bundle` (if any) durably, then apply every update by CAS, all or none.

        MUST verify the bundle completely, and store it durably, before any update
        becomes visible; MUST refuse (raise) an update whose `new` commit is neither
        in the bundle nor already stored; MUST NOT move a ref unless every update's
        `old` still holds; on refusal returns a result per ref with `ok=False` and
        changes no ref. An update whose ref already holds `new` succeeds without a
        change, so re-sending a push whose reply was lost is safe (idempotent).
        """
        ...

    def fetch(self, wants: Sequence[str],
              haves: Sequence[str]) -> contextlib.AbstractContextManager[BinaryIO]:
        """One bundle stream holding `wants` and what they need beyond `haves`.

        `wants` are commit ids the remote's refs name; `haves` are the client's ref
        tips (the remote ignores those it does not know). The receiver verifies the
        stream in full, so a remote cannot make a client store anything false.
        """
        ...

    def close(self) -> None:
        ...

