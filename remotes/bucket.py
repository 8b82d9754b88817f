"""Bucket primitives: the six operations a remote without a server is built from.

    get(key)                      bytes and a version tag, or None
    put_if_absent(key, source)    create only; False when the key exists
    put_if_match(key, data, tag)  replace only while the tag still holds (tag None: create)
    list(prefix)                  every key under a prefix (paging is the driver's)
    open_range(key, start, n)     a ranged read, streamed
    delete(key)

A directory gives them with a lock and rename (`remotes/fs.py`); S3 with
`If-None-Match: *` and `If-Match` (`remotes/s3.py`). The push and fetch
algorithm over them is written once (`BucketRemote`, below).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class Versioned:
    """A stored value and the tag that names this version of it (an ETag, a digest)."""

    data: bytes
    tag: str


class Bucket(Protocol):
    """Keys → bytes with conditional writes. Keys are `/`-separated, relative to the remote."""

    url: str

    def get(self, key: str) -> Versioned | None:
        ...

    def put_if_absent(self, key: str, source: Path | bytes, *, sha256: str | None = None,
                      disposable: bool = False) -> bool:
        """Store `source` under `key` unless the key exists; True when this call created it.

        `sha256` (hex), when given, lets the store itself refuse other bytes.
        `disposable` says the file at `source` is the caller's temporary file,
        which the bucket may take over (rename, hard link) instead of copying.
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

    def open_range(self, key: str, start: int = 0,
                   length: int | None = None) -> contextlib.AbstractContextManager[BinaryIO]:
        """A stream of `length` bytes of `key` from `start` (None: to the end)."""
        ...

    def delete(self, key: str) -> None:
        ...
