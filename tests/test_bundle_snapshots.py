"""The bundle reader's snapshot checker gives exactly decode_snapshot's verdicts."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from muse.bundle_snapshots import SnapshotChecker
from muse.errors import CorruptObjectError
from muse.objects import decode_snapshot
from tests.bundle_craft import snapshot_encoding

GOOD_ID = bytes(range(32))
paths = st.one_of(
    st.sampled_from(["a", "b", "a/b", "stems/x.wav", "../x", "/abs", "a/../../b", "a\0b",
                     ".muse/config", "A/.Muse/b", "a\\b", "", "a//b", "./a", "a/", "\x7f"]),
    st.text(max_size=6),
)
ids = st.one_of(st.just(GOOD_ID), st.binary(min_size=31, max_size=33), st.text(max_size=3))
sizes = st.one_of(st.integers(-2, 10), st.just(1 << 63), st.booleans(), st.none())
flags = st.one_of(st.booleans(), st.integers(0, 1), st.none())
rows = st.lists(st.tuples(paths, ids, sizes, flags), max_size=5)


def verdict(data: bytes) -> bool:
    try:
        decode_snapshot(data)
    except CorruptObjectError:
        return False
    return True


def checker_verdict(checker: SnapshotChecker, data: bytes) -> list[Any] | None:
    try:
        return list(checker.rows(data))
    except CorruptObjectError:
        return None


@settings(max_examples=500, deadline=None)
@given(rows=rows)
def test_same_verdict_on_generated_rows(rows: list[tuple[Any, Any, Any, Any]]) -> None:
    data = snapshot_encoding(rows)
    assert (checker_verdict(SnapshotChecker(), data) is not None) == verdict(data)


@settings(max_examples=300, deadline=None)
@given(value=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=8),
              st.binary(max_size=33), st.just("snapshot")),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner,
                                                                 max_size=2),
    max_leaves=12))
def test_same_verdict_on_arbitrary_msgpack(value: Any) -> None:
    data = msgpack.packb(value, use_bin_type=True)
    for candidate in (data, msgpack.packb(["snapshot", 1, value], use_bin_type=True),
                      msgpack.packb(["snapshot", 1, [value]], use_bin_type=True)):
        assert (checker_verdict(SnapshotChecker(), candidate) is not None) == verdict(candidate)


@settings(max_examples=300, deadline=None)
@given(first=rows, second=rows)
def test_remembered_rows_change_no_verdict(first: list[Any], second: list[Any]) -> None:
    """A checker that has seen one snapshot judges the next one as a fresh checker would."""
    checker = SnapshotChecker()
    a, b = snapshot_encoding(first), snapshot_encoding(second)
    checker_verdict(checker, a)
    assert (checker_verdict(checker, b) is not None) == verdict(b)


def test_only_new_rows_are_returned() -> None:
    checker = SnapshotChecker()
    one = [("a", GOOD_ID, 1, False), ("b", GOOD_ID, 2, False)]
    two = [("a", GOOD_ID, 1, False), ("b", GOOD_ID, 3, False), ("c", GOOD_ID, 4, True)]
    assert checker.rows(snapshot_encoding(one)) == one
    assert checker.rows(snapshot_encoding(two)) == two[1:]
    assert checker.rows(snapshot_encoding(two)) == []


def test_wider_encodings_and_true_version_are_refused() -> None:
    wide = msgpack.packb(["snapshot", 1, []], use_bin_type=True).replace(b"\x01", b"\xcc\x01")
    true_version = msgpack.packb(["snapshot", True, []], use_bin_type=True)
    for data in (wide, true_version, b"\x93\xa8snapshot\x01\x90\x00"):
        assert checker_verdict(SnapshotChecker(), data) is None
        assert not verdict(data)


# Rows drawn from a small pool, so a snapshot repeats rows of the one before it,
# including rows equal in Python but not in type (`0 == False`, `1.0 == 1`).
pool_paths = st.sampled_from(["a", "a/b", "a-x", "a/b/c", "b", "b/a"])
pool_sizes = st.sampled_from([0, 1, 6, True, False, 1.0, 0.0])
pool_flags = st.sampled_from([True, False, 0, 1, 0.0])
pool_rows = st.lists(st.tuples(pool_paths, st.just(GOOD_ID), pool_sizes, pool_flags),
                     max_size=5)


def _sorted_unique(rows: list[tuple[Any, Any, Any, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    return sorted({r[0]: r for r in rows}.values(), key=lambda r: r[0])


@settings(max_examples=500, deadline=None)
@given(first=pool_rows, second=pool_rows)
def test_same_verdict_after_a_previous_snapshot(first: list[Any], second: list[Any]) -> None:
    checker = SnapshotChecker()
    previous = snapshot_encoding(_sorted_unique(first))
    assert (checker_verdict(checker, previous) is not None) == verdict(previous)
    current = snapshot_encoding(_sorted_unique(second))
    assert (checker_verdict(checker, current) is not None) == verdict(current)


@pytest.mark.parametrize("size, executable", [(6, 0), (True, False), (6.0, False),
                                               (1, 1.0), (6, 0.0)])
def test_a_row_equal_in_python_but_not_in_type_is_refused(size: Any, executable: Any) -> None:
    checker = SnapshotChecker()
    good = [("a", GOOD_ID, 6, False)] if size != 1 else [("a", GOOD_ID, 1, True)]
    checker.rows(snapshot_encoding(good))
    with pytest.raises(CorruptObjectError, match="malformed snapshot entry"):
        checker.rows(snapshot_encoding([("a", GOOD_ID, size, executable)]))


@pytest.mark.parametrize("previous, current", [
    (["a/b"], ["a", "a/b"]),         # the file is new, the folder's content unchanged
    (["a"], ["a", "a/b"]),           # the folder's content is new
    (["a", "a-x"], ["a", "a-x", "a/b/c"]),
    (["x"], ["a", "a-x", "a/b"]),    # both new, another path sorting between them
])
def test_a_file_and_a_folder_of_one_name_are_refused_after_any_previous(
        previous: list[str], current: list[str]) -> None:
    checker = SnapshotChecker()
    checker.rows(snapshot_encoding([(p, GOOD_ID, 1, False) for p in previous]))
    data = snapshot_encoding([(p, GOOD_ID, 1, False) for p in current])
    with pytest.raises(CorruptObjectError, match="holds both"):
        checker.rows(data)
    assert not verdict(data)
