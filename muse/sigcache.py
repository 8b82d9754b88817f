"""Commit signatures already verified, remembered by commit id so `log` need not load crypto.

Loading the Ed25519 library costs more than the rest of a `muse log` on a
small history. Whether a commit's signature verifies is a pure function of its
bytes, and a commit id is the sha256 of all of them, signature included
(docs/signing.md), so a verified id stays verified for ever. Ids whose
signature verified are appended to one file in the user's config dir, beside
the trusted keys: whoever could write there could as well trust any key, so
the cache adds no way in. Only `log` and `show` read it; `verify` and every
receiver check each signature afresh. Which signer is *trusted* is decided on
every run (`muse.trust`), never cached.

    CONFIG_DIR/verified-signatures    raw 32-byte commit ids, appended
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .config import user_config_dir
from .keys import verify_commit_signature
from .objects import Commit

ID_BYTES = 32
MAX_BYTES = 4 << 20  # ~130,000 ids; past this the file starts over (it is only a cache)


def cache_path() -> Path:
    return user_config_dir() / "verified-signatures"


class VerifiedSignatures:
    """`check(oid, commit)`: does the commit's signature verify? Answered from the cache when
    it can be, else verified (and the answer remembered by `save` when it is yes)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_path()
        self._known: set[bytes] | None = None
        self._new: list[bytes] = []

    def _load(self) -> set[bytes]:
        if self._known is None:
            try:
                data = self.path.read_bytes()
            except OSError:
                data = b""
            whole = len(data) - len(data) % ID_BYTES  # a torn last append is ignored
            self._known = {data[i:i + ID_BYTES] for i in range(0, whole, ID_BYTES)}
        return self._known

    def check(self, oid: str, commit: Commit) -> bool:
        """`oid` must be the id of `commit` as read from a store (which re-hashes it)."""
        if not commit.is_signed:
            return False
        raw = bytes.fromhex(oid)
        known = self._load()
        if raw in known:
            return True
        if not verify_commit_signature(commit):
            return False
        known.add(raw)
        self._new.append(raw)
        return True

    def save(self) -> None:
        """Append what this run verified; a cache that cannot be written is simply not kept."""
        if not self._new:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            with contextlib.suppress(FileNotFoundError):
                if self.path.stat().st_size > MAX_BYTES:
                    flags |= os.O_TRUNC
            fd = os.open(self.path, flags, 0o600)
            try:
                torn = os.fstat(fd).st_size % ID_BYTES
                if torn:  # a torn append would shift every id after it: cut it off first
                    os.ftruncate(fd, os.fstat(fd).st_size - torn)
                os.write(fd, b"".join(self._new))  # one write: appends do not interleave
            finally:
                os.close(fd)
        self._new = []
