"""Bundle format v1: one self-describing, verifiable file of history (docs/bundle-format.md).

    magic "MUSEBNDL" | u16 version
    H frame   header: capabilities, prerequisites, refs, counts
    O + D…    each object: id and size, then its bytes in data frames
    S…        snapshots (canonical encodings)
    C…        commits, parents before children
    G…        tag objects (only with the capability "tags")
    T frame   frame count + sha256 of every byte before the trailer

The writer streams from the store; the reader streams from any file object,
verifies each item before yielding it, and holds at most one frame in memory.
"""

from __future__ import annotations

import hashlib
import os
import queue
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import msgpack

from .bundle_snapshots import SnapshotChecker
from .errors import BundleError, CorruptObjectError, MuseError, UsageError
from .frames import (
    DATA_CHUNK,
    HEADER,
    HEADER_SIZE,
    KIND_COMMIT,
    KIND_DATA,
    KIND_HEADER,
    KIND_OBJECT,
    KIND_SNAPSHOT,
    KIND_TAG,
    KIND_TRAILER,
    MAX_FRAME_PAYLOAD,
    encode_header,
)
from .graph import CommitGraph, reachability_delta
from .interrupts import deferred_interrupts
from .keys import fingerprint, signature_status
from .objects import (
    MAX_TAG_DEPTH,
    Commit,
    DecodingLimit,
    Snapshot,
    Tag,
    array_budget,
    canonical_pack,
    decode_commit,
    decode_snapshot,
    decode_tag,
    folder_clash,
    hash_bytes,
    id_from_bytes,
)
from .policy import ANY, DEFAULT_POLICY, SIGNED, ReceivePolicy
from .refs import TAGS as TAG_REFS
from .refs import check_transferable_ref
from .storage import BLOB, COMMIT, SNAPSHOT, TAG, ObjectIndex, ObjectSource, PackEntry, Store
from .tags import chain, peel_all
from .units import counted

MAGIC = b"MUSEBNDL"
VERSION = 1
PREAMBLE = MAGIC + struct.pack(">H", VERSION)
OBJECT_START = struct.Struct(">32sQ")
TRAILER = struct.Struct(">Q32s")
TAGS_CAPABILITY = "tags"  # the bundle has a tag section: an older reader must refuse it
KNOWN_CAPABILITIES = frozenset({"sha256", TAGS_CAPABILITY})
MAX_COUNT = 1 << 32          # objects, snapshots or commits in one bundle
MAX_OBJECT_BYTES = (1 << 63) - 1
MAX_REFS = 1 << 20
# The header is decoded whole, and decoding costs up to ~50 bytes of memory per
# byte of input: its own limit, far below the frame's, keeps that to a few frames.
MAX_HEADER_BYTES = 2 << 20
MAX_HEADER_CONTAINERS = 64  # arrays other than refs, and maps, in one header
MAX_HEADER_TEXT = 4096      # bytes in one string (a ref name, a capability)
PLAN_CACHE_BYTES = 32 << 20  # snapshot and commit encodings a plan keeps for writing
WRITE_BATCH = 4 << 20  # bytes handed to the writer thread at once
WRITE_QUEUE = 4        # batches in flight: bounds the writer's memory
_IOV_MAX = 512         # pieces per writev (POSIX guarantees at least 16; Linux allows 1024)

Progress = Callable[[int], None]


@dataclass(frozen=True)
class BundleHeader:
    refs: dict[str, str]
    prerequisites: list[str]
    mandatory: list[str] = field(default_factory=lambda: ["sha256"])
    optional: list[str] = field(default_factory=list)
    objects: int = 0
    object_bytes: int = 0
    snapshots: int = 0
    commits: int = 0
    tags: int = 0

    def encode(self) -> bytes:
        encoded = self._encode()
        if len(encoded) > MAX_HEADER_BYTES:
            raise UsageError(f"too many refs for one bundle: its header would exceed "
                             f"{MAX_HEADER_BYTES} bytes", hint="bundle fewer refs at a time")
        return encoded

    def _encode(self) -> bytes:
        counts = {
            "objects": self.objects,
            "object_bytes": self.object_bytes,
            "snapshots": self.snapshots,
            "commits": self.commits,
        }
        mandatory = list(self.mandatory)
        if self.tags:
            # Only a bundle with tags says so: every other bundle stays byte for byte
            # what an older Muse writes and reads.
            counts["tags"] = self.tags
            if TAGS_CAPABILITY not in mandatory:
                mandatory.append(TAGS_CAPABILITY)
        return canonical_pack(
            {
                "capabilities": {"mandatory": mandatory, "optional": self.optional},
                "prerequisites": [bytes.fromhex(p) for p in self.prerequisites],
                "refs": [[name, bytes.fromhex(oid)] for name, oid in sorted(self.refs.items())],
                "counts": counts,
            },
        )


@dataclass(frozen=True)
class BundleSummary:
    """What a bundle held, as the writer wrote it or the reader verified it."""

    bundle_id: str
    header: BundleHeader
    size: int
    commits: list[str]
    signatures_good: int
    unsigned: int
    entries_outside: int  # distinct objects snapshots name that the bundle leaves out
    # As the writer wrote them: every item's offset, size and kind (a pack index's rows).
    entries: tuple[PackEntry, ...] = ()


