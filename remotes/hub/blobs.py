"""The hub's blob store: whole bundles under content-addressed keys, in a directory or a bucket.

The hub never fans a push out into one write per object: a verified bundle stays
whole, as a pack, and the index locates objects inside it. `DirBlobs` is the
embedded default; `S3Blobs` (`s3_blobs.py`) lets clients upload and download
straight to and from the bucket through presigned URLs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from muse.bundle import Progress
from muse.objects import is_object_id

from ..bucket import KeyInfo
from ..fs import DirBucket

BUNDLES_PREFIX = "bundles/"


def bundle_key(bundle_id: str) -> str:
    return f"{BUNDLES_PREFIX}{bundle_id}.bundle"


@dataclass(frozen=True)
class StoredBlob:
    """A bundle in the store, its length, and when the store wrote it (its own clock)."""

    pack_id: str
    size: int
    modified: float


def stored_blobs(listed: Iterable[KeyInfo]) -> Iterator[StoredBlob]:
    """The bundles among a listing of `bundles/`: keys of any other shape are not the hub's."""
    for info in listed:
        name = info.key[len(BUNDLES_PREFIX):]
        stem, dot, suffix = name.partition(".")
        if info.key.startswith(BUNDLES_PREFIX) and dot and suffix == "bundle" and \
                is_object_id(stem):
            yield StoredBlob(stem, info.size, info.modified)


class BlobStore(Protocol):
    """Where bundles live. `None` from a presign method: the hub serves that itself."""

    def exists(self, bundle_id: str) -> bool:
        ...

    def size_of(self, bundle_id: str) -> int | None:
        """The stored bundle's length (None: it holds none, e.g. a sweep took it since)."""
        ...

    def put(self, bundle_id: str, path: Path, *, progress: Progress | None = None) -> None:
        """Store the hub's own work file `path` (already hashed to `bundle_id`) create-only;
        `progress` hears how many bytes have gone (a repack keeps its lease with it)."""
        ...

    def modified(self, bundle_id: str) -> float | None:
        """When the store wrote the bundle (None: it holds none), in the store's clock."""
        ...

    def list_bundles(self) -> Iterator[StoredBlob]:
        """Every bundle stored, whatever names it or not (the sweep's listing)."""
        ...

    def open(self, bundle_id: str) -> contextlib.AbstractContextManager[BinaryIO]:
        ...

    def delete(self, bundle_id: str) -> None:
        ...

    def presign_upload(self, bundle_id: str, size: int, expires: int) -> dict[str, object] | None:
        """How a client uploads the bundle straight to the store, or None (the hub's own URL).

        One PUT: `{"url": URL, "headers": {…}}`, signed with the length and sha256.
        Multipart (a large bundle): `{"parts": [{"number": n, "url": URL, "offset": o,
        "size": s, "done": bool}, …]}` — the client PUTs each part not `done` (in
        parallel; a second presign of the same bundle resumes the same upload and
        marks the parts already there), then confirms; `finish_upload` completes it.
        """
        ...

    def finish_upload(self, bundle_id: str) -> None:
        """Complete a multipart upload of `bundle_id` if one is pending (else nothing)."""
        ...

    def presign_download(self, bundle_id: str, expires: int) -> str | None:
        ...

    def put_key(self, key: str, path: Path) -> None:
        """Store the file at `path` under any key (quarantine), create-only."""
        ...

    def copy(self, key: str, to: str) -> None:
        """Keep the bytes at `key` under `to` as well (quarantining an upload)."""
        ...

    def open_key(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        ...

    def delete_key(self, key: str) -> None:
        ...

    def work_dir(self) -> Path:
        """A local folder for uploads the hub receives itself (same filesystem as `put`'s target
        when there is one, so storing is a link, not a copy)."""
        ...


def deleter(blobs: BlobStore, pack_id: str) -> Callable[[], bool]:
    """What `SqlIndex.delete_unnamed` calls to delete a pack's bytes outright."""
    def delete() -> bool:
        blobs.delete(pack_id)
        return True
    return delete


class DirBlobs:
    """Bundles as files under a directory (the embedded default)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._bucket = DirBucket(root)
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def exists(self, bundle_id: str) -> bool:
        return (self.root / bundle_key(bundle_id)).is_file()

    def size_of(self, bundle_id: str) -> int | None:
        try:
            return (self.root / bundle_key(bundle_id)).stat().st_size
        except FileNotFoundError:  # as the S3 store answers: a missing key has no size
            return None

    def put(self, bundle_id: str, path: Path, *, progress: Progress | None = None) -> None:
        self._bucket.put_if_absent(bundle_key(bundle_id), path, disposable=True,
                                   progress=progress)

    def modified(self, bundle_id: str) -> float | None:
        try:
            return (self.root / bundle_key(bundle_id)).stat().st_mtime
        except FileNotFoundError:
            return None

    def list_bundles(self) -> Iterator[StoredBlob]:
        return stored_blobs(self._bucket.list_info(BUNDLES_PREFIX))

    def open(self, bundle_id: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self._bucket.open_range(bundle_key(bundle_id))

    def delete(self, bundle_id: str) -> None:
        self._bucket.delete(bundle_key(bundle_id))

    def presign_upload(self, bundle_id: str, size: int, expires: int) -> dict[str, object] | None:
        return None

    def put_key(self, key: str, path: Path) -> None:
        self._bucket.put_if_absent(key, path)

    def copy(self, key: str, to: str) -> None:
        target = self.root / to
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(self.root / key, target)  # stored files are never written again: a link

    def open_key(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self._bucket.open_range(key)

    def delete_key(self, key: str) -> None:
        self._bucket.delete(key)

    def finish_upload(self, bundle_id: str) -> None:
        pass  # uploads to the hub's own endpoint are whole when they land

    def presign_download(self, bundle_id: str, expires: int) -> str | None:
        return None

    def work_dir(self) -> Path:
        return self.root / "tmp"
