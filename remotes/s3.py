"""The S3 remote: the bucket algorithm over S3's conditional writes, checksums and multipart.

`s3://bucket/prefix` names a repository at `prefix/` in `bucket` (one bucket may hold
many). `S3Bucket` gives the seven `Bucket` primitives with an injected boto3 client;
`open_remote` builds one from the URL and the remote's settings. It also presigns
PUTs, GETs and uploads in parts bound to a length and checksum, for the hub to
hand its clients (docs/hub.md). boto3 is imported
only here, only when an S3 remote is opened. docs/s3.md describes the whole driver.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import hashlib
import io
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from muse.bundle import Progress
from muse.config import boolean
from muse.errors import ConfigError, MuseError, RemoteError, TransientRemoteError, UsageError
from muse.fsutil import atomic_write_bytes
from muse.remote import Remote, RemoteOptions, counting_reader
from muse.remote_registry import refuse_credentials
from remotes.bucket import KeyInfo, Versioned

MiB = 1024 * 1024
# Larger uploads go in parts. Below it one PUT costs the client no hashing at all (the
# store checks the digest it is given), while parts need each part's digest and the
# whole file's; a failed single PUT of up to 256 MiB is sent again whole.
MULTIPART_THRESHOLD = 256 * MiB
PART_SIZE = 16 * MiB            # S3 wants at least 5 MiB for every part but the last
PART_WORKERS = 4                # parts in flight at once (memory: workers times part size)
HASH_CHUNK = MiB
PROBE_PREFIX = ".muse-probe-"
MIN_PART_SIZE = 5 * MiB         # S3 refuses smaller parts (all but the last)
MAX_PARTS = 10_000
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit

# Every `remote.NAME.*` setting this driver reads (docs/s3.md, Settings); the timeout is
# the one every driver gets, RemoteOptions.timeout.
SETTINGS = ("endpoint", "region", "profile", "path-style", "multipart-threshold", "part-size")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Error codes S3 services send for a refused credential, a throttled or failing service.
BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
                   "ExpiredToken", "TokenRefreshRequired", "AuthorizationHeaderMalformed"}
THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout",
             "RequestTimeTooSkewed", "ServiceUnavailable", "InternalError",
             "ConditionalRequestConflict", "OperationAborted"}
BAD_DIGEST = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"}


def check_url(url: str) -> None:
    """What `muse remote add` asks of the driver: UsageError for a URL it could never open."""
    parse_url(url)


def parse_url(url: str) -> tuple[str, str]:
    """`s3://bucket/a/b` → ("bucket", "a/b/"); UsageError for anything else."""
    refuse_credentials(url)  # before any message below could echo the secret
    rest = url[len("s3://"):] if url.lower().startswith("s3://") else None
    if rest is None:
        raise UsageError(f"not an S3 URL: {url}", hint="write it as s3://bucket/prefix")
    bucket, _, prefix = rest.partition("/")
    if not BUCKET_NAME.match(bucket):
        raise UsageError(f"invalid S3 bucket name {bucket!r} in {url}",
                         hint="bucket names are 3-63 lowercase letters, digits, dots and "
                         "hyphens: s3://bucket/prefix")
    parts = [p for p in prefix.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise UsageError(f"the prefix of {url} may not hold '.' or '..'")
    return bucket, "".join(f"{p}/" for p in parts)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _response(exc: BaseException) -> dict[str, Any]:
    found = getattr(exc, "response", None)
    return found if isinstance(found, dict) else {}


def _error_code(exc: BaseException) -> str:
    return str(_response(exc).get("Error", {}).get("Code", ""))


def _status(exc: BaseException) -> int:
    return int(_response(exc).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _precondition_failed(exc: BaseException) -> bool:
    return _status(exc) == 412 or _error_code(exc) == "PreconditionFailed"


def _retried(exc: BaseException) -> bool:
    """True when botocore sent the request more than once (an earlier try may have landed)."""
    return int(_response(exc).get("ResponseMetadata", {}).get("RetryAttempts") or 0) > 0


class ProbeVerdicts:
    """Buckets already found to enforce conditional writes, kept in the user's cache dir.

    Only a passing verdict is kept: a refused store is probed again next time, so
    fixing its configuration is enough. Losing the file costs one probe, no more.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls) -> ProbeVerdicts:
        override = os.environ.get("MUSE_CACHE_DIR")
        if override:
            base = Path(override)
        else:
            import platformdirs

            base = Path(platformdirs.user_cache_dir("muse"))
        return cls(base / "s3-conditional-writes.json")

    def _load(self) -> dict[str, str]:
        try:
            found = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def passed(self, where: str) -> bool:
        return self._load().get(where) == "enforced"

    def remember(self, where: str) -> None:
        known = self._load()
        known[where] = "enforced"
        with contextlib.suppress(OSError):  # a cache we cannot write only costs a probe
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, json.dumps(known, indent=1).encode("utf-8"))


