"""Matching the lines of two versions: Myers' O(ND) diff in linear space, with a cost cap.

`matching_pairs(a, b)` returns the index pairs `(i, j)` with `a[i] == b[j]`,
increasing in both, that a shortest edit script keeps. Three shortcuts keep
it fast on real files: the common prefix and suffix are matched first;
lines that occur on one side only can never match and are dropped before
the search; and a box whose search grows too costly is split at the
furthest-reaching path instead (as xdiff does). Past a total work budget the
boxes still open are left unmatched, so time stays bounded (a few seconds)
on adversarial input. The answer is always a valid common subsequence,
minimal except in those pathological boxes.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

MIN_COST_CAP = 256
WORK_BUDGET = 4_000_000  # diagonal steps per diff: past it, the boxes left stay unmatched

Pair = tuple[int, int]


def matching_pairs(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[Pair]:
    """The `(i, j)` pairs of a longest common subsequence of `a` and `b` (see module doc)."""
    ids: dict[Hashable, int] = {}
    xs = [ids.setdefault(line, len(ids)) for line in a]
    ys = [ids.setdefault(line, len(ids)) for line in b]
    return _match_ints(xs, ys)


def _match_ints(xs: list[int], ys: list[int]) -> list[Pair]:
    n, m = len(xs), len(ys)
    pairs: list[Pair] = []
    lo = 0
    while lo < n and lo < m and xs[lo] == ys[lo]:
        pairs.append((lo, lo))
        lo += 1
    hi_x, hi_y = n, m
    while hi_x > lo and hi_y > lo and xs[hi_x - 1] == ys[hi_y - 1]:
        hi_x -= 1
        hi_y -= 1
    # Lines found on one side only are never matched: searching without them is the same
    # answer, and makes two unrelated files cost nothing.
    in_y = set(ys[lo:hi_y])
    in_x = set(xs[lo:hi_x])
    keep_x = [i for i in range(lo, hi_x) if xs[i] in in_y]
    keep_y = [j for j in range(lo, hi_y) if ys[j] in in_x]
    sub_x = [xs[i] for i in keep_x]
    sub_y = [ys[j] for j in keep_y]
    for i, j in _myers(sub_x, sub_y):
        pairs.append((keep_x[i], keep_y[j]))
    pairs.extend((hi_x + k, hi_y + k) for k in range(n - hi_x))
    pairs.sort()
    return pairs


def _myers(xs: list[int], ys: list[int]) -> list[Pair]:
    """Divide and conquer on middle snakes; an explicit stack, so no recursion limit."""
    pairs: list[Pair] = []
    cap = max(MIN_COST_CAP, math.isqrt(len(xs) + len(ys)))
    boxes = [(0, len(xs), 0, len(ys))]
    budget = [WORK_BUDGET]
    while boxes and budget[0] > 0:
        x0, x1, y0, y1 = boxes.pop()
        while x0 < x1 and y0 < y1 and xs[x0] == ys[y0]:
            pairs.append((x0, y0))
            x0 += 1
            y0 += 1
        while x1 > x0 and y1 > y0 and xs[x1 - 1] == ys[y1 - 1]:
            x1 -= 1
            y1 -= 1
            pairs.append((x1, y1))
        if x0 == x1 or y0 == y1:
            continue  # only insertions or only deletions remain
        split = _middle_snake(xs, x0, x1, ys, y0, y1, cap, budget)
        if split is None:
            continue  # no useful split: leave this box unmatched (still a valid answer)
        sx, sy, ex, ey = split
        pairs.extend((sx + k, sy + k) for k in range(ex - sx))
        boxes.append((x0, sx, y0, sy))
        boxes.append((ex, x1, ey, y1))
    return pairs


def _middle_snake(xs: list[int], x0: int, x1: int, ys: list[int], y0: int, y1: int,
                  cap: int, budget: list[int]) -> tuple[int, int, int, int] | None:
    """The snake `(sx, sy, ex, ey)` in the middle of a shortest path through the box.

    Past `cap` edit steps the furthest-reaching forward point is returned as an
    empty snake: a valid split, not necessarily an optimal one. Each step's
    cost is taken from `budget[0]`.
    """
    n, m = x1 - x0, y1 - y0
    delta = n - m
    odd = delta & 1
    limit = (n + m + 1) // 2
    offset = limit + 1
    forward = [0] * (2 * limit + 3)
    backward = [0] * (2 * limit + 3)
    for d in range(limit + 1):
        budget[0] -= d + 1
        if d > cap or budget[0] <= 0:
            return _furthest_split(forward, offset, d - 1, n, m, x0, y0)
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and forward[offset + k - 1] < forward[offset + k + 1]):
                x = forward[offset + k + 1]
            else:
                x = forward[offset + k - 1] + 1
            y = x - k
            sx, sy = x, y
            while x < n and y < m and xs[x0 + x] == ys[y0 + y]:
                x += 1
                y += 1
            forward[offset + k] = x
            if odd and -(d - 1) <= delta - k <= d - 1 and x + backward[offset + delta - k] >= n:
                return x0 + sx, y0 + sy, x0 + x, y0 + y
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and backward[offset + k - 1] < backward[offset + k + 1]):
                x = backward[offset + k + 1]
            else:
                x = backward[offset + k - 1] + 1
            y = x - k
            sx, sy = x, y
            while x < n and y < m and xs[x1 - 1 - x] == ys[y1 - 1 - y]:
                x += 1
                y += 1
            backward[offset + k] = x
            if not odd and -d <= delta - k <= d and x + forward[offset + delta - k] >= n:
                return x0 + n - x, y0 + m - y, x0 + n - sx, y0 + m - sy
    return None  # unreachable for non-empty boxes: the paths always meet by `limit`


def _furthest_split(forward: list[int], offset: int, d: int, n: int, m: int, x0: int,
                    y0: int) -> tuple[int, int, int, int] | None:
    best: tuple[int, int] | None = None
    for k in range(-d, d + 1, 2):
        x = min(forward[offset + k], n)
        y = x - k
        if 0 <= y <= m and (best is None or x + y > best[0] + best[1]):
            best = (x, y)
    if best is None or best in ((0, 0), (n, m)):
        return None
    return x0 + best[0], y0 + best[1], x0 + best[0], y0 + best[1]
