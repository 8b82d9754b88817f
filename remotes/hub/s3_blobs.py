"""The production blob store: bundles in an S3 bucket, moved through presigned URLs.

`--blobs s3://bucket/prefix` keeps each bundle at `prefix/bundles/ID.bundle`.
A client's upload goes straight to the bucket: one presigned PUT signed with the
bundle's length and sha256 (the store refuses other bytes), or, above the
multipart threshold, one presigned URL per part; fetches answer presigned GETs.
The S3 settings come from the environment as for an S3 remote (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_PROFILE, …) plus MUSE_HUB_S3_* (docs/hub.md).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from muse.bundle import Progress
from muse.remote import RemoteOptions
from muse.remote_wrappers import DEFAULT_RETRIES

from ..s3 import SETTINGS, S3Bucket, open_bucket
from .blobs import BUNDLES_PREFIX, StoredBlob, bundle_key, stored_blobs

# MUSE_HUB_S3_<NAME> → the S3 remote setting <name> (docs/s3.md), for the hub's bucket.


def settings_from(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    found = {}
    for name in SETTINGS:
        value = environ.get("MUSE_HUB_S3_" + name.upper().replace("-", "_"))
        if value is not None:
            found[name] = value
    return found


class S3Blobs:
    """Bundles in a bucket; `presigner` signs the URLs clients use (a public endpoint)."""

    def __init__(self, bucket: S3Bucket, presigner: S3Bucket | None = None,
                 work: Path | None = None) -> None:
        self.bucket = bucket
        self.presigner = presigner or bucket
        self._work = work or Path(tempfile.gettempdir()) / "muse-hub-uploads"

    @classmethod
    def from_url(cls, url: str) -> S3Blobs:
        """The store `url` names, its S3 settings from the environment."""
        settings = settings_from(os.environ)
        # Nothing on the server retries above the store: each S3 request is retried
        # here, as often as a client's wrapper retries a call (docs/s3.md, Retries).
        options = RemoteOptions(settings=settings, request_attempts=DEFAULT_RETRIES)
        bucket = open_bucket(url, options)
        # Clients may reach the bucket by another name than the hub does (a proxy, a
        # container network): URLs are signed for the host the clients will use.
        public = os.environ.get("MUSE_HUB_S3_PUBLIC_ENDPOINT")
        presigner = None
        if public:
            presigner = open_bucket(url, replace(options, settings={**settings,
                                                                    "endpoint": public}))
        work = os.environ.get("MUSE_HUB_WORK_DIR")
        return cls(bucket, presigner, Path(work) if work else None)

    def exists(self, bundle_id: str) -> bool:
        return self.bucket.exists(bundle_key(bundle_id))

    def put(self, bundle_id: str, path: Path, *, progress: Progress | None = None) -> None:
        self.bucket.put_if_absent(bundle_key(bundle_id), path, sha256=bundle_id,
                                  disposable=True, progress=progress)

    def modified(self, bundle_id: str) -> float | None:
        found = self.bucket.key_info(bundle_key(bundle_id))
        return None if found is None else found.modified

    def list_bundles(self) -> Iterator[StoredBlob]:
        return stored_blobs(self.bucket.list_info(BUNDLES_PREFIX))

    def open(self, bundle_id: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self.bucket.open_range(bundle_key(bundle_id))

    def delete(self, bundle_id: str) -> None:
        self.bucket.delete(bundle_key(bundle_id))

    def size_of(self, bundle_id: str) -> int | None:
        return self.bucket.size_of(bundle_key(bundle_id))

    def put_key(self, key: str, path: Path) -> None:
        self.bucket.put_if_absent(key, path)

    def copy(self, key: str, to: str) -> None:
        self.bucket.copy(key, to)

    def open_key(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self.bucket.open_range(key)

    def delete_key(self, key: str) -> None:
        self.bucket.delete(key)

    def presign_upload(self, bundle_id: str, size: int, expires: int) -> dict[str, object] | None:
        key = bundle_key(bundle_id)
        if size <= self.bucket.multipart_threshold:
            url, headers = self.presigner.presign_put(key, size, bundle_id, expires)
            return {"url": url, "headers": headers}
        # The upload itself is the hub's bucket's; only the URLs are the presigner's.
        upload = self.presigner.presign_multipart(key, size, self.bucket.part_size, expires)
        return {"upload_id": upload.upload_id,
                "parts": [{"number": p.number, "url": p.url, "offset": p.offset,
                           "size": p.size, "done": p.etag is not None}
                          for p in upload.parts]}

    def finish_upload(self, bundle_id: str) -> None:
        """Complete the upload in parts of `bundle_id`, if one is open (confirm calls this).

        The parts' bytes are checked by confirm, which hashes the whole bundle as it
        verifies it, before anything is indexed.
        """
        key = bundle_key(bundle_id)
        upload = self.bucket.upload_under_way(key)
        if upload is not None:
            self.bucket.complete_multipart(key, upload)

    def presign_download(self, bundle_id: str, expires: int) -> str | None:
        return self.presigner.presign_get(bundle_key(bundle_id), expires)

    def work_dir(self) -> Path:
        return self._work
