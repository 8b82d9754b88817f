"""The object model: blobs, snapshots and commits, their canonical encodings and ids.

Every id is sha256 over bytes anyone can recompute (docs/objects.md):
a blob's id hashes its raw file bytes, a snapshot's and a commit's id hash
their canonical msgpack encoding. Decoding is strict: an encoding that is not
byte-for-byte the canonical one for the value it decodes to is refused, so one
value has exactly one id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from .errors import CorruptObjectError, UnsafePathError
from .paths import validate_path

ID_HEX_LEN = 64
ID_BYTES = 32
FORMAT_VERSION = 1
SNAPSHOT_TAG = "snapshot"
COMMIT_TAG = "commit"
MAX_SIZE = (1 << 63) - 1
MAX_TZ_MINUTES = 24 * 60 - 1


def hash_bytes(data: bytes) -> str:
    """The id of a byte string: lowercase hex sha256."""
    return hashlib.sha256(data).hexdigest()


_OBJECT_ID = re.compile(r"[0-9a-f]{64}")


def is_object_id(text: str) -> bool:
    """True for a full, lowercase hex object id."""
    # A regex, not a loop over characters: bundle readers call this per snapshot entry.
    return isinstance(text, str) and _OBJECT_ID.fullmatch(text) is not None


def id_to_bytes(oid: str) -> bytes:
    return bytes.fromhex(oid)


def id_from_bytes(raw: bytes) -> str:
    if not isinstance(raw, bytes) or len(raw) != ID_BYTES:
        raise CorruptObjectError("object id field is not 32 bytes")
    return raw.hex()


def canonical_pack(value: Any) -> bytes:
    """Encode with the only msgpack options Muse uses for hashed values."""
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def _strict_unpack(data: bytes, what: str) -> Any:
    try:
        value = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise CorruptObjectError(f"{what} does not decode: {exc}") from None
    if canonical_pack(value) != data:
        raise CorruptObjectError(f"{what} is not in canonical encoding")
    return value


@dataclass(frozen=True, order=True)
class SnapshotEntry:
    """One file in a snapshot."""

    path: str
    oid: str
    size: int
    executable: bool = False


@dataclass(frozen=True)
class Snapshot:
    """The whole tracked tree at one moment: entries sorted by path."""

    entries: tuple[SnapshotEntry, ...]

    @classmethod
    def from_entries(cls, entries: Iterable[SnapshotEntry]) -> Snapshot:
        ordered = tuple(sorted(entries, key=lambda e: e.path))
        _check_entries(ordered)
        return cls(ordered)

    def encode(self) -> bytes:
        rows = [[e.path, id_to_bytes(e.oid), e.size, e.executable] for e in self.entries]
        return canonical_pack([SNAPSHOT_TAG, FORMAT_VERSION, rows])

    @property
    def id(self) -> str:
        return hash_bytes(self.encode())

    def as_dict(self) -> dict[str, SnapshotEntry]:
        return {e.path: e for e in self.entries}


def _check_entries(entries: Sequence[SnapshotEntry]) -> None:
    previous: str | None = None
    for entry in entries:
        try:
            validate_path(entry.path)
        except UnsafePathError as exc:
            raise CorruptObjectError(f"snapshot holds an unsafe path: {exc}") from None
        if previous is not None and entry.path <= previous:
            kind = "duplicate" if entry.path == previous else "unsorted"
            raise CorruptObjectError(f"snapshot has {kind} path {entry.path!r}")
        if not is_object_id(entry.oid):
            raise CorruptObjectError(f"snapshot entry {entry.path!r} has a malformed id")
        if not (isinstance(entry.size, int) and 0 <= entry.size <= MAX_SIZE):
            raise CorruptObjectError(f"snapshot entry {entry.path!r} has an invalid size")
        previous = entry.path


def decode_snapshot(data: bytes) -> Snapshot:
    """Parse and validate a snapshot encoding; raise CorruptObjectError if it is not one."""
    value = _strict_unpack(data, "snapshot")
    if not (isinstance(value, list) and len(value) == 3 and value[0] == SNAPSHOT_TAG):
        raise CorruptObjectError("not a snapshot encoding")
    if type(value[1]) is not int or value[1] != FORMAT_VERSION:  # `true == 1` in Python
        raise CorruptObjectError(f"unsupported snapshot version {value[1]!r}")
    if not isinstance(value[2], list):
        raise CorruptObjectError("snapshot entries are not a list")
    entries = []
    for row in value[2]:
        if not (
            isinstance(row, list)
            and len(row) == 4
            and isinstance(row[0], str)
            and isinstance(row[2], int)
            and not isinstance(row[2], bool)
            and isinstance(row[3], bool)
        ):
            raise CorruptObjectError("malformed snapshot entry")
        entries.append(SnapshotEntry(row[0], id_from_bytes(row[1]), row[2], row[3]))
    _check_entries(entries)
    return Snapshot(tuple(entries))


@dataclass(frozen=True)
class Commit:
    """A point in history. The signature covers `signed_payload()`; the id covers everything."""

    snapshot: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    timestamp: int
    tz_offset_minutes: int
    message: str
    signer: bytes | None = None
    signature: bytes | None = field(default=None, repr=False)

    def _fields(self) -> list[Any]:
        return [
            COMMIT_TAG,
            FORMAT_VERSION,
            id_to_bytes(self.snapshot),
            [id_to_bytes(p) for p in self.parents],
            self.author_name,
            self.author_email,
            self.timestamp,
            self.tz_offset_minutes,
            self.message,
            self.signer,
        ]

    def signed_payload(self) -> bytes:
        """The bytes an Ed25519 signature covers: every field but the signature."""
        return canonical_pack(self._fields())

    def encode(self) -> bytes:
        return canonical_pack([*self._fields(), self.signature])

    @property
    def id(self) -> str:
        return hash_bytes(self.encode())

    @property
    def subject(self) -> str:
        """The message's first line, as one-line listings show it."""
        return self.message.splitlines()[0] if self.message else ""

    @property
    def is_signed(self) -> bool:
        return self.signer is not None and self.signature is not None


