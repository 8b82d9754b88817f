"""The object model: round trips, strict decoding, and the path rules."""

from __future__ import annotations

from dataclasses import replace

import msgpack
import pytest

from muse.errors import CorruptObjectError, UnsafePathError
from muse.objects import (
    MAX_PARENTS,
    MAX_SNAPSHOT_ENTRIES,
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    Commit,
    Snapshot,
    SnapshotEntry,
    canonical_pack,
    decode_commit,
    decode_snapshot,
    folder_clash,
    hash_bytes,
    object_kind,
)
from muse.paths import is_safe_path, validate_path

OID_A = hash_bytes(b"a")
OID_B = hash_bytes(b"b")


def _snapshot() -> Snapshot:
    return Snapshot.from_entries([
        SnapshotEntry("stems/bass.wav", OID_A, 1_000_000_000_000, False),
        SnapshotEntry("render.sh", OID_B, 0, True),
    ])


def _commit(**changes: object) -> Commit:
    base = Commit(_snapshot().id, (OID_A, OID_B), "Ada", "ada@example.org", 1_700_000_000,
                  -480, "a message\nwith two lines")
    return replace(base, **changes)  # type: ignore[arg-type]


def test_snapshot_round_trip_and_sorting() -> None:
    snap = _snapshot()
    assert [e.path for e in snap.entries] == ["render.sh", "stems/bass.wav"]
    again = decode_snapshot(snap.encode())
    assert again == snap
    assert again.id == snap.id == hash_bytes(snap.encode())
    assert object_kind(snap.encode()) == "snapshot"


def test_empty_snapshot_round_trip() -> None:
    empty = Snapshot.from_entries([])
    assert decode_snapshot(empty.encode()) == empty
    assert empty.encode() == canonical_pack(["snapshot", 1, []])


def test_commit_round_trip_unsigned_and_root() -> None:
    for commit in (_commit(), _commit(parents=())):
        again = decode_commit(commit.encode())
        assert again == commit
        assert again.id == commit.id
        assert object_kind(commit.encode()) == "commit"


def test_commit_id_covers_signature_but_payload_does_not() -> None:
    signed = _commit(signer=b"\x01" * 32, signature=b"\x02" * 64)
    other = replace(signed, signature=b"\x03" * 64)
    assert signed.signed_payload() == other.signed_payload()
    assert signed.id != other.id
    assert decode_commit(signed.encode()) == signed


def _raw_snapshot(rows: list[list[object]]) -> bytes:
    return canonical_pack(["snapshot", 1, rows])


@pytest.mark.parametrize("rows, message", [
    ([["b", bytes.fromhex(OID_A), 1, False], ["a", bytes.fromhex(OID_B), 1, False]],
     "unsorted"),
    ([["a", bytes.fromhex(OID_A), 1, False], ["a", bytes.fromhex(OID_B), 1, False]],
     "duplicate"),
    ([["a", bytes.fromhex(OID_A)[:31], 1, False]], "32 bytes"),
    ([["a", bytes.fromhex(OID_A), -1, False]], "invalid size"),
    ([["a", bytes.fromhex(OID_A), True, False]], "malformed"),
    ([["a", bytes.fromhex(OID_A), 1, 1]], "malformed"),
    ([["a", OID_A, 1, False]], "malformed"),  # an id as text, not bin
    ([["a", bytes.fromhex(OID_A), 1]], "malformed"),
    ([["../x", bytes.fromhex(OID_A), 1, False]], "unsafe path"),
    ([[".muse/HEAD", bytes.fromhex(OID_A), 1, False]], "unsafe path"),
])
def test_decode_snapshot_rejects_bad_entries(rows: list[list[object]], message: str) -> None:
    with pytest.raises(CorruptObjectError, match=message):
        decode_snapshot(_raw_snapshot(rows))


def test_decode_snapshot_rejects_oversized_size() -> None:
    data = msgpack.packb(["snapshot", 1, [["a", bytes.fromhex(OID_A), 1 << 63, False]]],
                         use_bin_type=True)
    with pytest.raises(CorruptObjectError, match="invalid size"):
        decode_snapshot(data)


@pytest.mark.parametrize("data, message", [
    (canonical_pack(["snapshot", 2, []]), "unsupported snapshot version"),
    (canonical_pack(["snapshots", 1, []]), "not a snapshot"),
    (canonical_pack({"snapshot": 1}), "does not decode"),  # no maps at all
    (canonical_pack(["snapshot", 1, []]) + b"\x00", "does not decode"),
    (b"\x93\xa8snapshot\x01", "does not decode"),
    (b"", "does not decode"),
])
def test_decode_snapshot_rejects_malformed(data: bytes, message: str) -> None:
    with pytest.raises(CorruptObjectError, match=message):
        decode_snapshot(data)


