"""Pack indexes on disk: each pack's `.idx`, and the multi-pack index searched in O(log objects).

    packs/pack-ID.idx        one pack's rows (id, offset, size, kind): the source of truth
    packs/multi-pack.midx    every pack's rows in one sorted table with a fanout, so a
                             lookup does not depend on the number of packs

The multi-pack index is derived data: any damage to it is repaired by rebuilding it
from the `.idx` files. docs/pack-index.md gives both formats byte by byte.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import CorruptObjectError
from .storage import BLOB, COMMIT, SNAPSHOT, TAG, Location, PackEntry

IDX_MAGIC = b"MUSEIDX2"
IDX_ROW = struct.Struct(">32sQQc")  # id, frame offset, size, kind code
MIDX_MAGIC = b"MUSEMIDX"
MIDX_VERSION = 1
MIDX_HEADER = struct.Struct(">8sIIQ")  # magic, version, pack count, row count
MIDX_ROW = struct.Struct(">IQQc")  # pack number, frame offset, size, kind code
FANOUT = struct.Struct(">256I")
NAME_LEN = struct.Struct(">H")
ID_LEN = 32
DIGEST_LEN = 32

KIND_CODES = {BLOB: b"b", SNAPSHOT: b"s", COMMIT: b"c", TAG: b"t"}
CODE_KINDS = {code: kind for kind, code in KIND_CODES.items()}


def _kind_of(code: bytes, where: str) -> str:
    kind = CODE_KINDS.get(code)
    if kind is None:
        raise CorruptObjectError(f"{where} is damaged: unknown kind code {code!r}",
                                 hint="run `muse verify`")
    return kind


def _checked_body(data: bytes, where: str) -> bytes:
    """`data` less its trailing sha256, which must match."""
    body, digest = data[:-DIGEST_LEN], data[-DIGEST_LEN:]
    if len(data) < DIGEST_LEN or hashlib.sha256(body).digest() != digest:
        raise CorruptObjectError(f"{where} fails its checksum", hint="run `muse verify`")
    return body


# -- one pack's index ---------------------------------------------------------


def encode_pack_index(entries: Iterable[PackEntry]) -> bytes:
    """The bytes of a `.idx` file for the given entries (any order; duplicates dropped)."""
    unique = {e.oid: e for e in entries}
    rows = sorted(unique.values(), key=lambda e: e.oid)
    body = bytearray(IDX_MAGIC + struct.pack(">Q", len(rows)))
    for e in rows:
        body += IDX_ROW.pack(bytes.fromhex(e.oid), e.offset, e.size, KIND_CODES[e.kind])
    return bytes(body) + hashlib.sha256(body).digest()


class PackIndex:
    """A read-only view of one pack's `.idx`: binary search over its sorted rows."""

    def __init__(self, idx_path: str | Path, pack_path: str | Path | None = None) -> None:
        self.pack_path = pack_path
        where = f"pack index {os.path.basename(idx_path)}"
        with open(idx_path, "rb") as handle:
            data = handle.read()
        if data[:8] != IDX_MAGIC:
            raise CorruptObjectError(f"{where} is damaged (not a {IDX_MAGIC.decode()} file)")
        body = _checked_body(data, where)
        (count,) = struct.unpack_from(">Q", body, 8)
        if len(body) != 16 + count * IDX_ROW.size:
            raise CorruptObjectError(f"{where} has the wrong length")
        self._where = where
        self._rows = body[16:]
        self._count = count
        self._ids_list: list[bytes] | None = None  # built on the first lookup only

    @property
    def _ids(self) -> list[bytes]:
        if self._ids_list is None:
            size = IDX_ROW.size
            self._ids_list = [self._rows[i * size : i * size + ID_LEN] for i in range(self._count)]
        return self._ids_list

    def __len__(self) -> int:
        return self._count

    def find(self, oid: str, raw: bytes | None = None) -> PackEntry | None:
        """Where `oid` is in this pack."""
        raw = raw if raw is not None else bytes.fromhex(oid)
        i = bisect.bisect_left(self._ids, raw)
        if i < self._count and self._ids[i] == raw:
            return self._entry(i)
        return None

    def _entry(self, i: int) -> PackEntry:
        raw, offset, size, code = IDX_ROW.unpack_from(self._rows, i * IDX_ROW.size)
        return PackEntry(raw.hex(), offset, size, _kind_of(code, self._where))

    def entries(self) -> Iterator[PackEntry]:
        return (self._entry(i) for i in range(self._count))

    def raw_rows(self) -> Iterator[tuple[bytes, int, int, bytes]]:
        """(raw id, offset, size, kind code) per row, with the kind code checked."""
        for raw, offset, size, code in IDX_ROW.iter_unpack(self._rows):
            _kind_of(code, self._where)
            yield raw, offset, size, code

    def all_ids(self) -> Iterator[str]:
        return (raw.hex() for raw in self._ids)


