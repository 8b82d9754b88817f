"""Every `Bucket` implementation the primitive suite runs against, listed in one place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from muse.bundle import Progress
from remotes.bucket import Bucket, KeyInfo, Versioned


def make_dir_bucket(base: Path) -> Bucket:
    from remotes.fs import DirBucket

    root = base / "bucket"
    root.mkdir()
    return DirBucket(root)


# A new implementation (S3 against a real server process, …) joins by adding one entry.
BUCKETS: dict[str, Callable[[Path], Bucket]] = {"dir": make_dir_bucket}


class CountingBucket:
    """Counts primitive calls (the requests a push costs); `before_swap` runs before each
    put_if_match, so a test can play a concurrent pusher at exactly that moment."""

    def __init__(self, inner: Bucket,
                 before_swap: Callable[[Bucket], None] | None = None) -> None:
        self.inner = inner
        self.url = inner.url
        self.counts: Counter[str] = Counter()
        self.before_swap = before_swap

    def get(self, key: str) -> Versioned | None:
        self.counts["get"] += 1
        return self.inner.get(key)

    def put_if_absent(self, key: str, source: Path | bytes, *, sha256: str | None = None,
                      disposable: bool = False, progress: Progress | None = None) -> bool:
        self.counts["put_if_absent"] += 1
        return self.inner.put_if_absent(key, source, sha256=sha256, disposable=disposable,
                                        progress=progress)

    def put_if_match(self, key: str, data: bytes, tag: str | None) -> str | None:
        self.counts["put_if_match"] += 1
        if self.before_swap is not None:
            hook, self.before_swap = self.before_swap, None
            hook(self.inner)
        return self.inner.put_if_match(key, data, tag)

    def list(self, prefix: str) -> Iterator[str]:
        self.counts["list"] += 1
        return self.inner.list(prefix)

    def list_info(self, prefix: str) -> Iterator[KeyInfo]:
        self.counts["list"] += 1
        return self.inner.list_info(prefix)

    def open_range(self, key: str, start: int = 0,
                   length: int | None = None) -> AbstractContextManager[BinaryIO]:
        self.counts["open_range"] += 1
        return self.inner.open_range(key, start, length)

    def delete(self, key: str) -> None:
        self.counts["delete"] += 1
        self.inner.delete(key)
