"""Strict snapshot decoding for a bundle reader: decode_snapshot's verdicts, at stream speed.

A bundle carries one snapshot per commit, and consecutive snapshots repeat
nearly all their rows. `objects.decode_snapshot` checks every row from
scratch and builds an object per entry; here a row identical to one in the
previous snapshot (already fully checked) only has its order checked, so the
cost follows the rows that changed. tests/test_bundle_snapshots.py holds the
verdicts equal to decode_snapshot's on valid, damaged and hostile encodings.
"""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import CorruptObjectError, UnsafePathError
from .objects import FORMAT_VERSION, ID_BYTES, MAX_SIZE, SNAPSHOT_TAG, canonical_pack
from .paths import validate_path

Row = tuple[str, bytes, int, bool]


class SnapshotChecker:
    """Decodes snapshots strictly; remembers the previous snapshot's rows (memory: one frame)."""

    def __init__(self) -> None:
        self._previous: frozenset[Row] = frozenset()

    def rows(self, data: bytes) -> list[Row]:
        """The rows of a snapshot encoding not in the previous one; CorruptObjectError if invalid.

        Every row of the previous snapshot was returned (so handled by the caller)
        when it first appeared: a caller checking each returned row checks them all.
        """
        try:
            value = msgpack.unpackb(data, raw=False, use_list=False, strict_map_key=True)
        except Exception as exc:  # msgpack raises several unrelated types
            raise CorruptObjectError(f"snapshot does not decode: {exc}") from None
        # Tuples pack exactly as lists do, so this is decode_snapshot's canonical check.
        if canonical_pack(value) != data:
            raise CorruptObjectError("snapshot is not in canonical encoding")
        if not (type(value) is tuple and len(value) == 3 and value[0] == SNAPSHOT_TAG):
            raise CorruptObjectError("not a snapshot encoding")
        if type(value[1]) is not int or value[1] != FORMAT_VERSION:
            raise CorruptObjectError(f"unsupported snapshot version {value[1]!r}")
        rows = value[2]
        if type(rows) is not tuple:
            raise CorruptObjectError("snapshot entries are not a list")
        previous = self._previous
        fresh = []
        last = None
        for row in rows:
            if not _seen(row, previous):
                _check_row(row)
                fresh.append(row)
            path = row[0]
            if last is not None and path <= last:
                kind = "duplicate" if path == last else "unsorted"
                raise CorruptObjectError(f"snapshot has {kind} path {path!r}")
            last = path
        self._previous = frozenset(rows)
        return fresh


def _seen(row: Any, previous: frozenset[Row]) -> bool:
    try:
        return row in previous
    except TypeError:  # a hostile row holding a map is unhashable; it is checked in full
        return False


def _check_row(row: Any) -> None:
    if not (type(row) is tuple and len(row) == 4 and type(row[0]) is str
            and type(row[2]) is int and type(row[3]) is bool):
        raise CorruptObjectError("malformed snapshot entry")
    if type(row[1]) is not bytes or len(row[1]) != ID_BYTES:
        raise CorruptObjectError("object id field is not 32 bytes")
    try:
        validate_path(row[0])
    except UnsafePathError as exc:
        raise CorruptObjectError(f"snapshot holds an unsafe path: {exc}") from None
    if not 0 <= row[2] <= MAX_SIZE:
        raise CorruptObjectError(f"snapshot entry {row[0]!r} has an invalid size")