# -- the multi-pack index -----------------------------------------------------

# One row while merging: (raw id, pack name, offset, size, kind code).
Row = tuple[bytes, str, int, int, bytes]


class MultiPackIndex:
    """Every packed object of a store: a fanout over sorted ids, then one row per (id, pack).

    An id held by several packs has one row per pack, adjacent; lookups answer
    with the first (the pack indexed earliest). Values are immutable: adding or
    dropping packs returns a new index.
    """

    def __init__(self, packs: list[str], ids: bytes, rows: bytes, fanout: tuple[int, ...]
                 ) -> None:
        self.packs = packs  # pack number → pack id, in the order the packs were indexed
        self._ids = ids  # count ids of 32 bytes, sorted
        self._rows = rows  # count MIDX_ROW rows, in the same order
        self._fanout = fanout  # fanout[b] = rows whose id's first byte is ≤ b
        self.count = len(ids) // ID_LEN

    @classmethod
    def empty(cls) -> MultiPackIndex:
        return cls([], b"", b"", (0,) * 256)

    # -- lookups --------------------------------------------------------------

    def find(self, raw: bytes) -> int | None:
        """The number of the first row for the raw id, or None: a binary search inside its
        fanout bucket, so O(log objects) whatever the number of packs."""
        if len(raw) != ID_LEN:
            return None
        i = self._bound(raw, after=False)
        if i < self.count and self._ids[i * ID_LEN : i * ID_LEN + ID_LEN] == raw:
            return i
        return None

    def _bound(self, raw: bytes, *, after: bool) -> int:
        """The first row whose id is ≥ `raw` (with `after`, > `raw`)."""
        first = raw[0]
        lo = self._fanout[first - 1] if first else 0
        hi = self._fanout[first]
        ids = self._ids
        while lo < hi:
            mid = (lo + hi) >> 1
            probe = ids[mid * ID_LEN : mid * ID_LEN + ID_LEN]
            if probe < raw or (after and probe == raw):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def row(self, i: int) -> Row:
        number, offset, size, code = MIDX_ROW.unpack_from(self._rows, i * MIDX_ROW.size)
        if number >= len(self.packs) or code not in CODE_KINDS:
            raise CorruptObjectError("multi-pack index is damaged: a row names no pack or kind",
                                     hint="run `muse verify`")
        return self._ids[i * ID_LEN : i * ID_LEN + ID_LEN], self.packs[number], offset, size, code

    def locate(self, oid: str) -> Location | None:
        i = self.find(bytes.fromhex(oid))
        if i is None:
            return None
        _, pack, offset, size, code = self.row(i)
        return Location(oid, pack, offset, size, CODE_KINDS[code])

    def ids_with_prefix(self, prefix: str) -> list[str]:
        i = self._bound(bytes.fromhex(prefix[: len(prefix) & ~1].ljust(64, "0")), after=False)
        found: list[str] = []
        while i < self.count:
            hexid = self._ids[i * ID_LEN : i * ID_LEN + ID_LEN].hex()
            if hexid[: len(prefix)] > prefix:
                break
            if hexid.startswith(prefix) and (not found or found[-1] != hexid):
                found.append(hexid)
            i += 1
        return found

    def all_ids(self) -> Iterator[str]:
        """Every id once, sorted."""
        last = b""
        for i in range(self.count):
            raw = self._ids[i * ID_LEN : i * ID_LEN + ID_LEN]
            if raw != last:
                yield raw.hex()
                last = raw

    def rows(self) -> Iterator[Row]:
        return (self.row(i) for i in range(self.count))

    # -- changes --------------------------------------------------------------

    def with_rows(self, new_packs: list[str], new_rows: Iterable[Row]) -> MultiPackIndex:
        """This index plus `new_packs` and their rows, merged in: the existing table is
        copied in slices between the new rows' places, never decoded row by row."""
        packs = self.packs + [p for p in new_packs if p not in self.packs]
        number = {name: n for n, name in enumerate(packs)}
        ids_parts: list[bytes] = []
        rows_parts: list[bytes] = []
        counts = [0] * 256
        start = 0
        # Equal ids keep pack order: the pack indexed earliest answers a lookup.
        for raw, pack, offset, size, code in sorted(new_rows, key=lambda r: (r[0], number[r[1]])):
            at = self._bound(raw, after=True)  # after existing rows with this id
            ids_parts.append(self._ids[start * ID_LEN : at * ID_LEN])
            rows_parts.append(self._rows[start * MIDX_ROW.size : at * MIDX_ROW.size])
            ids_parts.append(raw)
            rows_parts.append(MIDX_ROW.pack(number[pack], offset, size, code))
            counts[raw[0]] += 1
            start = at
        ids_parts.append(self._ids[start * ID_LEN :])
        rows_parts.append(self._rows[start * MIDX_ROW.size :])
        fanout = []
        added = 0
        for bucket in range(256):
            added += counts[bucket]
            fanout.append(self._fanout[bucket] + added)
        return MultiPackIndex(packs, b"".join(ids_parts), b"".join(rows_parts), tuple(fanout))

    def without_packs(self, gone: Iterable[str]) -> MultiPackIndex:
        """This index less every row of the packs in `gone` (rare: a rewrite of every row)."""
        dropped = set(gone) & set(self.packs)
        if not dropped:
            return self
        kept = [name for name in self.packs if name not in dropped]
        return MultiPackIndex.empty().with_rows(kept, (r for r in self.rows()
                                                       if r[1] not in dropped))

    # -- bytes ----------------------------------------------------------------

    def encode(self) -> bytes:
        body = bytearray(MIDX_HEADER.pack(MIDX_MAGIC, MIDX_VERSION, len(self.packs), self.count))
        for name in self.packs:
            encoded = name.encode("utf-8")
            body += NAME_LEN.pack(len(encoded)) + encoded
        body += FANOUT.pack(*self._fanout)
        body += self._ids
        body += self._rows
        return bytes(body) + hashlib.sha256(body).digest()

    @classmethod
    def decode(cls, data: bytes) -> MultiPackIndex:
        """Parse a `.midx` file, checking its checksum, counts, fanout and length."""
        where = "multi-pack index"
        if data[:8] != MIDX_MAGIC:
            raise CorruptObjectError(f"{where} is damaged (not a {MIDX_MAGIC.decode()} file)")
        body = _checked_body(data, where)
        if len(body) < MIDX_HEADER.size:
            raise CorruptObjectError(f"{where} is truncated")
        _, version, pack_count, count = MIDX_HEADER.unpack_from(body)
        if version != MIDX_VERSION:
            raise CorruptObjectError(f"{where} has unknown version {version}")
        at = MIDX_HEADER.size
        packs = []
        for _ in range(pack_count):
            if at + NAME_LEN.size > len(body):
                raise CorruptObjectError(f"{where} is truncated in its pack table")
            (length,) = NAME_LEN.unpack_from(body, at)
            try:
                packs.append(body[at + 2 : at + 2 + length].decode("utf-8"))
            except UnicodeDecodeError:
                raise CorruptObjectError(f"{where} has a damaged pack name") from None
            at += 2 + length
        if len(set(packs)) != len(packs):
            raise CorruptObjectError(f"{where} names a pack twice")
        if len(body) != at + FANOUT.size + count * (ID_LEN + MIDX_ROW.size):
            raise CorruptObjectError(f"{where} has the wrong length for {count} rows")
        fanout = FANOUT.unpack_from(body, at)
        if fanout[-1] != count or any(a > b for a, b in itertools.pairwise(fanout)):
            raise CorruptObjectError(f"{where} has a damaged fanout table")
        at += FANOUT.size
        ids = body[at : at + count * ID_LEN]
        rows = body[at + count * ID_LEN :]
        return cls(packs, ids, rows, fanout)


