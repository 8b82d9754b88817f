"""The object model: blobs, snapshots, commits and tags, their canonical encodings and ids.

Every id is sha256 over bytes anyone can recompute (docs/objects.md):
a blob's id hashes its raw file bytes, a snapshot's, a commit's and a tag's
id hash their canonical msgpack encoding. Decoding is strict: an encoding that is not
byte-for-byte the canonical one for the value it decodes to is refused, so one
value has exactly one id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from .display import NOT_UTF8_CHARS, UNSAFE_TEXT_CHARS
from .errors import CorruptObjectError, UnsafePathError
from .paths import validate_path

ID_HEX_LEN = 64
ID_BYTES = 32
FORMAT_VERSION = 1
SNAPSHOT_TAG = "snapshot"
COMMIT_TAG = "commit"
TAG_TAG = "tag"
MAX_TAG_NAME_BYTES = 1024
TAG_TARGET_KINDS = (COMMIT_TAG, TAG_TAG)  # what a tag object may name
# The most tag objects one chain may hold, the outermost included: readers peel
# tag → tag → … → commit and must stop somewhere (docs/objects.md).
MAX_TAG_DEPTH = 16
MAX_SIZE = (1 << 63) - 1
MAX_TZ_MINUTES = 24 * 60 - 1
# Year 1 and year 9999 in every time zone: what any calendar display can show.
MIN_TIMESTAMP = -62135510400  # 0001-01-02 00:00:00 UTC
MAX_TIMESTAMP = 253402214399  # 9999-12-30 23:59:59 UTC
MAX_SNAPSHOT_ENTRIES = 1 << 20
MAX_PATH_BYTES = 4096
MAX_PARENTS = 1024

# No identity field may hold these characters; a message may also hold newlines and tabs.
_UNSAFE_LINE = re.compile(f"[{UNSAFE_TEXT_CHARS}]")
_UNSAFE_MESSAGE = re.compile(f"(?![\n\t])[{UNSAFE_TEXT_CHARS}]")
_NOT_UTF8 = re.compile(f"[{NOT_UTF8_CHARS}]")


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


def text_problem(text: str, *, multiline: bool = False) -> str | None:
    """What makes `text` unsafe to store in a commit ("a control character U+001B"), or None.

    `multiline` (a message) lets newlines and tabs through; identity fields hold one line.
    """
    if _NOT_UTF8.search(text):  # -m or a name given as raw bytes: it cannot be encoded
        return "bytes that are not valid UTF-8"
    found = (_UNSAFE_MESSAGE if multiline else _UNSAFE_LINE).search(text)
    return None if found is None else f"a control character U+{ord(found.group()):04X}"


Hook = Callable[[tuple[Any, ...]], tuple[Any, ...]]


def array_budget(what: str, is_row: Callable[[tuple[Any, ...]], bool], rows: int,
                 others: int, *, rows_first: bool = False) -> Hook:
    """A msgpack list_hook that refuses, while decoding, the arrays a schema has no room for.

    msgpack builds one Python object per encoded value, tens of bytes each, so
    an encoding of nested empty arrays costs gigabytes before a schema check
    could see it. Arrays complete innermost first: each must be a row
    (`is_row`, at most `rows` of them) or one of `others` enclosing ones, so
    anything else stops the decoder at once and memory stays a small multiple
    of the input. With `rows_first`, the first enclosing array to complete must
    hold the rows and only them (each counted on its way in), so not even one
    array of junk is built beside them. A closure, not a class: msgpack calls
    it once per row, and this is a bundle reader's hottest loop.
    """
    rows_left = rows
    others_left = others

    def hook(value: tuple[Any, ...]) -> tuple[Any, ...]:
        nonlocal rows_left, others_left
        if is_row(value):
            rows_left -= 1
            if rows_left < 0:
                raise DecodingLimit(f"{what} has over {rows} entries")
            return value
        first = others_left == others
        others_left -= 1
        if others_left < 0 or (rows_first and first and len(value) != rows - rows_left):
            raise DecodingLimit(f"malformed {what} entry" if rows
                                else f"malformed {what}: a field holds an array")
        return value

    return hook


class DecodingLimit(ValueError):
    """A decoding limit, raised from inside msgpack's decoder by a hook."""


