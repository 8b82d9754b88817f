"""Strict snapshot decoding for a bundle reader: decode_snapshot's verdicts, at stream speed.

A bundle carries one snapshot per commit, and consecutive snapshots repeat
nearly all their rows. `objects.decode_snapshot` checks every row from
scratch and builds an object per entry; here a row identical to one in the
previous snapshot (already fully checked) only has its order checked, so the
cost follows the rows that changed. tests/test_bundle_snapshots.py holds the
verdicts equal to decode_snapshot's on valid, damaged and hostile encodings.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from .errors import CorruptObjectError, UnsafePathError
from .objects import (
    FORMAT_VERSION,
    ID_BYTES,
    MAX_SIZE,
    SNAPSHOT_TAG,
    unpack_bounded,
)
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
        # The decoding limits and the exact-type shape of every row (`0 == False`,
        # `1.0 == 1`: an equal row is only the same row when its types are) are
        # checked while decoding, by the same rule decode_snapshot uses.
        value = unpack_bounded(data, "snapshot")
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
            # A tuple here passed unpack_bounded's row shape: only other values remain.
            if type(row) is not tuple:
                raise CorruptObjectError("malformed snapshot entry")
            if row not in previous:
                _check_row(row)
                fresh.append(row)
            path = row[0]
            if last is not None and path <= last:
                kind = "duplicate" if path == last else "unsorted"
                raise CorruptObjectError(f"snapshot has {kind} path {path!r}")
            last = path
        _check_folders(rows, fresh)
        self._previous = frozenset(rows)
        return fresh


def _check_row(row: Any) -> None:
    if len(row[1]) != ID_BYTES:
        raise CorruptObjectError("object id field is not 32 bytes")
    try:
        validate_path(row[0])
    except UnsafePathError as exc:
        raise CorruptObjectError(f"snapshot holds an unsafe path: {exc}") from None
    if not 0 <= row[2] <= MAX_SIZE:
        raise CorruptObjectError(f"snapshot entry {row[0]!r} has an invalid size")


def _check_folders(rows: tuple[Row, ...], fresh: list[Row]) -> None:
    """objects.folder_clash's verdict, looking only around the fresh rows.

    Two rows of the previous snapshot cannot clash (it was checked), so any
    clash involves a fresh row: one that is a folder of a later path, or that
    lies below a path. Rows are sorted and valid here, so bisection finds both.
    """
    count = len(rows)
    for path, *_ in fresh:
        below = bisect_left(rows, (path + "/",))
        if below < count and rows[below][0].startswith(path + "/"):
            raise CorruptObjectError(f"snapshot holds both {path!r} and {rows[below][0]!r}")
        folder = path
        while (cut := folder.rfind("/")) > 0:
            folder = folder[:cut]
            at = bisect_left(rows, (folder,))
            if at < count and rows[at][0] == folder:
                raise CorruptObjectError(f"snapshot holds both {folder!r} and {path!r}")