def test_decode_rejects_non_canonical_integer_form() -> None:
    good = canonical_pack(["snapshot", 1, []])
    # The same value with the version written as uint8 (cc 01) instead of fixint 01.
    wide = good.replace(b"\x01\x90", b"\xcc\x01\x90")
    assert msgpack.unpackb(wide) == ["snapshot", 1, []]
    with pytest.raises(CorruptObjectError, match="canonical"):
        decode_snapshot(wide)


def test_decode_rejects_str_where_canonical_uses_fixstr() -> None:
    good = canonical_pack(["snapshot", 1, []])
    # "snapshot" as str8 (d9 08) instead of fixstr (a8): same value, other bytes.
    wide = b"\x93\xd9\x08snapshot" + good[10:]
    with pytest.raises(CorruptObjectError, match="canonical"):
        decode_snapshot(wide)


def _raw_commit(fields: list[object]) -> bytes:
    return canonical_pack(fields)


def _fields(**over: object) -> list[object]:
    base: dict[str, object] = {
        "tag": "commit", "version": 1, "snapshot": bytes.fromhex(OID_A),
        "parents": [bytes.fromhex(OID_B)], "name": "Ada", "email": "a@b", "time": 1,
        "tz": 0, "message": "m", "signer": None, "signature": None,
    }
    base.update(over)
    return list(base.values())


@pytest.mark.parametrize("over, message", [
    ({"tag": "kommit"}, "not a commit"),
    ({"version": 2}, "unsupported commit version"),
    ({"parents": bytes.fromhex(OID_B)}, "parents are not a list"),
    ({"parents": [bytes.fromhex(OID_B), bytes.fromhex(OID_B)]}, "parent twice"),
    ({"parents": [b"short"]}, "32 bytes"),
    ({"snapshot": OID_A}, "32 bytes"),
    ({"name": b"Ada"}, "not text"),
    ({"message": 7}, "not text"),
    ({"time": "1"}, "not an integer"),
    ({"time": True}, "not an integer"),
    ({"tz": 24 * 60}, "out of range"),
    ({"signer": b"\x01" * 32}, "signer without a signature"),
    ({"signature": b"\x01" * 64}, "signer without a signature"),
    ({"signer": b"\x01" * 31, "signature": b"\x01" * 64}, "wrong length"),
    ({"signer": b"\x01" * 32, "signature": b"\x01" * 63}, "wrong length"),
])
def test_decode_commit_rejects_bad_fields(over: dict[str, object], message: str) -> None:
    data = _raw_commit(_fields(**over))
    with pytest.raises(CorruptObjectError, match=message):
        decode_commit(data)
    assert object_kind(data) == "blob"


def test_decode_commit_rejects_wrong_length_and_trailing_bytes() -> None:
    with pytest.raises(CorruptObjectError, match="not a commit"):
        decode_commit(_raw_commit(_fields()[:10]))
    with pytest.raises(CorruptObjectError, match="does not decode"):
        decode_commit(_raw_commit(_fields()) + b"\xc0")


def test_object_kind_of_blob_that_mimics_a_header() -> None:
    assert object_kind(b"\x9b\xa6commit and then garbage") == "blob"
    assert object_kind(b"\x93\xa8snapshot junk") == "blob"
    assert object_kind(b"") == "blob"


@pytest.mark.parametrize("path", [
    "a.txt", "stems/drums/kick.wav", "ünïcödé/ファイル.mid", ".museignore", "a/.museum",
    "muse", "x/..y", "...",
])
def test_safe_paths_accepted(path: str) -> None:
    assert validate_path(path) == path
    assert is_safe_path(path)


@pytest.mark.parametrize("path, message", [
    ("", "empty path"),
    ("..", "'..' component"),
    ("a/../b", "'..' component"),
    ("./a", "'.' component"),
    ("/abs/file", "absolute"),
    ("a\0b", "control character"),
    ("a\nb", "control character"),
    ("tab\there", "control character"),
    ("del\x7f", "control character"),
    ("a//b", "empty component"),
    ("a/", "empty component"),
    (".muse", "'.muse' component"),
    ("x/.MUSE/y", "'.muse' component"),
    (".Muse", "'.muse' component"),
    ("a\\b", "backslash"),
    ("bad\udcff.txt", "not valid UTF-8"),
])
def test_unsafe_paths_refused(path: str, message: str) -> None:
    with pytest.raises(UnsafePathError, match=message) as info:
        validate_path(path)
    assert info.value.exit_code == 2
    assert info.value.hint
    assert not is_safe_path(path)


def test_snapshot_refuses_unsafe_entry_when_built() -> None:
    with pytest.raises(CorruptObjectError, match="unsafe path"):
        Snapshot.from_entries([SnapshotEntry("../escape", OID_A, 1)])
    with pytest.raises(CorruptObjectError, match="duplicate"):
        Snapshot.from_entries([SnapshotEntry("a", OID_A, 1), SnapshotEntry("a", OID_B, 1)])