def _no_maps(_pairs: Any) -> Any:
    raise DecodingLimit("maps are not allowed")


def is_snapshot_row(row: tuple[Any, ...]) -> bool:
    """The shape of a snapshot entry: (path: str, id: bytes, size: int, executable: bool).

    Exact types: in Python `0 == False == 0.0`, and a size of `true` or an
    executable flag of `0` must not pass for a valid entry (nor for an equal
    row of the previous snapshot).
    """
    return (len(row) == 4 and type(row[3]) is bool and type(row[2]) is int
            and type(row[1]) is bytes and type(row[0]) is str)


def _no_rows(_value: tuple[Any, ...]) -> bool:
    return False


def unpack_bounded(data: bytes, what: str) -> Any:
    """Decode a snapshot or commit encoding (tuples for arrays) within the decoding limits.

    The limits (docs/objects.md) bound memory to a small multiple of `data`
    whatever it holds; a value they refuse is corrupt, as is any encoding that
    is not byte-for-byte canonical.
    """
    snapshot = what == "snapshot"
    budget = (array_budget(what, is_snapshot_row, MAX_SNAPSHOT_ENTRIES, 2, rows_first=True)
              if snapshot else array_budget(what, _no_rows, 0, 2))
    try:
        value = msgpack.unpackb(
            data, raw=False, use_list=False, strict_map_key=True, list_hook=budget,
            object_pairs_hook=_no_maps, max_map_len=0, max_ext_len=0,
            max_bin_len=ID_BYTES if snapshot else 64,
            max_str_len=MAX_PATH_BYTES if snapshot else len(data),
            max_array_len=MAX_SNAPSHOT_ENTRIES if snapshot else max(12, MAX_PARENTS),
        )
    except DecodingLimit as exc:
        raise CorruptObjectError(str(exc)) from None
    except Exception as exc:  # msgpack raises several unrelated types
        raise CorruptObjectError(f"{what} does not decode: {exc}") from None
    # Tuples pack exactly as lists do, so this is the canonical check.
    if canonical_pack(value) != data:
        raise CorruptObjectError(f"{what} is not in canonical encoding")
    return value


def folder_clash(names: Iterable[str]) -> tuple[str, str] | None:
    """The first (name, longer) pair where `name` is also a folder of `longer`; names sorted.

    Files and refs are stored as files, so `a` and `a/b` cannot both exist.
    A name sorts before everything below it, so one pass over sorted names
    sees each name before any name it would be a folder of.
    """
    seen: set[str] = set()
    folders: set[str] = set()  # folders already known to be no name of their own
    for name in names:
        folder = name
        while True:
            cut = folder.rfind("/")
            if cut <= 0:
                break
            folder = folder[:cut]
            if folder in folders:
                break
            if folder in seen:
                return folder, name
            folders.add(folder)
        seen.add(name)
    return None


@dataclass(frozen=True, order=True)
class SnapshotEntry:
    """One file in a snapshot."""

    path: str
    oid: str
    size: int
    executable: bool = False

    def at(self, path: str) -> SnapshotEntry:
        """The same file (bytes and mode) at another path."""
        return SnapshotEntry(path, self.oid, self.size, self.executable)


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


def _check_entries(entries: Sequence[SnapshotEntry], *, ids_checked: bool = False) -> None:
    """Every rule a snapshot's entries obey; `ids_checked` when each id was just made from 32
    raw bytes (`id_from_bytes`), so it cannot be malformed."""
    if len(entries) > MAX_SNAPSHOT_ENTRIES:
        raise CorruptObjectError(f"snapshot has over {MAX_SNAPSHOT_ENTRIES} entries")
    previous: str | None = None
    for entry in entries:
        try:
            validate_path(entry.path)
        except UnsafePathError as exc:
            raise CorruptObjectError(f"snapshot holds an unsafe path: {exc}") from None
        if previous is not None and entry.path <= previous:
            kind = "duplicate" if entry.path == previous else "unsorted"
            raise CorruptObjectError(f"snapshot has {kind} path {entry.path!r}")
        if not ids_checked and not is_object_id(entry.oid):
            raise CorruptObjectError(f"snapshot entry {entry.path!r} has a malformed id")
        if not (isinstance(entry.size, int) and 0 <= entry.size <= MAX_SIZE):
            raise CorruptObjectError(f"snapshot entry {entry.path!r} has an invalid size")
        previous = entry.path
    clash = folder_clash(e.path for e in entries)
    if clash is not None:
        raise CorruptObjectError(f"snapshot holds both {clash[0]!r} and {clash[1]!r}")