@dataclass(frozen=True)
class _Part:
    number: int
    offset: int
    size: int


@dataclass(frozen=True)
class PresignedPart:
    """One part of an upload in parts: where it sits in the file, and the URL that takes it."""

    number: int
    offset: int
    size: int
    url: str
    etag: str | None  # the part the store holds already (the MD5 of its bytes), if any


@dataclass(frozen=True)
class PresignedUpload:
    upload_id: str
    parts: list[PresignedPart]


# Named here: inside S3Bucket, `list` is the primitive, not the builtin.
Parts = list[dict[str, Any]]
Plan = list[_Part]


class S3Bucket:
    """The `Bucket` primitives on S3: `If-None-Match: *`, `If-Match`, SHA-256 checksums."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", *, url: str | None = None,
                 endpoint: str = "", multipart_threshold: int = MULTIPART_THRESHOLD,
                 part_size: int = PART_SIZE, workers: int = PART_WORKERS,
                 page_size: int = 1000, verdicts: ProbeVerdicts | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.url = url or f"s3://{bucket}/{prefix}"
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.workers = workers
        self.page_size = page_size
        self._verdicts = verdicts if verdicts is not None else ProbeVerdicts.default()
        self._probe_name = f"{endpoint or 'aws'} {bucket}"
        self._probed = False
        # What open_bucket took from the environment: a repository records it (clone).
        self.recorded_settings: dict[str, str] = {}

    # -- reads ---------------------------------------------------------------------------

    def get(self, key: str) -> Versioned | None:
        try:
            with self._edge(key):
                found = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
                return Versioned(found["Body"].read(), found["ETag"])
        except _Missing:
            return None

    def list(self, prefix: str) -> Iterator[str]:
        return (found.key for found in self.list_info(prefix))

    def list_info(self, prefix: str) -> Iterator[KeyInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix,
            PaginationConfig={"PageSize": self.page_size})
        with self._edge(prefix):
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix):]
                    if not key.startswith(PROBE_PREFIX):
                        yield KeyInfo(key, int(item["Size"]),
                                      item["LastModified"].timestamp())

    @contextlib.contextmanager
    def open_range(self, key: str, start: int = 0,
                   length: int | None = None) -> Iterator[BinaryIO]:
        if length == 0:
            yield io.BytesIO(b"")
            return
        wanted = f"bytes={start}-" if length is None else f"bytes={start}-{start + length - 1}"
        try:
            with self._edge(key):
                found = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key,
                                               Range=wanted)
        except _PastTheEnd:
            yield io.BytesIO(b"")  # a range that starts at or past the end holds nothing
            return
        except _Missing:
            raise RemoteError(f"{self.url}{key} does not exist", code="remote-missing",
                              hint="the remote lost a file its refs rely on; restore it "
                              "from a backup or push again from a clone") from None
        body = found["Body"]
        try:
            with self._edge(key):
                yield cast(BinaryIO, body)
        finally:
            body.close()

    # -- writes --------------------------------------------------------------------------

    def put_if_absent(self, key: str, source: Path | bytes, *, sha256: str | None = None,
                      disposable: bool = False, progress: Progress | None = None) -> bool:
        self.ensure_conditional_writes()
        if isinstance(source, bytes):
            actual = hashlib.sha256(source).hexdigest()
            if sha256 is not None and sha256 != actual:
                raise self._mismatch(key, sha256)
            return self._put_single(key, source, bytes.fromhex(actual))
        size = source.stat().st_size
        if size > self.multipart_threshold:
            return self._put_multipart(key, source, size, sha256, progress)
        # The store checks the bytes against the digest: a caller's digest reaches it as is.
        digest = sha256 if sha256 is not None else _file_sha256(source)
        with open(source, "rb") as handle:
            body = handle if progress is None else counting_reader(handle, progress)
            return self._put_single(key, body, bytes.fromhex(digest))

    def _put_single(self, key: str, body: bytes | BinaryIO, digest: bytes) -> bool:
        try:
            with self._edge(key):
                self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body,
                                       IfNoneMatch="*", ChecksumSHA256=_b64(digest))
        except _Refused as refused:
            # After a retry the first try may be what holds the key: ours if its digest is.
            return _retried(refused.cause) and self._holds(key, _b64(digest))
        return True

    def _holds(self, key: str, checksum: str) -> bool:
        """Whether `key` holds the object whose S3 SHA-256 checksum is `checksum`."""
        try:
            with self._edge(key):
                head = self.client.head_object(Bucket=self.bucket, Key=self.prefix + key,
                                               ChecksumMode="ENABLED")
        except _Missing:
            return False
        return bool(head.get("ChecksumSHA256") == checksum)

    def put_if_match(self, key: str, data: bytes, tag: str | None) -> str | None:
        self.ensure_conditional_writes()
        condition = {"IfMatch": tag} if tag is not None else {"IfNoneMatch": "*"}
        try:
            with self._edge(key):
                stored = self.client.put_object(
                    Bucket=self.bucket, Key=self.prefix + key, Body=data,
                    ChecksumSHA256=_b64(hashlib.sha256(data).digest()), **condition)
                return str(stored["ETag"])
        except (_Refused, _Missing) as refused:
            # A retried swap may have landed on the first try: read back and compare.
            if isinstance(refused, _Refused) and _retried(refused.cause):
                current = self.get(key)
                if current is not None and current.data == data:
                    return current.tag
            return None

    def delete(self, key: str) -> None:
        with self._edge(key):
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    # -- multipart -----------------------------------------------------------------------

    def _put_multipart(self, key: str, source: Path, size: int, sha256: str | None,
                       progress: Progress | None = None) -> bool:
        full = self.prefix + key
        if self.exists(key):  # before sending gigabytes that would be refused at the end
            return False
        with self._edge(key):
            upload, done = self._resumable_upload(full, source, size)
        parts: Parts = []
        try:
            with self._edge(key):
                parts, whole = self._send_parts(full, upload, source, size, done, progress)
                # S3 keeps a per-part checksum only, so the whole file's digest is checked
                # here, while the parts travel, and before anything becomes visible.
                if sha256 is not None and whole != sha256:
                    raise self._mismatch(key, sha256)
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=full, UploadId=upload, IfNoneMatch="*",
                    MultipartUpload={"Parts": parts})
        except TransientRemoteError:
            raise  # the parts stay: a retry sends only the ones missing
        except _Refused as refused:
            self._abort(full, upload)
            return _retried(refused.cause) and self._holds_parts(key, parts)
        except MuseError:
            self._abort(full, upload)  # never leave an upload to bill the user
            # A pusher of the same bundle may have completed this very upload first.
            if parts and self._holds_parts(key, parts):
                return False
            raise
        except BaseException:
            self._abort(full, upload)
            raise
        return True

    def exists(self, key: str) -> bool:
        """Whether `key` holds an object (one HEAD request)."""
        return self.size_of(key) is not None

    def size_of(self, key: str) -> int | None:
        """The length of the object at `key`, or None when there is none (one HEAD)."""
        found = self.key_info(key)
        return None if found is None else found.size

    def key_info(self, key: str) -> KeyInfo | None:
        """What `list_info` says of `key` (length, LastModified), or None when there is no
        object there (one HEAD)."""
        try:
            with self._edge(key):
                head = self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except _Missing:
            return None
        return KeyInfo(key, int(head["ContentLength"]), head["LastModified"].timestamp())

    def copy(self, key: str, to: str) -> None:
        """A server-side copy of `key` to `to` (in parts above 5 GB: boto3's managed copy)."""
        with self._edge(key):
            self.client.copy({"Bucket": self.bucket, "Key": self.prefix + key}, self.bucket,
                             self.prefix + to)

    def _holds_parts(self, key: str, parts: Parts) -> bool:
        """Whether `key` is the object these parts make (S3's composite checksum)."""
        joined = b"".join(base64.b64decode(p["ChecksumSHA256"]) for p in parts)
        return self._holds(key, f"{_b64(hashlib.sha256(joined).digest())}-{len(parts)}")

    def _plan(self, size: int) -> Plan:
        return _split(size, self.part_size)

    def _resumable_upload(self, full: str, source: Path,
                          size: int) -> tuple[str, dict[int, str]]:
        """An upload in progress for `full` whose parts match `source` (reused), or a new one."""
        plan = {p.number: p for p in self._plan(size)}
        found = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=full)
        for upload in found.get("Uploads", []):
            if upload["Key"] != full:
                continue
            listed = self.client.list_parts(Bucket=self.bucket, Key=full,
                                            UploadId=upload["UploadId"])
            done = {}
            for part in listed.get("Parts", []):
                planned = plan.get(part["PartNumber"])
                # A part counts only if it holds these very bytes (its ETag is their MD5).
                if planned is not None and part["Size"] == planned.size and \
                        part["ETag"].strip('"') == _md5_of(source, planned):
                    done[planned.number] = part["ETag"]
            return upload["UploadId"], done
        created = self.client.create_multipart_upload(Bucket=self.bucket, Key=full,
                                                      ChecksumAlgorithm="SHA256")
        return str(created["UploadId"]), {}

    def _send_parts(self, full: str, upload: str, source: Path, size: int,
                    done: dict[int, str],
                    progress: Progress | None = None) -> tuple[Parts, str]:
        """Send every part not already `done`, in parallel; the parts and the file's sha256."""
        plan = self._plan(size)

        def send(part: _Part) -> dict[str, Any]:
            data = _read_part(source, part)
            checksum = _b64(hashlib.sha256(data).digest())
            etag = done.get(part.number)
            if etag is None:
                sent = self.client.upload_part(Bucket=self.bucket, Key=full, UploadId=upload,
                                               PartNumber=part.number, Body=data,
                                               ChecksumSHA256=checksum)
                etag = sent["ETag"]
            if progress is not None:
                progress(part.size)  # from the pool's threads: a counter's add is enough
            return {"PartNumber": part.number, "ETag": etag, "ChecksumSHA256": checksum}

        pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.workers)
        try:
            uploads = pool.map(send, plan)  # every part is under way from here
            whole = _file_sha256(source)  # hashing releases the GIL: it overlaps them
            return list(uploads), whole
        except BaseException:
            # Interrupted or failed: parts not yet started are dropped, not all sent first
            # (a `with` block would wait for every queued part before letting Ctrl-C out).
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)

    def _abort(self, full: str, upload: str) -> None:
        # Best effort: the failure being reported matters more than a failed abort.
        with contextlib.suppress(Exception):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload)

    # -- presigned URLs (the hub hands these to clients) ---------------------------------

    def presign_put(self, key: str, size: int, sha256: str,
                    expires: int) -> tuple[str, dict[str, str]]:
        """A URL for one PUT of exactly `size` bytes hashing to `sha256`, and its headers.

        Both are signed (SigV4 signs the headers it names): the store refuses a body of
        another length (the signature breaks) or another hash (BadDigest).
        """
        _check_expiry(expires)
        if size < 0 or not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise UsageError(f"cannot presign {key}: a size of {size} and a sha256 of "
                             f"{sha256[:80]!r}", hint="the sha256 is 64 lowercase hex digits")
        checksum = _b64(bytes.fromhex(sha256))
        url = self._presign("put_object", key, expires, ContentLength=size,
                            ChecksumSHA256=checksum)
        return url, {"Content-Length": str(size), "x-amz-checksum-sha256": checksum}

    def presign_get(self, key: str, expires: int) -> str:
        """A URL that downloads `key` (ranges allowed) until it expires."""
        _check_expiry(expires)
        return self._presign("get_object", key, expires)

    def presign_multipart(self, key: str, size: int, part_size: int,
                          expires: int) -> PresignedUpload:
        """An upload in parts of `key`: one presigned UploadPart URL per part, each bound to
        its length. Resumable: an upload already under way for `key` is reused, and the
        parts it holds are reported with their ETags (the MD5 of their bytes), so a
        client sends only the parts it cannot match."""
        _check_expiry(expires)
        plan = _plan_parts(size, part_size)
        full = self.prefix + key
        with self._edge(key):
            upload = self.upload_under_way(key)
            held: dict[int, dict[str, Any]] = {}
            if upload is None:
                upload = str(self.client.create_multipart_upload(
                    Bucket=self.bucket, Key=full)["UploadId"])
            else:
                held = {int(p["PartNumber"]): p for p in self._parts_of(full, upload)}
        parts = []
        for part in plan:
            there = held.get(part.number)
            etag = str(there["ETag"]).strip('"') if there is not None and \
                int(there["Size"]) == part.size else None
            url = self._presign("upload_part", key, expires, UploadId=upload,
                                PartNumber=part.number, ContentLength=part.size)
            parts.append(PresignedPart(part.number, part.offset, part.size, url, etag))
        return PresignedUpload(upload, parts)

    def complete_multipart(self, key: str, upload_id: str, size: int | None = None) -> bool:
        """Join the parts uploaded so far (create-only); False when `key` exists already.

        With `size`, an upload whose parts do not add up to it is refused (and kept, so the
        missing parts can still be sent). The parts' bytes are not checked against the
        whole's sha256 here: S3 keeps per-part checksums only, so whoever completes must
        verify the object before trusting it (the hub's confirm does, before indexing).
        """
        full = self.prefix + key
        with self._edge(key):
            listed = self._parts_of(full, upload_id)
        total = sum(int(p["Size"]) for p in listed)
        numbers = [int(p["PartNumber"]) for p in listed]
        if not listed or numbers != list(range(1, len(listed) + 1)) or \
                (size is not None and total != size):
            raise RemoteError(f"the upload of {self.url}{key} is incomplete: parts "
                              f"{_ranges(numbers) or 'none'} hold {total} bytes"
                              + ("" if size is None else f" of {size}"),
                              code="upload-incomplete",
                              hint="upload the missing parts, then complete it again")
        parts = [{"PartNumber": int(p["PartNumber"]), "ETag": p["ETag"]} for p in listed]
        try:
            with self._edge(key):
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=full, UploadId=upload_id, IfNoneMatch="*",
                    MultipartUpload={"Parts": parts})
        except _Refused:
            self._abort(full, upload_id)  # the key holds its object already: drop the parts
            return False
        return True

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an upload in parts and every part it holds (an unknown upload is no error)."""
        try:
            with self._edge(key):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.prefix + key,
                                                   UploadId=upload_id)
        except _Missing:
            pass

    def _presign(self, operation: str, key: str, expires: int, **params: Any) -> str:
        signing = getattr(self.client.meta.config, "signature_version", None)
        if signing not in ("s3v4", "v4"):
            # SigV2 signs neither the length nor the checksum header: such a URL would
            # take any body. make_client always signs with SigV4.
            raise ConfigError(f"presigned URLs for {self.url} need SigV4 signing, not "
                              f"{signing or 'the default'}",
                              hint="make the S3 client with Config(signature_version='s3v4')")
        with self._edge(key):
            return str(self.client.generate_presigned_url(
                operation, ExpiresIn=expires,
                Params={"Bucket": self.bucket, "Key": self.prefix + key, **params}))

    def upload_under_way(self, key: str) -> str | None:
        """The newest upload in parts still open for exactly `key`, if any."""
        full = self.prefix + key
        with self._edge(key):
            found = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=full)
        mine = [u for u in found.get("Uploads", []) if u["Key"] == full]
        mine.sort(key=lambda u: u.get("Initiated") or 0)
        return str(mine[-1]["UploadId"]) if mine else None

    def _parts_of(self, full: str, upload_id: str) -> Parts:
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=full, UploadId=upload_id)
        return sorted((p for page in pages for p in page.get("Parts", [])),
                      key=lambda p: int(p["PartNumber"]))

    # -- the conditional-write probe -----------------------------------------------------

    def ensure_conditional_writes(self) -> None:
        """Refuse a store that ignores `If-None-Match` / `If-Match` (once per bucket)."""
        if self._probed or self._verdicts.passed(self._probe_name):
            self._probed = True
            return
        missing = self._probe()
        if missing is not None:
            raise RemoteError(
                f"{self.url} does not enforce {missing}; Muse will not use it (concurrent "
                "pushes could lose commits)", code="unsafe-remote",
                hint="use an S3 service with conditional writes (AWS S3, Cloudflare R2, "
                "MinIO, SeaweedFS), or a newer version of this one")
        self._probed = True
        self._verdicts.remember(self._probe_name)

    def _probe(self) -> str | None:
        """The conditional write this store ignores, or None when it enforces both."""
        key = f"{self.prefix}{PROBE_PREFIX}{uuid.uuid4().hex}"
        try:
            with self._edge(key):
                first = self.client.put_object(Bucket=self.bucket, Key=key, Body=b"one",
                                               IfNoneMatch="*")
            if self._accepts(key, b"two", IfNoneMatch="*"):
                return "If-None-Match: * (create-only writes)"
            if not self._accepts(key, b"three", IfMatch=first["ETag"]):
                return "If-Match (it refused a current ETag)"
            if self._accepts(key, b"four", IfMatch=first["ETag"]):
                return "If-Match (compare-and-swap writes)"
            return None
        finally:
            with contextlib.suppress(MuseError), self._edge(key):
                self.client.delete_object(Bucket=self.bucket, Key=key)

    def _accepts(self, key: str, body: bytes, **condition: str) -> bool:
        try:
            with self._edge(key):
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, **condition)
        except _Refused:
            return False
        return True

    # -- errors --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _edge(self, key: str) -> Iterator[None]:
        """Translate botocore's exceptions into the Muse error tree (and 404/412 signals)."""
        try:
            yield
        except (MuseError, _Signal):
            raise
        except Exception as exc:
            # botocore's timeouts, proxy and TLS errors are also OSErrors: translated
            # first, so only a local one (reading the bundle) goes on as an OSError.
            signal = _signal_of(exc)
            if signal is not None:
                raise signal from None
            translated = translate(exc, f"{self.url.rstrip('/')}/{key}", self.bucket)
            if translated is None:
                raise
            raise translated from None

    def _mismatch(self, key: str, sha256: str) -> RemoteError:
        return RemoteError(f"upload to {self.url}{key} does not match its sha256 {sha256}; "
                           "nothing was stored", code="checksum-mismatch")