def test_boolean_version_is_not_version_one() -> None:
    # msgpack `true` decodes to True, and True == 1 in Python: must still be refused.
    with pytest.raises(CorruptObjectError, match="unsupported snapshot version"):
        decode_snapshot(canonical_pack(["snapshot", True, []]))
    with pytest.raises(CorruptObjectError, match="unsupported commit version"):
        decode_commit(canonical_pack(_fields(version=True)))


# -- identity, message and time rules (docs/objects.md) ---------------------------------


@pytest.mark.parametrize("field, value, code", [
    ("author_name", "Ada\nSignature: good", "000A"),
    ("author_name", "Ada\x1b[2K", "001B"),
    ("author_name", "Ada\tLovelace", "0009"),   # one line: not even a tab
    ("author_email", "a@e\r", "000D"),
    ("author_email", "a@e\x9b", "009B"),        # C1 CSI: an escape in 8-bit terminals
    ("author_name", "Ada\u2028x", "2028"),
    ("author_name", "\u202eAda", "202E"),
    ("message", "subject\rSignature: good", "000D"),
    ("message", "subject\x00", "0000"),
    ("message", "subject\x0bmore", "000B"),
    ("message", "a\u2066b", "2066"),
])
def test_control_characters_in_identity_or_message_are_refused(
        field: str, value: str, code: str) -> None:
    data = _commit(**{field: value}).encode()
    with pytest.raises(CorruptObjectError, match=f"control character U\\+{code}"):
        decode_commit(data)


def test_a_message_may_hold_newlines_and_tabs_and_any_printable_text() -> None:
    commit = _commit(message="subject\n\n\tindented\nmixed: ünïcödé ✓ 🎵",
                     author_name="Zoë Ölander-Ñuñez 🎵")
    assert decode_commit(commit.encode()) == commit


@pytest.mark.parametrize("when", [10**13, 2**64 - 1, -(2**63), MAX_TIMESTAMP + 1,
                                  MIN_TIMESTAMP - 1])
def test_timestamps_out_of_range_are_refused(when: int) -> None:
    with pytest.raises(CorruptObjectError, match="timestamp out of range"):
        decode_commit(_commit(timestamp=when).encode())


@pytest.mark.parametrize("when", [MIN_TIMESTAMP, 0, MAX_TIMESTAMP])
def test_timestamps_at_the_bounds_are_accepted(when: int) -> None:
    commit = _commit(timestamp=when)
    assert decode_commit(commit.encode()) == commit


def test_too_many_parents_are_refused() -> None:
    parents = tuple(hash_bytes(str(i).encode()) for i in range(MAX_PARENTS + 1))
    with pytest.raises(CorruptObjectError, match="does not decode"):
        decode_commit(_commit(parents=parents).encode())
    assert decode_commit(_commit(parents=parents[:MAX_PARENTS]).encode()).parents \
        == parents[:MAX_PARENTS]


def test_a_commit_field_holding_an_array_is_refused() -> None:
    fields = list(msgpack.unpackb(_commit().encode()))
    fields[4] = [[]]
    with pytest.raises(CorruptObjectError, match="a field holds an array"):
        decode_commit(canonical_pack(fields))


# -- a path that is also a folder -------------------------------------------------------


@pytest.mark.parametrize("paths, pair", [
    (["a", "a/b"], ("a", "a/b")),
    (["a", "a-x", "a.y", "a/b"], ("a", "a/b")),      # '-' and '.' sort before '/'
    (["x/a", "x/a b", "x/a/c/d"], ("x/a", "x/a/c/d")),
    (["a/b", "a/b/c"], ("a/b", "a/b/c")),
])
def test_a_snapshot_holding_a_file_and_a_folder_of_one_name_is_refused(
        paths: list[str], pair: tuple[str, str]) -> None:
    assert folder_clash(sorted(paths)) == pair
    rows = [[p, bytes.fromhex(OID_A), 1, False] for p in sorted(paths)]
    with pytest.raises(CorruptObjectError, match=f"holds both '{pair[0]}' and '{pair[1]}'"):
        decode_snapshot(canonical_pack(["snapshot", 1, rows]))
    with pytest.raises(CorruptObjectError, match="holds both"):
        Snapshot.from_entries(SnapshotEntry(p, OID_A, 1) for p in paths)


def test_names_sharing_a_prefix_are_no_clash() -> None:
    assert folder_clash(["a", "a-b", "a.c", "ab/c", "b/a", "b/ab"]) is None
    assert folder_clash([]) is None


def test_too_many_snapshot_entries_are_refused() -> None:
    entries = [SnapshotEntry(f"f{i:07d}", OID_A, 1) for i in range(MAX_SNAPSHOT_ENTRIES + 1)]
    with pytest.raises(CorruptObjectError, match="over 1048576 entries"):
        Snapshot.from_entries(entries)
    rows = [[e.path, bytes.fromhex(OID_A), 1, False] for e in entries]
    with pytest.raises(CorruptObjectError, match="does not decode"):
        decode_snapshot(canonical_pack(["snapshot", 1, rows]))