def decode_snapshot(data: bytes) -> Snapshot:
    """Parse and validate a snapshot encoding; raise CorruptObjectError if it is not one."""
    value = unpack_bounded(data, "snapshot")
    if not (isinstance(value, tuple) and len(value) == 3 and value[0] == SNAPSHOT_TAG):
        raise CorruptObjectError("not a snapshot encoding")
    if type(value[1]) is not int or value[1] != FORMAT_VERSION:  # `true == 1` in Python
        raise CorruptObjectError(f"unsupported snapshot version {value[1]!r}")
    if not isinstance(value[2], tuple):
        raise CorruptObjectError("snapshot entries are not a list")
    entries = []
    for row in value[2]:
        # A tuple here passed unpack_bounded's exact row shape: only other values remain.
        if type(row) is not tuple:
            raise CorruptObjectError("malformed snapshot entry")
        entries.append(SnapshotEntry(row[0], id_from_bytes(row[1]), row[2], row[3]))
    _check_entries(entries, ids_checked=True)
    return Snapshot(tuple(entries))


class _Signable:
    """What commits and tags share: the id covers every field, a signature all but itself."""

    signer: bytes | None
    signature: bytes | None

    def _fields(self) -> list[Any]:
        raise NotImplementedError

    def signed_payload(self) -> bytes:
        """The bytes an Ed25519 signature covers: every field but the signature."""
        return canonical_pack(self._fields())

    def encode(self) -> bytes:
        return canonical_pack([*self._fields(), self.signature])

    @property
    def id(self) -> str:
        return hash_bytes(self.encode())

    @property
    def is_signed(self) -> bool:
        return self.signer is not None and self.signature is not None


@dataclass(frozen=True)
class Commit(_Signable):
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


    @property
    def subject(self) -> str:
        """The message's first line, as one-line listings show it."""
        return self.message.splitlines()[0] if self.message else ""


def decode_commit(data: bytes) -> Commit:
    """Parse and validate a commit encoding; raise CorruptObjectError if it is not one."""
    v = unpack_bounded(data, "commit")
    if not (isinstance(v, tuple) and len(v) == 11 and v[0] == COMMIT_TAG):
        raise CorruptObjectError("not a commit encoding")
    if type(v[1]) is not int or v[1] != FORMAT_VERSION:  # `true == 1` in Python
        raise CorruptObjectError(f"unsupported commit version {v[1]!r}")
    if not isinstance(v[3], tuple):
        raise CorruptObjectError("commit parents are not a list")
    if len(v[3]) > MAX_PARENTS:
        raise CorruptObjectError(f"commit has over {MAX_PARENTS} parents")
    parents = tuple(id_from_bytes(p) for p in v[3])
    if len(set(parents)) != len(parents):
        raise CorruptObjectError("commit lists a parent twice")
    _check_texts(v, ((4, "author name"), (5, "author email"), (8, "message")), "commit")
    _check_time(v[6], v[7], "commit")
    signer, signature = _check_signature_fields(v[9], v[10], "commit")
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


def _check_texts(v: tuple[Any, ...], fields: Sequence[tuple[int, str]], what: str) -> None:
    """Each field is text without control characters (the last, a message, may hold
    newlines and tabs)."""
    if not all(isinstance(v[i], str) for i, _ in fields):
        raise CorruptObjectError(f"{what} {' or '.join(n for _, n in fields)} is not text")
    for i, name in fields:
        problem = text_problem(v[i], multiline=name == "message")
        if problem is not None:
            raise CorruptObjectError(f"{what} {name} holds {problem}")