class _Signal(Exception):
    """An expected answer (absent key, failed precondition) the primitives turn into values."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Missing(_Signal):
    pass


class _Refused(_Signal):
    pass


class _PastTheEnd(_Signal):
    pass


def _signal_of(exc: BaseException) -> _Signal | None:
    code = _error_code(exc)
    if _precondition_failed(exc):
        return _Refused(exc)
    if code in ("NoSuchKey", "NotFound") or (_status(exc) == 404 and code in ("404", "")):
        return _Missing(exc)
    if code == "InvalidRange" or _status(exc) == 416:
        return _PastTheEnd(exc)
    return None


def translate(exc: BaseException, where: str, bucket: str) -> MuseError | None:
    """The Muse error for a botocore exception; None when `exc` is not one."""
    from botocore import exceptions as bc

    if isinstance(exc, bc.NoCredentialsError | bc.PartialCredentialsError):
        return ConfigError(f"no S3 credentials for {where}: {exc}",
                           hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
                           "or the remote's `profile` setting")
    if isinstance(exc, bc.ProfileNotFound):
        return ConfigError(str(exc), hint="check AWS_PROFILE or the remote's `profile` setting")
    if isinstance(exc, bc.SSLError):
        # Retrying cannot make a certificate trusted, nor a plain-HTTP port speak TLS.
        return RemoteError(f"TLS with the S3 endpoint failed for {where}: {exc}",
                           hint="check the endpoint's scheme (http:// or https://); for a "
                           "certificate from a private authority, set AWS_CA_BUNDLE")
    if isinstance(exc, bc.ConnectTimeoutError | bc.ReadTimeoutError):
        return TransientRemoteError(f"S3 did not answer in time for {where}: {exc}",
                                    hint="check the network and the endpoint; raise "
                                    "remote.NAME.timeout on a slow link; run it again (a "
                                    "retry resumes)")
    if isinstance(exc, bc.EndpointConnectionError | bc.ConnectionClosedError
                  | bc.ConnectionError | bc.ProxyConnectionError | bc.HTTPClientError):
        return TransientRemoteError(f"cannot reach S3 for {where}: {exc}",
                                    hint="check the network and the endpoint; "
                                    "run it again (a retry resumes)")
    if not isinstance(exc, bc.ClientError):
        return None
    code, status = _error_code(exc), _status(exc)
    message = _response(exc).get("Error", {}).get("Message") or code
    if code == "NoSuchBucket":
        return RemoteError(f"the S3 bucket {bucket!r} does not exist ({where})",
                           code="remote-not-found",
                           hint="create it first, or check the URL and the endpoint")
    if code in BAD_CREDENTIALS:
        return RemoteError(f"S3 refused the credentials for {where}: {message}",
                           code="remote-auth", hint="check AWS_ACCESS_KEY_ID / "
                           "AWS_SECRET_ACCESS_KEY, the profile and the endpoint's region")
    if code == "AccessDenied" or status == 403:
        return RemoteError(f"access denied to {where}", code="remote-auth",
                           hint="these credentials lack permission on that bucket or prefix")
    if code in BAD_DIGEST:
        return RemoteError(f"S3 refused the upload to {where}: its bytes do not match their "
                           "checksum; nothing was stored", code="checksum-mismatch")
    if code in THROTTLED or status >= 500 or status == 429:
        return TransientRemoteError(f"S3 is unavailable for {where}: {message}",
                                    hint="run it again in a moment (a retry resumes)")
    return RemoteError(f"S3 error for {where}: {code or status}: {message}")


def _check_expiry(expires: int) -> None:
    if not 1 <= expires <= MAX_PRESIGN_SECONDS:
        raise UsageError(f"a presigned URL lasts 1 to {MAX_PRESIGN_SECONDS} seconds, "
                         f"not {expires}", hint="SigV4 allows at most seven days")


def _plan_parts(size: int, part_size: int) -> Plan:
    """The parts of a `size`-byte upload; UsageError when S3 would refuse them."""
    if part_size < MIN_PART_SIZE:
        raise UsageError(f"a part of {part_size} bytes is below S3's smallest, {MIN_PART_SIZE}")
    count = -(-size // part_size)
    if size <= 0 or count > MAX_PARTS:
        raise UsageError(f"cannot upload {size} bytes in parts of {part_size}",
                         hint=f"S3 takes 1 to {MAX_PARTS} parts: use larger parts")
    return _split(size, part_size)


def _split(size: int, part_size: int) -> Plan:
    return [_Part(n + 1, offset, min(part_size, size - offset))
            for n, offset in enumerate(range(0, size, part_size))]


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] → "1-3, 5" (for a message about which parts are there)."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def _read_part(source: Path, part: _Part) -> bytes:
    with open(source, "rb") as handle:
        handle.seek(part.offset)
        return handle.read(part.size)


def _md5_of(source: Path, part: _Part) -> str:
    return hashlib.md5(_read_part(source, part), usedforsecurity=False).hexdigest()


# -- opening ------------------------------------------------------------------------------

def _flag(settings: dict[str, str], name: str) -> bool:
    value = settings.get(name, "").strip().lower()
    flag = boolean(value) if value else False  # unset (or empty): off
    if flag is not None:
        return flag
    raise ConfigError(f"remote setting {name!r} must be true or false, not {value!r}")


def _size(settings: dict[str, str], name: str, default: int) -> int:
    value = settings.get(name)
    if value is None:
        return default
    try:
        parsed = int(value)
    except ValueError:
        parsed = 0
    if parsed < 5 * MiB:
        raise ConfigError(f"remote setting {name!r} must be a byte count of at least "
                          f"{5 * MiB} (S3's smallest part), not {value!r}")
    return parsed


ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
DEFAULT_REGION = "us-east-1"  # what a client signs for when nothing names a region


def endpoint_of(settings: dict[str, str]) -> str:
    """The remote's `endpoint` setting, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL.

    One holding credentials (`http://user:secret@host`) is refused, shown as `***`,
    since an endpoint goes into the config, the probe cache and many messages.
    """
    if settings.get("endpoint"):
        refuse_credentials(settings["endpoint"], what="the S3 endpoint")
        return settings["endpoint"]
    for variable in ENDPOINT_VARIABLES:
        found = os.environ.get(variable)
        if found:
            refuse_credentials(found, what=f"the S3 endpoint in {variable}")
            return found
    return ""


def make_client(options: RemoteOptions) -> Any:
    """A boto3 S3 client: the standard credential chain and profiles, endpoint, region."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise RemoteError("the S3 remote needs boto3",
                          hint="install it with `pip install 'muse-vcs[s3]'`") from None
    from botocore import exceptions as bc

    settings = dict(options.settings)
    endpoint = endpoint_of(settings)
    # SigV4 everywhere: a presigned URL must sign its Content-Length and checksum headers.
    # No payload hash in the signature: every body that matters carries a signed
    # x-amz-checksum-sha256 the store checks, which is what botocore relies on over
    # HTTPS; over plain HTTP it would otherwise hash each body once more for nothing.
    # botocore sends each request `request_attempts` times in all: once under connect(),
    # whose RetryingRemote is Muse's one retry policy. (Its own `max_attempts` counts
    # retries, not attempts; `total_max_attempts` also wins over AWS_MAX_ATTEMPTS.)
    config = Config(connect_timeout=options.timeout, read_timeout=options.timeout,
                    signature_version="s3v4",
                    retries={"mode": "standard",
                             "total_max_attempts": max(1, options.request_attempts)},
                    max_pool_connections=max(10, PART_WORKERS * 2),
                    s3={"addressing_style": "path" if _flag(settings, "path-style")
                        else "auto", "payload_signing_enabled": False})
    try:
        session = boto3.session.Session(profile_name=settings.get("profile") or None)
        client = session.client("s3", endpoint_url=endpoint or None, config=config,
                                region_name=settings.get("region") or session.region_name
                                or DEFAULT_REGION)
    except bc.ProfileNotFound as exc:
        raise ConfigError(str(exc), hint="check AWS_PROFILE or the remote's `profile` "
                          "setting") from None
    except ValueError as exc:  # botocore's word for a malformed endpoint URL
        raise ConfigError(f"bad S3 endpoint {endpoint!r}: {exc}",
                          hint="write it as http(s)://host[:port]") from None
    client.meta.events.register("before-send.s3", send_small_bodies_at_once)
    return client