def build_index(packs: Iterable[tuple[str, PackIndex]]) -> MultiPackIndex:
    """A multi-pack index over the given (pack id, per-pack index) pairs, in that order."""
    names: list[str] = []
    rows: list[Row] = []
    for name, index in packs:
        names.append(name)
        rows.extend(_rows_of(name, index))
    return MultiPackIndex.empty().with_rows(names, rows)


def _rows_of(name: str, index: PackIndex) -> Iterator[Row]:
    for raw, offset, size, code in index.raw_rows():
        yield raw, name, offset, size, code


def fold_in(midx: MultiPackIndex, packs: Iterable[tuple[str, PackIndex]]) -> MultiPackIndex:
    """`midx` with the rows of `packs` merged in (each pack's rows read once, from its .idx)."""
    names: list[str] = []
    rows: list[Row] = []
    for name, index in packs:
        names.append(name)
        rows.extend(_rows_of(name, index))
    return midx.with_rows(names, rows) if names else midx


def disagreement(midx: MultiPackIndex, truth: MultiPackIndex) -> str | None:
    """How `midx` differs from `truth` on the packs both cover; None when it agrees."""
    common = set(midx.packs) & set(truth.packs)
    mine = {r for r in midx.rows() if r[1] in common}
    theirs = {r for r in truth.rows() if r[1] in common}
    if mine == theirs:
        return None
    wrong = sorted(mine ^ theirs)[0]
    return (f"its rows for {len(common)} pack(s) disagree with their .idx files "
            f"({len(mine ^ theirs)} differing rows, first for object {wrong[0].hex()} "
            f"in pack {wrong[1]})")