def _check_time(timestamp: Any, tz: Any, what: str) -> None:
    for value in (timestamp, tz):
        if not isinstance(value, int) or isinstance(value, bool):
            raise CorruptObjectError(f"{what} timestamp is not an integer")
    if not MIN_TIMESTAMP <= timestamp <= MAX_TIMESTAMP:
        raise CorruptObjectError(f"{what} timestamp out of range (before year 1 or after 9999)")
    if abs(tz) > MAX_TZ_MINUTES:
        raise CorruptObjectError(f"{what} timezone offset out of range")


def _check_signature_fields(signer: Any, signature: Any,
                            what: str) -> tuple[bytes | None, bytes | None]:
    if (signer is None) != (signature is None):
        raise CorruptObjectError(f"{what} has a signer without a signature or the reverse")
    if signer is not None and not (
        isinstance(signer, bytes) and len(signer) == 32
        and isinstance(signature, bytes) and len(signature) == 64
    ):
        raise CorruptObjectError(f"{what} signer or signature has the wrong length")
    return signer, signature


def tag_name_problem(name: str) -> str | None:
    """What makes `name` unfit to be a tag object's name, or None (refs check the rest)."""
    if not name:
        return "an empty name"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_TAG_NAME_BYTES:
        return f"a name over {MAX_TAG_NAME_BYTES} bytes"
    return text_problem(name)


@dataclass(frozen=True)
class Tag(_Signable):
    """An annotated tag: a named, dated, optionally signed note about a commit or a tag.

    Like a commit, the signature covers `signed_payload()` and the id covers
    everything, so the target, its kind, the name and the message cannot be
    changed under a signature.
    """

    target: str
    name: str
    tagger_name: str
    tagger_email: str
    timestamp: int
    tz_offset_minutes: int
    message: str
    target_kind: str = COMMIT_TAG  # "commit", or "tag" for a tag of a tag object
    signer: bytes | None = None
    signature: bytes | None = field(default=None, repr=False)

    def _fields(self) -> list[Any]:
        return [
            TAG_TAG,
            FORMAT_VERSION,
            id_to_bytes(self.target),
            self.target_kind,
            self.name,
            self.tagger_name,
            self.tagger_email,
            self.timestamp,
            self.tz_offset_minutes,
            self.message,
            self.signer,
        ]



def decode_tag(data: bytes) -> Tag:
    """Parse and validate a tag encoding; raise CorruptObjectError if it is not one."""
    v = unpack_bounded(data, "tag")
    if not (isinstance(v, tuple) and len(v) == 12 and v[0] == TAG_TAG):
        raise CorruptObjectError("not a tag encoding")
    if type(v[1]) is not int or v[1] != FORMAT_VERSION:  # `true == 1` in Python
        raise CorruptObjectError(f"unsupported tag version {v[1]!r}")
    target = id_from_bytes(v[2])
    if not (isinstance(v[3], str) and v[3] in TAG_TARGET_KINDS):
        raise CorruptObjectError(f"tag target kind {v[3]!r} is neither 'commit' nor 'tag'")
    _check_texts(v, ((4, "name"), (5, "tagger name"), (6, "tagger email"), (9, "message")),
                 "tag")
    problem = tag_name_problem(v[4])
    if problem is not None:
        raise CorruptObjectError(f"tag name holds {problem}")
    _check_time(v[7], v[8], "tag")
    signer, signature = _check_signature_fields(v[10], v[11], "tag")
    return Tag(target=target, target_kind=v[3], name=v[4], tagger_name=v[5],
               tagger_email=v[6], timestamp=v[7], tz_offset_minutes=v[8], message=v[9],
               signer=signer, signature=signature)


Signed = Commit | Tag  # what an Ed25519 key signs


def object_kind(data: bytes) -> str:
    """Classify stored bytes: 'commit', 'snapshot', 'tag' or 'blob' (anything else is a blob)."""
    if data[:2] == b"\x9c\xa3" and data[2:5] == b"tag":
        try:
            decode_tag(data)
            return "tag"
        except CorruptObjectError:
            return "blob"
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