SMALL_BODY = 1 * MiB


def send_small_bodies_at_once(request: Any, **_: Any) -> None:
    """No `Expect: 100-continue` on a small upload (an index, the refs document).

    Waiting for the server's go-ahead costs a round trip; for a pack it is worth it
    (a refused upload never sends its body), for a small body it saves nothing. The
    header is not signed, so it can go after signing.
    """
    length = request.headers.get("Content-Length")
    if request.headers.get("Expect") and length is not None and int(length) < SMALL_BODY:
        del request.headers["Expect"]


def open_bucket(url: str, options: RemoteOptions, client: Any = None) -> S3Bucket:
    """The bucket named by `url`, with a client made from `options` unless one is given."""
    bucket, prefix = parse_url(url)
    settings = dict(options.settings)
    client = client if client is not None else make_client(options)
    opened = S3Bucket(client, bucket, prefix, url=url, endpoint=endpoint_of(settings),
                      multipart_threshold=_size(settings, "multipart-threshold",
                                                MULTIPART_THRESHOLD),
                      part_size=_size(settings, "part-size", PART_SIZE))
    opened.recorded_settings = environment_settings(settings, client)
    return opened


def environment_settings(settings: dict[str, str], client: Any) -> dict[str, str]:
    """What this shell's environment adds to the remote's `settings` to reach its bucket:
    an endpoint from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, a region from AWS_REGION,
    AWS_DEFAULT_REGION or the profile. A clone records them, so that its `origin` opens
    the same bucket on the same service from any shell. (Credentials are the user's,
    never the remote's: they are not recorded.)"""
    found: dict[str, str] = {}
    if not settings.get("endpoint"):
        endpoint = endpoint_of(settings)
        if endpoint:
            found["endpoint"] = endpoint
    region = getattr(getattr(client, "meta", None), "region_name", None)
    if not settings.get("region") and isinstance(region, str) and region != DEFAULT_REGION:
        found["region"] = region
    return found


def open_remote(url: str, options: RemoteOptions | None = None) -> Remote:
    """The driver for `s3://bucket/prefix`: the shared bucket algorithm over S3."""
    from remotes.bucket import BucketRemote  # the algorithm; imported only when S3 is used

    return BucketRemote(open_bucket(url, options or RemoteOptions()), url=url)
