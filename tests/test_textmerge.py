"""The line-level pieces of merging: the Myers line matcher and the diff3 text merge."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from muse.linediff import matching_pairs
from muse.textmerge import has_conflict_markers, merge_texts


def _lcs_length(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev_diag = 0
        for j, y in enumerate(b):
            keep = row[j + 1]
            row[j + 1] = prev_diag + 1 if x == y else max(row[j + 1], row[j])
            prev_diag = keep
    return row[-1]


# -- the line matcher ----------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from("abcd"), max_size=30), st.lists(st.sampled_from("abcd"),
                                                               max_size=30))
def test_matching_pairs_is_a_longest_common_subsequence(a, b):
    pairs = matching_pairs(a, b)
    assert all(a[i] == b[j] for i, j in pairs)
    assert all(p[0] < q[0] and p[1] < q[1] for p, q in itertools.pairwise(pairs))
    assert len(pairs) == _lcs_length(a, b)


def test_matching_pairs_stays_valid_when_the_search_is_cut_short():
    # Reversed lines are the worst case: the cost cap splits the search, and the answer
    # must still be a common subsequence (if not the longest).
    a = [str(i) for i in range(3000)]
    pairs = matching_pairs(a, a[::-1])
    assert all(a[i] == a[::-1][j] for i, j in pairs)
    assert all(p[0] < q[0] and p[1] < q[1] for p, q in itertools.pairwise(pairs))


def test_matching_pairs_of_identical_and_empty_sequences():
    assert matching_pairs(["x", "y"], ["x", "y"]) == [(0, 0), (1, 1)]
    assert matching_pairs([], ["x"]) == []
    assert matching_pairs(["x"], []) == []


# -- the text merge: tricky cases ----------------------------------------------------

BASE = b"one\ntwo\nthree\nfour\nfive\n"


@pytest.mark.parametrize(("ours", "theirs", "expected"), [
    # different lines, far apart
    (b"ONE\ntwo\nthree\nfour\nfive\n", b"one\ntwo\nthree\nfour\nFIVE\n",
     b"ONE\ntwo\nthree\nfour\nFIVE\n"),
    # one side deletes a line, the other edits another
    (b"one\nthree\nfour\nfive\n", b"one\ntwo\nthree\nfour\nFIVE\n",
     b"one\nthree\nfour\nFIVE\n"),
    # the same change on both sides is taken once
    (b"one\nTWO\nthree\nfour\nfive\n", b"one\nTWO\nthree\nfour\nfive\n",
     b"one\nTWO\nthree\nfour\nfive\n"),
    # an insertion on each side, at different places
    (b"zero\none\ntwo\nthree\nfour\nfive\n", b"one\ntwo\nthree\nfour\nfive\nsix\n",
     b"zero\none\ntwo\nthree\nfour\nfive\nsix\n"),
    # both delete the same line
    (b"one\ntwo\nfour\nfive\n", b"one\ntwo\nfour\nfive\n", b"one\ntwo\nfour\nfive\n"),
])
def test_clean_merges(ours, theirs, expected):
    result = merge_texts(BASE, ours, theirs)
    assert (result.data, result.conflicts) == (expected, 0)


def test_overlapping_edits_write_markers():
    result = merge_texts(BASE, b"one\nTWO (ours)\nthree\nfour\nfive\n",
                         b"one\nTWO (theirs)\nthree\nfour\nfive\n")
    assert result.conflicts == 1
    assert result.data == (b"one\n<<<<<<< ours\nTWO (ours)\n=======\nTWO (theirs)\n"
                           b">>>>>>> theirs\nthree\nfour\nfive\n")
    assert has_conflict_markers(result.data)


def test_diff3_style_shows_the_base():
    result = merge_texts(BASE, b"one\nTWO (ours)\nthree\nfour\nfive\n",
                         b"one\nTWO (theirs)\nthree\nfour\nfive\n", style="diff3")
    assert result.data == (b"one\n<<<<<<< ours\nTWO (ours)\n||||||| base\ntwo\n=======\n"
                           b"TWO (theirs)\n>>>>>>> theirs\nthree\nfour\nfive\n")


def test_adjacent_edits_conflict_as_in_git():
    result = merge_texts(BASE, b"one\nTWO\nthree\nfour\nfive\n",
                         b"one\ntwo\nTHREE\nfour\nfive\n")
    assert result.conflicts == 1
    assert b"<<<<<<< ours\nTWO\nthree\n=======\ntwo\nTHREE\n>>>>>>> theirs\n" in result.data


def test_insertions_at_the_same_place_conflict_unless_identical():
    ours = b"one\ntwo\nours\nthree\nfour\nfive\n"
    theirs = b"one\ntwo\ntheirs\nthree\nfour\nfive\n"
    assert merge_texts(BASE, ours, theirs).conflicts == 1
    assert merge_texts(BASE, ours, ours).data == ours


def test_common_edges_of_a_conflict_are_moved_out_of_it():
    result = merge_texts(b"a\n", b"same\nmine\nend\n", b"same\ntheirs\nend\n")
    assert result.data == b"same\n<<<<<<< ours\nmine\n=======\ntheirs\n>>>>>>> theirs\nend\n"


def test_files_without_a_final_newline():
    base = b"one\ntwo\nlast"
    assert merge_texts(base, b"ONE\ntwo\nlast", b"one\ntwo\nLAST").data == b"ONE\ntwo\nLAST"
    conflicted = merge_texts(base, b"one\ntwo\nmine", b"one\ntwo\ntheirs")
    # Each side's last line is ended before the next marker, so markers stay on their lines.
    assert conflicted.data == b"one\ntwo\n<<<<<<< ours\nmine\n=======\ntheirs\n>>>>>>> theirs\n"


def test_crlf_files_merge_byte_for_byte_and_markers_use_crlf():
    base = b"one\r\ntwo\r\nthree\r\n"
    clean = merge_texts(base, b"ONE\r\ntwo\r\nthree\r\n", b"one\r\ntwo\r\nTHREE\r\n")
    assert clean.data == b"ONE\r\ntwo\r\nTHREE\r\n"
    conflicted = merge_texts(base, b"one\r\nmine\r\nthree\r\n", b"one\r\ntheirs\r\nthree\r\n")
    assert b"<<<<<<< ours\r\nmine\r\n=======\r\ntheirs\r\n>>>>>>> theirs\r\n" in conflicted.data


def test_favour_settles_conflicting_regions_only():
    ours = b"ONE\nmine\nthree\nfour\nfive\n"
    theirs = b"one\ntheirs\nthree\nfour\nFIVE\n"
    base = b"one\ntwo\nthree\nfour\nfive\n"
    # ONE (ours) is next to the conflicting line, so it belongs to the ours side of it.
    assert merge_texts(base, ours, theirs, favour="ours").data == \
        b"ONE\nmine\nthree\nfour\nFIVE\n"
    assert merge_texts(base, ours, theirs, favour="theirs").data == \
        b"one\ntheirs\nthree\nfour\nFIVE\n"


def test_both_added_with_an_empty_base():
    result = merge_texts(b"", b"shared\nmine\n", b"shared\ntheirs\n")
    assert result.data == b"shared\n<<<<<<< ours\nmine\n=======\ntheirs\n>>>>>>> theirs\n"


def test_marker_detection_needs_whole_marker_lines():
    assert not has_conflict_markers(b"a heading\n=======\n")
    assert not has_conflict_markers(b"x <<<<<<< ours\n")
    assert has_conflict_markers(b">>>>>>> theirs\r\n")


# -- properties ----------------------------------------------------------------------

_lines = st.lists(st.sampled_from([b"a\n", b"b\n", b"c\n", b"d\r\n", b"e"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_lines, _lines)
def test_same_change_on_both_sides_is_that_change(base, changed):
    b, x = b"".join(base), b"".join(changed)
    assert merge_texts(b, x, x).data == x
    assert merge_texts(b, b, b).data == b


@settings(max_examples=300, deadline=None)
@given(_lines, _lines)
def test_a_change_on_one_side_only_is_the_result(base, changed):
    b, x = b"".join(base), b"".join(changed)
    assert merge_texts(b, b, x) == merge_texts(b, x, b)
    assert merge_texts(b, b, x).data == x
    assert merge_texts(b, b, x).conflicts == 0


@st.composite
def _edited_versions(draw: st.DrawFn) -> tuple[list[bytes], list[bytes], list[bytes], set[bytes]]:
    """A base of unique lines and two versions that each delete some and insert new ones."""
    size = draw(st.integers(0, 15))
    base = [f"base {i}\n".encode() for i in range(size)]
    fresh = itertools.count()

    def edit(side: str) -> tuple[list[bytes], set[bytes]]:
        kept = draw(st.lists(st.booleans(), min_size=size, max_size=size))
        out: list[bytes] = []
        for line, keep in zip([*base, None], [*kept, True], strict=True):
            if draw(st.booleans()):
                out.extend(f"{side} {next(fresh)}\n".encode()
                           for _ in range(draw(st.integers(1, 2))))
            if line is not None and keep:
                out.append(line)
        return out, {line for line, keep in zip(base, kept, strict=True) if keep}

    ours, kept_ours = edit("ours")
    theirs, kept_theirs = edit("theirs")
    return base, ours, theirs, kept_ours & kept_theirs


@settings(max_examples=300, deadline=None)
@given(_edited_versions())
def test_a_line_both_sides_kept_is_never_lost(versions):
    base, ours, theirs, kept_by_both = versions
    result = merge_texts(b"".join(base), b"".join(ours), b"".join(theirs))
    lines = result.data.splitlines(keepends=True)
    for line in kept_by_both:
        assert lines.count(line) == 1
    # ...and in base order, outside any conflict.
    order = [line for line in lines if line in kept_by_both]
    assert order == [line for line in base if line in kept_by_both]


@settings(max_examples=200, deadline=None)
@given(_edited_versions())
def test_every_inserted_line_survives_a_conflict_free_or_marked_merge(versions):
    base, ours, theirs, _ = versions
    result = merge_texts(b"".join(base), b"".join(ours), b"".join(theirs))
    lines = set(result.data.splitlines(keepends=True))
    assert {x for x in ours + theirs if x not in base} <= lines


def test_a_large_file_with_scattered_edits_merges_cleanly():
    rng = random.Random(7)
    base = [f"line {i} {rng.random()}\n".encode() for i in range(20000)]
    ours, theirs = list(base), list(base)
    for i in range(0, 20000, 400):
        ours[i] = b"ours edit\n"
        theirs[i + 200] = b"theirs edit\n"
    result = merge_texts(b"".join(base), b"".join(ours), b"".join(theirs))
    assert result.conflicts == 0
    merged = result.data.splitlines(keepends=True)
    assert merged.count(b"ours edit\n") == 50 and merged.count(b"theirs edit\n") == 50
    assert len(merged) == 20000