# -- writing -------------------------------------------------------------------


class _HashingWriter:
    """Hashes and writes the bundle's bytes on a worker thread, in order.

    sha256 and file writes release the GIL, so while the worker seals and writes
    one batch the caller reads and re-hashes the next objects: two cores, one
    stream. The queue is bounded, so memory stays at a few batches. Every queue
    and thread call of the caller's runs with Ctrl-C deferred (`muse.interrupts`):
    an interrupt landing inside one would leave the queue's lock held, and both
    threads waiting on it for ever.
    """

    def __init__(self, out: BinaryIO, progress: Progress | None) -> None:
        self.out = out
        self.hasher = hashlib.sha256()
        self.size = 0
        self.frames = 0
        self.progress = progress
        self._batch: list[bytes | memoryview] = []
        self._batch_bytes = 0
        self._queue: queue.Queue[list[bytes | memoryview] | None] = queue.Queue(WRITE_QUEUE)
        self._error: BaseException | None = None
        self._discarding = False  # set when the bundle is abandoned: stop writing at once
        self._fd = _raw_fd(out)
        self._worker = threading.Thread(target=self._drain, name="bundle-writer", daemon=True)
        with deferred_interrupts():
            self._worker.start()

    def _drain(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                if self._error is None and not self._discarding:
                    for piece in batch:
                        self.hasher.update(piece)
                    self._write_batch(batch)
            except BaseException as exc:  # handed to the caller at its next flush
                self._error = exc
            finally:
                self._queue.task_done()

    def _write_batch(self, batch: list[bytes | memoryview]) -> None:
        """One gathered write per batch, not a syscall per frame (small objects, small frames)."""
        if self._fd is None:
            self.out.write(b"".join(batch))
        else:
            write_gathered(self._fd, batch)

    def write(self, data: bytes | memoryview) -> None:
        self._batch.append(data)
        self._batch_bytes += len(data)
        self.size += len(data)
        if self.progress is not None:
            self.progress(len(data))
        if self._batch_bytes >= WRITE_BATCH:
            self._hand_over()

    def frame(self, kind: int, payload: bytes | memoryview) -> None:
        self.write(encode_header(kind, len(payload)))
        self.write(payload)
        self.frames += 1

    def _hand_over(self) -> None:
        if self._error is not None:
            raise self._error
        if self._batch:
            with deferred_interrupts():
                self._queue.put(self._batch)
            self._batch = []
            self._batch_bytes = 0

    def digest(self) -> bytes:
        """sha256 of everything written so far, once the worker has caught up."""
        self._hand_over()
        with deferred_interrupts():
            self._queue.join()
        if self._error is not None:
            raise self._error
        return self.hasher.digest()

    def close(self, *, discard: bool = False) -> None:
        """Stop the worker; after this nothing more touches `out`. With `discard` (the
        bundle is abandoned), batches still queued are dropped, not written."""
        self._discarding = self._discarding or discard
        with deferred_interrupts():
            self._queue.put(None)
            self._worker.join()


def _raw_fd(out: BinaryIO) -> int | None:
    """The descriptor behind `out` (flushed), for gathered writes; None for in-memory files."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None
    out.flush()
    return fd


def write_gathered(fd: int, pieces: list[bytes | memoryview]) -> None:
    """os.writev every piece in order, resuming after short writes (pipes give those)."""
    pending = [p for p in pieces if len(p)]
    start = 0
    while start < len(pending):
        written = os.writev(fd, pending[start : start + _IOV_MAX])
        if written <= 0:
            raise OSError("write made no progress")
        while written:
            size = len(pending[start])
            if written >= size:
                written -= size
                start += 1
            else:
                pending[start] = memoryview(pending[start])[written:]
                written = 0


@dataclass(frozen=True)
class BundlePlan:
    """What a bundle will carry: computed from refs before anything is written."""

    refs: dict[str, str]
    commits: list[str]
    prerequisites: list[str]
    snapshots: list[str]
    objects: list[tuple[str, int]]
    signed: int  # how many of `commits` carry a signature (the summary reports it)
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)  # of each commit
    # Verified encodings of snapshots and commits read while planning, kept (up to
    # PLAN_CACHE_BYTES) so writing does not read and hash them a second time.
    encodings: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)
    # Tag objects the included refs lead to, whole chains, each after the tag it names.
    tags: list[str] = field(default_factory=list)
    tag_targets: dict[str, str] = field(default_factory=dict)  # each one's target

    @property
    def empty(self) -> bool:
        return not self.commits and not self.tags

    @property
    def object_bytes(self) -> int:
        return sum(size for _, size in self.objects)


def plan_bundle(graph: CommitGraph[Store], refs: dict[str, str], include: Iterable[str],
                exclude: Iterable[str]) -> BundlePlan:
    """The reachability delta: commits, snapshots and objects `exclude` lacks to have `include`.

    `graph` walks a store that can also give the snapshots' bytes (any `Store`).
    """
    store = graph.source
    for name in refs:
        check_transferable_ref(name)
    include = list(include)
    # A tag object travels whenever a ref it is named by does; the walk starts at its commit.
    tags, targets, tagged = carried_tags(store, include)
    delta = reachability_delta(graph, peel_all(store, include), peel_all(store, exclude))
    in_bundle = set(delta.commits)
    prerequisites = sorted({p for c in delta.commits for p in graph.commit(c).parents
                            if p not in in_bundle}
                           # A tag whose commit the receiver has builds on that commit.
                           | {t for t in tagged if t not in in_bundle})
    # Only objects in the prerequisites' snapshots may be left out: a receiver is
    # promised nothing else, so a bundle never relies on other excluded commits.
    sizes: dict[bytes, int] = {}  # raw id → size; KNOWN for what the receiver has
    for oid in prerequisites:
        for row in stored_rows(store, graph.commit(oid).snapshot)[1]:
            sizes[row[1]] = _KNOWN
    snapshots: list[str] = []
    seen_snapshots: set[str] = set()
    encodings: dict[str, bytes] = {}
    budget = PLAN_CACHE_BYTES
    for oid in delta.commits:
        # A decoded commit re-encodes to its stored bytes: decoding is canonical-only.
        encoding = graph.commit(oid).encode()
        if budget >= len(encoding):
            encodings[oid] = encoding
            budget -= len(encoding)
        snap_id = graph.commit(oid).snapshot
        if snap_id in seen_snapshots:
            continue
        seen_snapshots.add(snap_id)
        snapshots.append(snap_id)
        data, rows = stored_rows(store, snap_id)
        if budget >= len(data):
            encodings[snap_id] = data
            budget -= len(data)
        for _path, raw_id, size, _exec in rows:
            if raw_id not in sizes:
                sizes[raw_id] = size
    objects = [(raw_id.hex(), size) for raw_id, size in sizes.items() if size != _KNOWN]
    signed = sum(graph.commit(oid).is_signed for oid in delta.commits)
    parents = {oid: graph.commit(oid).parents for oid in delta.commits}
    return BundlePlan(dict(refs), delta.commits, prerequisites, snapshots, objects, signed,
                      parents, encodings, tags, targets)


_KNOWN = -1


def carried_tags(store: Store, include: Iterable[str]) -> tuple[list[str], dict[str, str],
                                                                set[str]]:
    """The tag objects `include` leads to: every tag of every chain, each after the tag it
    names (the order a streaming reader checks); each one's target; the commits tagged.

    A whole chain always travels, even when the receiver holds part of it: tag objects
    are small, and a bundle then never relies on a receiver's tags.
    """
    order: list[str] = []
    targets: dict[str, str] = {}
    commits: set[str] = set()
    for oid in dict.fromkeys(include):
        for tag_id, tag in reversed(chain(store, oid)):  # innermost first
            if tag_id not in targets:
                order.append(tag_id)
                targets[tag_id] = tag.target
                if tag.target_kind == COMMIT:
                    commits.add(tag.target)
    return order, targets, commits


def stored_rows(store: ObjectSource, snap_id: str) -> tuple[bytes, list[list[Any]]]:
    """A stored snapshot's rows `[path, raw id, size, executable]`, without a strict decode.

    The store re-hashes the bytes to their id, and every snapshot was validated
    when it entered the store, so planning only needs the rows; re-validating
    every path was most of the time `bundle create` took. Anything odd falls
    back to the strict decoder, which says what is wrong.
    """
    data = store.read(snap_id)
    try:
        value = msgpack.unpackb(data, raw=True)
        if value[0] == b"snapshot" and isinstance(value[2], list):
            rows: list[list[Any]] = value[2]
            return data, rows
    except Exception:  # a damaged encoding: let the strict decoder report it
        pass
    return data, [[e.path, bytes.fromhex(e.oid), e.size, e.executable]
                  for e in decode_snapshot(data).entries]


def write_bundle(store: ObjectSource, plan: BundlePlan, out: BinaryIO, *,
                 progress: Progress | None = None, verify_objects: bool = True) -> BundleSummary:
    """Stream `plan` into `out` as one bundle, re-hashing every object as it is read.

    `verify_objects=False` skips that re-hash, for a receiver known to re-hash
    every object itself and refuse the bundle on a mismatch (a verifying remote).
    """
    if plan.empty:
        raise UsageError("refusing to create an empty bundle: the receiver has everything",
                         hint="check the revision range (e.g. v1..main) or use --all")
    header = BundleHeader(
        refs=plan.refs, prerequisites=plan.prerequisites, objects=len(plan.objects),
        object_bytes=plan.object_bytes, snapshots=len(plan.snapshots), commits=len(plan.commits),
        tags=len(plan.tags),
    )
    w = _HashingWriter(out, progress)
    entries: list[PackEntry] = []
    try:
        w.write(PREAMBLE)
        w.frame(KIND_HEADER, header.encode())
        for oid, size in plan.objects:
            # An object's offset is its first data frame's, as the reader reports it.
            entries.append(PackEntry(oid, w.size + HEADER_SIZE + OBJECT_START.size, size, BLOB))
            _write_object(store, w, oid, size, verify_objects)
        for kind, frame_kind, ids in ((SNAPSHOT, KIND_SNAPSHOT, plan.snapshots),
                                      (COMMIT, KIND_COMMIT, plan.commits),
                                      (TAG, KIND_TAG, plan.tags)):
            for oid in ids:
                encoding = plan.encodings.get(oid) or store.read(oid)
                entries.append(PackEntry(oid, w.size, len(encoding), kind))
                w.frame(frame_kind, encoding)
        w.frame(KIND_TRAILER, TRAILER.pack(w.frames, w.digest()))
        bundle_id = w.digest().hex()
    except BaseException:
        w.close(discard=True)  # interrupted or failed: what is queued need not reach `out`
        raise
    w.close()
    return BundleSummary(bundle_id, header, w.size, plan.commits, plan.signed,
                         len(plan.commits) - plan.signed, 0, tuple(entries))


def write_items(read: Callable[[PackEntry], Iterable[bytes]], items: Sequence[PackEntry],
                prerequisites: Iterable[str], out: BinaryIO) -> BundleSummary:
    """A pack of exactly `items`, in bundle framing with no refs: blobs, then snapshots,
    then commits, each in the given order, each re-hashed as `read` yields its bytes.

    What a receiver keeps of a bundle whose other items it already stores; such a
    pack is read through its index and is not a bundle to hand to anyone else (its
    snapshots may name objects it leaves out).
    """
    blobs = [e for e in items if e.kind == BLOB]
    records = [e for kind in (SNAPSHOT, COMMIT, TAG) for e in items if e.kind == kind]
    header = BundleHeader(refs={}, prerequisites=sorted(set(prerequisites)),
                          objects=len(blobs), object_bytes=sum(e.size for e in blobs),
                          snapshots=sum(e.kind == SNAPSHOT for e in records),
                          commits=sum(e.kind == COMMIT for e in records),
                          tags=sum(e.kind == TAG for e in records))
    w = _HashingWriter(out, None)
    entries: list[PackEntry] = []
    try:
        w.write(PREAMBLE)
        w.frame(KIND_HEADER, header.encode())
        for e in blobs:
            entries.append(PackEntry(e.oid, w.size + HEADER_SIZE + OBJECT_START.size, e.size,
                                     BLOB))
            w.frame(KIND_OBJECT, OBJECT_START.pack(bytes.fromhex(e.oid), e.size))
            hasher = hashlib.sha256()
            written = 0
            for chunk in read(e):
                hasher.update(chunk)
                view = memoryview(chunk)
                for start in range(0, len(view), DATA_CHUNK):
                    w.frame(KIND_DATA, view[start : start + DATA_CHUNK])
                written += len(chunk)
            if written != e.size or hasher.hexdigest() != e.oid:
                raise CorruptObjectError(f"object {e.oid} changed on disk while being copied")
        for e in records:
            data = b"".join(read(e))
            if hashlib.sha256(data).hexdigest() != e.oid:
                raise CorruptObjectError(f"{e.kind} {e.oid} changed on disk while being copied")
            entries.append(PackEntry(e.oid, w.size, len(data), e.kind))
            w.frame(_RECORD_FRAMES[e.kind], data)
        w.frame(KIND_TRAILER, TRAILER.pack(w.frames, w.digest()))
        pack_id = w.digest().hex()
    finally:
        w.close()
    commits = [e.oid for e in records if e.kind == COMMIT]
    return BundleSummary(pack_id, header, w.size, commits, 0, 0, 0, tuple(entries))


_RECORD_FRAMES = {SNAPSHOT: KIND_SNAPSHOT, COMMIT: KIND_COMMIT, TAG: KIND_TAG}


def _write_object(store: ObjectSource, w: _HashingWriter, oid: str, size: int,
                  verify: bool) -> None:
    w.frame(KIND_OBJECT, OBJECT_START.pack(bytes.fromhex(oid), size))
    written = 0
    for chunk in store.iter_chunks(oid, verify=verify):
        view = memoryview(chunk)
        for start in range(0, len(view), DATA_CHUNK):
            piece = view[start : start + DATA_CHUNK]
            w.frame(KIND_DATA, piece)
            written += len(piece)
    if written != size:
        raise CorruptObjectError(f"object {oid} is {written} bytes but its snapshot says {size}")


# -- reading -------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedObject:
    oid: str
    size: int
    offset: int  # of its first data frame


@dataclass(frozen=True)
class VerifiedSnapshot:
    oid: str
    size: int
    offset: int  # of its frame
    encoding: bytes = field(repr=False)

    @property
    def snapshot(self) -> Snapshot:
        """The decoded snapshot (decoded on demand: the reader checks rows without it)."""
        return decode_snapshot(self.encoding)


@dataclass(frozen=True)
class VerifiedCommit:
    oid: str
    size: int
    offset: int  # of its frame
    commit: Commit


@dataclass(frozen=True)
class VerifiedTag:
    oid: str
    size: int
    offset: int  # of its frame
    tag: Tag


Verified = VerifiedObject | VerifiedSnapshot | VerifiedCommit | VerifiedTag


class BundleReader:
    """Reads and verifies a bundle from a stream; yields each item only once it checks out.

    With an `index` (what the receiver already stores), prerequisites must be
    commits there and snapshot entries missing from the bundle must resolve
    there (in one batched lookup, at the end). Without one, such entries are
    counted in `entries_outside`. `policy` adds the receiver's rules: size
    limits, blocked ids, who must have signed. Nothing is trustworthy until
    `items()` has run to the end: the trailer comes last.
    """

    def __init__(self, source: BinaryIO, *, index: ObjectIndex | None = None,
                 sink: Callable[[bytes], Any] | None = None,
                 progress: Progress | None = None,
                 policy: ReceivePolicy = DEFAULT_POLICY, size: int | None = None) -> None:
        self.source = source
        self.size = size  # the whole bundle's length, when the receiver knows it
        self.index = index
        self.sink = sink
        self.progress = progress
        self.policy = policy
        self.hasher = hashlib.sha256()
        self.position = 0
        self.frames = 0
        self.header: BundleHeader | None = None
        self.summary: BundleSummary | None = None
        self._sealed_digest = b""

    # -- low level --

    def _read_exact(self, n: int, what: str, *, hashed: bool = True) -> bytes:
        data = self.source.read(n)
        while len(data) < n:
            more = self.source.read(n - len(data))
            if not more:
                raise BundleError(f"bundle is truncated: it ends inside {what} "
                                  f"(at byte {self.position + len(data)})")
            data += more
        limit = self.policy.max_bundle_bytes
        if limit is not None and self.position + n > limit:
            raise BundleError(f"bundle is larger than the {limit}-byte limit",
                              code="too-large")
        if hashed:
            self.hasher.update(data)
        if self.sink is not None:
            self.sink(data)
        self.position += n
        if self.progress is not None:
            self.progress(n)
        return data

    def _frame(self) -> tuple[int, bytes, int]:
        offset = self.position
        head = self._read_exact(HEADER_SIZE, "a frame header", hashed=False)
        kind, length = HEADER.unpack(head)
        if kind == KIND_TRAILER:
            # The trailer seals every byte before its own frame header.
            self._sealed_digest = self.hasher.digest()
        self.hasher.update(head)
        if length > MAX_FRAME_PAYLOAD:
            raise BundleError(f"frame at byte {offset} declares {length} bytes, over the "
                              f"{MAX_FRAME_PAYLOAD}-byte limit")
        payload = self._read_exact(length, f"a frame of {length} bytes")
        if kind != KIND_TRAILER:
            self.frames += 1
        return kind, payload, offset

    # -- the walk --

    def read_header(self) -> BundleHeader:
        preamble = self._read_exact(len(PREAMBLE), "the preamble")
        if preamble[:8] != MAGIC:
            raise BundleError("not a Muse bundle (wrong magic bytes)")
        (version,) = struct.unpack(">H", preamble[8:])
        if version != VERSION:
            raise BundleError(f"bundle format version {version} is not supported "
                              f"(this Muse reads version {VERSION})",
                              hint="upgrade Muse to read this bundle")
        kind, payload, _ = self._frame()
        if kind != KIND_HEADER:
            raise BundleError("bundle does not start with a header frame")
        self.header = _parse_header(payload)
        if self.size is not None:
            self._check_counts_fit(self.header, self.size)
        return self.header

    def _check_counts_fit(self, header: BundleHeader, size: int) -> None:
        """Refuse, before reading on, a header claiming more than `size` bytes could hold."""
        items = header.objects + header.snapshots + header.commits
        least = self.position + header.object_bytes + items * HEADER_SIZE + \
            header.objects * OBJECT_START.size
        if least > size:
            raise BundleError(f"bundle header declares contents of at least {least} bytes, "
                              f"but the bundle is {size} bytes")

    def items(self) -> Iterator[Verified]:
        """Yield every object, snapshot and commit, each verified; then check the trailer."""
        header = self.header or self.read_header()
        state = _ReadState(header, self.index, self.policy)
        while True:
            kind, payload, offset = self._frame()
            if kind == KIND_TRAILER:
                self._trailer(state, payload)
                return
            if kind == KIND_OBJECT:
                yield self._object(state, payload)
            elif kind == KIND_SNAPSHOT:
                yield state.snapshot(payload, offset)
            elif kind == KIND_COMMIT:
                commit = state.commit(payload, offset)
                if _check_signer(commit.oid, commit.commit, self.policy):
                    state.signed += 1
                else:
                    state.unsigned += 1
                yield commit
            elif kind == KIND_TAG:
                tag = state.tag(payload, offset)
                _check_signer(tag.oid, tag.tag, self.policy, what="tag")
                yield tag
            else:
                raise BundleError(f"unexpected frame {_kind_name(kind)} at byte {offset}")

    def _object(self, state: _ReadState, payload: bytes) -> VerifiedObject:
        if len(payload) != OBJECT_START.size:
            raise BundleError("malformed object frame")
        raw_id, size = OBJECT_START.unpack(payload)
        oid = raw_id.hex()
        state.begin_object(raw_id, size)
        hasher = hashlib.sha256()
        offset = self.position
        remaining = size
        while remaining > 0:
            kind, chunk, at = self._frame()
            if kind != KIND_DATA:
                raise BundleError(f"object {oid} is cut short at byte {at}: "
                                  f"{remaining} of {size} declared bytes missing")
            if len(chunk) > remaining:
                raise BundleError(f"object {oid} has more bytes than its declared size")
            hasher.update(chunk)
            remaining -= len(chunk)
        if hasher.hexdigest() != oid:
            raise BundleError(f"object {oid}: its bytes do not match its id")
        state.objects[raw_id] = size
        return VerifiedObject(oid, size, offset)

    def _trailer(self, state: _ReadState, payload: bytes) -> None:
        if len(payload) != TRAILER.size:
            raise BundleError("bundle trailer is malformed")
        frames, digest = TRAILER.unpack(payload)
        if digest != self._sealed_digest or frames != self.frames:
            raise BundleError("bundle checksum mismatch: it was altered or damaged")
        if self.source.read(1):
            raise BundleError("unexpected bytes after the bundle trailer")
        state.finish()
        assert self.header is not None
        self.summary = BundleSummary(self.hasher.hexdigest(), self.header, self.position,
                                     state.commit_order, state.signed, state.unsigned,
                                     state.entries_outside)

    def verify(self) -> BundleSummary:
        """Read everything, keeping nothing: the full check."""
        for _ in self.items():
            pass
        assert self.summary is not None
        return self.summary


def check_prerequisites(index: ObjectIndex, prerequisites: Iterable[str]) -> None:
    """Every prerequisite must be a commit the receiver stores (one batched lookup)."""
    wanted = list(prerequisites)
    absent = index.missing(wanted)
    if absent:
        raise BundleError(f"this repository lacks prerequisite commit {min(absent)}",
                          hint="fetch the history the bundle builds on first",
                          code="missing-prerequisite")
    for oid in wanted:
        kind = index.kind(oid)
        if kind != COMMIT:
            raise BundleError(f"prerequisite {oid} is a {kind}, not a commit",
                              hint="a bundle can only build on commits; this one is malformed",
                              code="not-a-commit")


def _check_signer(oid: str, item: Commit | Tag, policy: ReceivePolicy, *,
                  what: str = "commit") -> bool:
    """True for a good signature, False for an unsigned commit (or tag) `policy` accepts;
    else raise. Tags are held to exactly the rule commits are."""
    status = signature_status(item)
    if status == "bad":
        raise BundleError(f"{what} {oid} has a bad signature", code="bad-signature")
    if status == "unsigned":
        if policy.signers != ANY:
            raise BundleError(f"{what} {oid} is unsigned, and every {what} must be signed",
                              hint="sign it (`muse keys generate`, then commit without "
                              "--unsigned)", code="unsigned")
        return False
    if policy.signers not in (ANY, SIGNED) and item.signer not in policy.trusted_keys:
        signer = fingerprint(item.signer) if item.signer else "?"
        raise BundleError(f"{what} {oid} is signed by key {signer}, which is not trusted",
                          hint="trust that key first, or ask for it to be re-signed",
                          code="untrusted-signer")
    return True


class _MapBudget:
    """A msgpack object_pairs_hook that refuses maps beyond the few a header has."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def __call__(self, pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
        self.left -= 1
        if self.left < 0:
            raise DecodingLimit("too many maps")
        return dict(pairs)


def _is_ref_row(value: tuple[Any, ...]) -> bool:
    return len(value) == 2 and type(value[0]) is str and type(value[1]) is bytes  # [name, id]


def _decode_header(payload: bytes) -> Any:
    """The header as a value, within the limits that bound the memory decoding takes."""
    if len(payload) > MAX_HEADER_BYTES:
        raise BundleError(f"bundle header is {len(payload)} bytes, over the "
                          f"{MAX_HEADER_BYTES}-byte limit")
    try:
        return msgpack.unpackb(
            payload, raw=False, use_list=False, strict_map_key=True,
            list_hook=array_budget("bundle header", _is_ref_row, MAX_REFS,
                                   MAX_HEADER_CONTAINERS),
            object_pairs_hook=_MapBudget(MAX_HEADER_CONTAINERS),
            max_str_len=MAX_HEADER_TEXT, max_ext_len=0,
        )
    except DecodingLimit as exc:
        raise BundleError(f"bundle header is malformed: {exc}") from None
    except Exception:  # msgpack raises several unrelated types on bad input
        raise BundleError("bundle header is malformed: not a msgpack value") from None


def _parse_header(payload: bytes) -> BundleHeader:
    value = _decode_header(payload)
    try:
        caps = value["capabilities"]
        mandatory = _text_list(caps["mandatory"])
        optional = _text_list(caps.get("optional", ()))
        prerequisites = [_id(p) for p in _list(value["prerequisites"])]
        refs_list = _list(value["refs"])
        counts = value["counts"]
        numbers = [counts[k] for k in ("objects", "object_bytes", "snapshots", "commits")]
        numbers.append(counts.get("tags", 0) if TAGS_CAPABILITY in mandatory else 0)
    except (KeyError, TypeError, AttributeError, IndexError):
        raise BundleError("bundle header is malformed: a required field is missing") from None
    unknown = [c for c in mandatory if c not in KNOWN_CAPABILITIES]
    if unknown:
        raise BundleError(f"bundle needs capabilities this Muse lacks: {', '.join(unknown)}",
                          hint="upgrade Muse to read this bundle")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise BundleError("bundle header has invalid counts")
    objects, object_bytes, snapshots, commits, tags = numbers
    if max(objects, snapshots, commits, tags) > MAX_COUNT or object_bytes > MAX_OBJECT_BYTES:
        raise BundleError("bundle header declares absurd counts")
    if len(refs_list) > MAX_REFS:
        raise BundleError("bundle header has an invalid ref list")
    refs: dict[str, str] = {}
    for item in refs_list:
        if not (isinstance(item, tuple) and _is_ref_row(item)):
            raise BundleError("bundle header has a malformed ref")
        try:
            check_transferable_ref(item[0])
        except MuseError:
            raise BundleError(f"bundle header has an invalid ref name {item[0]!r}",
                              hint="a bundle carries only branches and tags "
                              "(refs/heads/, refs/tags/) with valid names") from None
        if item[0] in refs:
            raise BundleError(f"bundle header lists ref {item[0]} twice")
        refs[item[0]] = _id(item[1])
    pair = folder_clash(sorted(refs))
    if pair is not None:
        raise BundleError(f"bundle header has refs {pair[0]} and {pair[1]}: a ref name "
                          "cannot also be a folder of other refs")
    return BundleHeader(refs, prerequisites, mandatory, optional, objects, object_bytes,
                        snapshots, commits, tags)


def _list(value: object) -> list[Any]:
    if not isinstance(value, tuple):
        raise TypeError("not a list")
    return list(value)


def _text_list(value: object) -> list[str]:
    items = _list(value)
    if not all(isinstance(item, str) for item in items):
        raise TypeError("not a list of text")
    return items


def _kind_name(kind: int) -> str:
    """A frame kind as people read it: 'H', 'O'… or the byte value when unprintable."""
    return repr(chr(kind)) if 0x21 <= kind < 0x7F else f"0x{kind:02x}"


def _id(raw: Any) -> str:
    try:
        return id_from_bytes(raw)
    except CorruptObjectError:
        raise BundleError("bundle holds a malformed object id") from None


class _ReadState:
    """What the reader has verified so far, to check each later item against.

    Object ids are kept as raw 32-byte digests: snapshots carry them that way,
    and a bundle's snapshots name hundreds of thousands of entries.
    """

    def __init__(self, header: BundleHeader, index: ObjectIndex | None,
                 policy: ReceivePolicy) -> None:
        self.header = header
        self.index = index
        self.policy = policy
        self.objects: dict[bytes, int] = {}
        self.referenced: set[bytes] = set()  # objects some snapshot in the bundle names
        # Left to the receiver: raw id → (size a snapshot claims, that snapshot, its path);
        # checked against the index in one batched lookup once everything else has.
        self.outside: dict[bytes, tuple[int, str, str]] = {}
        self.checker = SnapshotChecker()
        self.snapshots: set[str] = set()
        self.commits: set[str] = set()
        self.commit_order: list[str] = []
        self.tags: dict[str, int] = {}  # each tag read → how many tags its chain holds
        self.prerequisites = set(header.prerequisites)
        self.signed = 0
        self.unsigned = 0
        self.object_bytes = 0
        self.phase = KIND_OBJECT
        limit = policy.max_bundle_bytes
        if limit is not None and header.object_bytes > limit:
            raise BundleError(f"bundle declares {header.object_bytes} bytes of objects, over "
                              f"the {limit}-byte limit", code="too-large")
        for oid in header.prerequisites:
            self._refuse_blocked(oid)
        if index is not None:
            check_prerequisites(index, header.prerequisites)

    @property
    def entries_outside(self) -> int:
        return len(self.outside)

    def _refuse_blocked(self, oid: str) -> None:
        blocked = self.policy.blocked
        if blocked is not None and blocked(oid):
            raise BundleError(f"bundle carries {oid}, which is blocked here", code="blocked")

    def _enter(self, phase: int, what: str) -> None:
        order = (KIND_OBJECT, KIND_SNAPSHOT, KIND_COMMIT, KIND_TAG)
        if order.index(phase) < order.index(self.phase):
            raise BundleError(f"{what} out of order: objects, snapshots, commits, then tags")
        self.phase = phase

    def begin_object(self, raw_id: bytes, size: int) -> None:
        self._enter(KIND_OBJECT, "object")
        if raw_id in self.objects:
            raise BundleError(f"object {raw_id.hex()} appears twice")
        limit = self.policy.max_object_bytes
        if limit is not None and size > limit:
            raise BundleError(f"object {raw_id.hex()} is {size} bytes, over the {limit}-byte "
                              "limit for one object", code="object-too-large")
        self._refuse_blocked(raw_id.hex())
        self.object_bytes += size
        if len(self.objects) >= self.header.objects or self.object_bytes > self.header.object_bytes:
            raise BundleError("bundle holds more object data than its header declares")

    def snapshot(self, payload: bytes, offset: int) -> VerifiedSnapshot:
        self._enter(KIND_SNAPSHOT, "snapshot")
        oid = hash_bytes(payload)
        try:
            fresh = self.checker.rows(payload)
        except CorruptObjectError as exc:
            raise BundleError(f"snapshot {oid}: {exc}") from None
        if oid in self.snapshots:
            raise BundleError(f"snapshot {oid} appears twice")
        if len(self.snapshots) >= self.header.snapshots:
            raise BundleError("bundle holds more snapshots than its header declares")
        self._refuse_blocked(oid)
        objects = self.objects
        for path, raw_id, size, _executable in fresh:
            have = objects.get(raw_id)
            if have is None:
                have = self._note_outside(oid, path, raw_id, size)
            else:
                self.referenced.add(raw_id)
            if have != size:
                raise BundleError(f"snapshot {oid}: {path} says {size} bytes "
                                  f"but the object has {have}")
        self.snapshots.add(oid)
        return VerifiedSnapshot(oid, len(payload), offset, payload)

    def _note_outside(self, snap_id: str, path: str, raw_id: bytes, size: int) -> int:
        """Record an object the bundle leaves out; the size an earlier snapshot gave it."""
        known = self.outside.get(raw_id)
        if known is not None:
            return known[0]
        if self.index is None and not self.prerequisites:
            raise BundleError(f"snapshot {snap_id}: {path} names object {raw_id.hex()}, "
                              "which is neither in the bundle nor in a prerequisite")
        self.outside[raw_id] = (size, snap_id, path)
        return size

    def _resolve_outside(self) -> None:
        """Every object the bundle leaves out must be in the index, at the size claimed."""
        if self.index is None or not self.outside:
            return
        sizes = self.index.sizes([raw_id.hex() for raw_id in self.outside])
        for raw_id, (size, snap_id, path) in self.outside.items():
            have = sizes.get(raw_id.hex())
            if have is None:
                raise BundleError(f"snapshot {snap_id}: {path} names object {raw_id.hex()}, "
                                  "which is neither in the bundle nor in this repository")
            if have != size:
                raise BundleError(f"snapshot {snap_id}: {path} says {size} bytes "
                                  f"but the stored object has {have}")

    def commit(self, payload: bytes, offset: int) -> VerifiedCommit:
        self._enter(KIND_COMMIT, "commit")
        oid = hash_bytes(payload)
        try:
            commit = decode_commit(payload)
        except CorruptObjectError as exc:
            raise BundleError(f"commit {oid}: {exc}") from None
        if oid in self.commits:
            raise BundleError(f"commit {oid} appears twice")
        if len(self.commits) >= self.header.commits:
            raise BundleError("bundle holds more commits than its header declares")
        for parent in commit.parents:
            if parent not in self.commits and parent not in self.prerequisites:
                raise BundleError(f"commit {oid}: parent {parent} is neither earlier in the "
                                  "bundle nor a prerequisite (missing, self-parented or cyclic)")
        if commit.snapshot not in self.snapshots:
            raise BundleError(f"commit {oid}: snapshot {commit.snapshot} is not in the bundle")
        self._refuse_blocked(oid)
        self.commits.add(oid)
        self.commit_order.append(oid)
        return VerifiedCommit(oid, len(payload), offset, commit)

    def tag(self, payload: bytes, offset: int) -> VerifiedTag:
        self._enter(KIND_TAG, "tag")
        oid = hash_bytes(payload)
        try:
            tag = decode_tag(payload)
        except CorruptObjectError as exc:
            raise BundleError(f"tag {oid}: {exc}") from None
        if oid in self.tags:
            raise BundleError(f"tag {oid} appears twice")
        if len(self.tags) >= self.header.tags:
            raise BundleError("bundle holds more tags than its header declares")
        self._refuse_blocked(oid)
        self.tags[oid] = self._tag_depth(oid, tag)
        return VerifiedTag(oid, len(payload), offset, tag)

    def _tag_depth(self, oid: str, tag: Tag) -> int:
        """How many tags `tag`'s chain holds; BundleError unless its target came earlier
        (a tag's target tag precedes it) or is a prerequisite, and is the kind it says."""
        kind = self._kind_carried(tag.target)
        if kind is not None and kind != tag.target_kind:
            raise BundleError(f"tag {oid} names {tag.target} as a {tag.target_kind}, but the "
                              f"bundle carries it as a {kind}")
        if tag.target_kind == TAG:
            if kind is None:
                raise BundleError(f"tag {oid} names tag {tag.target}, which is not earlier in "
                                  "the bundle (a tag's target tag comes before it)")
            depth = self.tags[tag.target] + 1
            if depth > MAX_TAG_DEPTH:
                raise BundleError(f"tag {oid} ends a chain of over {MAX_TAG_DEPTH} tag "
                                  "objects")
            return depth
        if kind is None:
            # No ghost refs: a tag's commit is carried, or the receiver must hold it.
            raise BundleError(f"tag {oid}: its commit {tag.target} is neither in the bundle "
                              "nor a prerequisite")
        return 1

    def _kind_carried(self, oid: str) -> str | None:
        """What the bundle carried `oid` as so far, a prerequisite being a commit (None:
        neither)."""
        if oid in self.commits or oid in self.prerequisites:
            return COMMIT
        if oid in self.tags:
            return TAG
        if oid in self.snapshots:
            return SNAPSHOT
        return BLOB if bytes.fromhex(oid) in self.objects else None

    def finish(self) -> None:
        h = self.header
        actual = (len(self.objects), self.object_bytes, len(self.snapshots), len(self.commits),
                  len(self.tags))
        if actual != (h.objects, h.object_bytes, h.snapshots, h.commits, h.tags):
            raise BundleError("bundle contents do not match the counts in its header")
        stray = [raw_id for raw_id in self.objects if raw_id not in self.referenced]
        if stray:
            raise BundleError(f"object {stray[0].hex()} is in no snapshot of the bundle "
                              f"({counted(len(stray), 'such object')})")
        self._resolve_outside()
        for name, oid in h.refs.items():
            if oid in self.tags and not name.startswith(TAG_REFS):
                raise BundleError(f"ref {name} names tag {oid}: a branch must name a commit",
                                  code="not-a-commit")
            if oid not in self.commits and oid not in self.prerequisites and oid not in self.tags:
                raise BundleError(f"ref {name} names {oid}, which the bundle does not carry")