def decode_commit(data: bytes) -> Commit:
    """Parse and validate a commit encoding; raise CorruptObjectError if it is not one."""
    v = _strict_unpack(data, "commit")
    if not (isinstance(v, list) and len(v) == 11 and v[0] == COMMIT_TAG):
        raise CorruptObjectError("not a commit encoding")
    if type(v[1]) is not int or v[1] != FORMAT_VERSION:  # `true == 1` in Python
        raise CorruptObjectError(f"unsupported commit version {v[1]!r}")
    if not isinstance(v[3], list):
        raise CorruptObjectError("commit parents are not a list")
    parents = tuple(id_from_bytes(p) for p in v[3])
    if len(set(parents)) != len(parents):
        raise CorruptObjectError("commit lists a parent twice")
    if not all(isinstance(v[i], str) for i in (4, 5, 8)):
        raise CorruptObjectError("commit author or message is not text")
    for i in (6, 7):
        if not isinstance(v[i], int) or isinstance(v[i], bool):
            raise CorruptObjectError("commit timestamp is not an integer")
    if abs(v[7]) > MAX_TZ_MINUTES:
        raise CorruptObjectError("commit timezone offset out of range")
    signer, signature = v[9], v[10]
    if (signer is None) != (signature is None):
        raise CorruptObjectError("commit has a signer without a signature or the reverse")
    if signer is not None and not (
        isinstance(signer, bytes) and len(signer) == 32
        and isinstance(signature, bytes) and len(signature) == 64
    ):
        raise CorruptObjectError("commit signer or signature has the wrong length")
    return Commit(
        snapshot=id_from_bytes(v[2]),
        parents=parents,
        author_name=v[4],
        author_email=v[5],
        timestamp=v[6],
        tz_offset_minutes=v[7],
        message=v[8],
        signer=signer,
        signature=signature,
    )


def object_kind(data: bytes) -> str:
    """Classify stored bytes: 'commit', 'snapshot' or 'blob' (anything else is a blob)."""
    if data[:2] == b"\x9b\xa6" and data[2:8] == b"commit":
        try:
            decode_commit(data)
            return "commit"
        except CorruptObjectError:
            return "blob"
    if data[:2] == b"\x93\xa8" and data[2:10] == b"snapshot":
        try:
            decode_snapshot(data)
            return "snapshot"
        except CorruptObjectError:
            return "blob"
    return "blob"
