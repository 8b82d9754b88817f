"""The `log --graph` layout: git's order and git's rows, compared with `git log --graph`."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from muse.loggraph import draw, topological


def render(parents: dict[str, list[str]], times: dict[str, int],
           lines: Callable[[str], list[str]] = lambda oid: [oid], *,
           separated: bool = False) -> list[str]:
    order = topological(list(parents), parents, times.__getitem__)
    return list(draw(order, parents, lambda oid: (lines(oid), []), separated=separated))


def test_children_come_before_parents_even_with_skewed_clocks():
    parents = {"child": ["parent"], "parent": ["root"], "root": []}
    times = {"child": 1, "parent": 5, "root": 9}  # every clock wrong way round
    assert topological(list(parents), parents, times.__getitem__) == ["child", "parent", "root"]


def test_a_merged_branch_is_drawn_whole_right_after_its_merge():
    parents = {"M2": ["M1", "c"], "M1": ["a", "b"], "a": ["base"], "b": ["base"],
               "c": ["base"], "base": []}
    times = {"M2": 9, "M1": 8, "c": 7, "b": 6, "a": 5, "base": 1}
    assert render(parents, times) == [
        "*   M2",
        "|\\  ",
        "| * c",
        "* |   M1",
        "|\\ \\  ",
        "| * | b",
        "| |/  ",
        "* / a",
        "|/  ",
        "* base",
    ]


def test_unrelated_histories_end_in_two_roots():
    parents = {"M": ["x", "y"], "x": [], "y": []}
    assert render(parents, {"M": 3, "x": 2, "y": 1}) == ["*   M", "|\\  ", "| * y", "* x"]


def test_octopus_merge():
    parents = {"O": ["a", "b", "c"], "a": ["r"], "b": ["r"], "c": ["r"], "r": []}
    assert render(parents, {"O": 9, "a": 3, "b": 4, "c": 5, "r": 1}) == [
        "*-.   O", "|\\ \\  ", "| | * c", "| * | b", "| |/  ", "* / a", "|/  ", "* r"]


def test_multi_line_entries_keep_the_lanes():
    parents = {"M": ["a", "b"], "a": ["r"], "b": ["r"], "r": []}
    lines = render(parents, {"M": 4, "a": 2, "b": 3, "r": 1},
                   lambda oid: [oid, "", f"  about {oid}"])
    # The blank second line of M sits beside the row fanning out its parents.
    assert lines[:3] == ["*   M", "|\\  ", "| |   about M"]
    assert lines[3:6] == ["| * b", "| | ", "| |   about b"]
    assert lines[-3:] == ["* r", "  ", "    about r"]


def test_changes_follow_the_rows_left_to_draw_beside_padding():
    parents = {"M": ["a", "b"], "a": ["r"], "b": ["r"], "r": []}
    order = topological(list(parents), parents, {"M": 4, "a": 2, "b": 3, "r": 1}.__getitem__)
    lines = list(draw(order, parents, lambda oid: ([oid], [f" {oid}.txt | 1 +"])))
    assert lines[:4] == ["*   M", "|\\  ", "| |  M.txt | 1 +", "| * b"]
    assert lines[-2:] == ["* r", "   r.txt | 1 +"]


def test_separated_entries_part_at_the_next_commits_lanes():
    parents = {"M": ["a", "b"], "a": ["r"], "b": ["r"], "r": []}
    lines = render(parents, {"M": 4, "a": 2, "b": 3, "r": 1}, lambda oid: [oid, ""],
                   separated=True)
    assert lines == ["*   M", "|\\  ", "| | ", "| * b", "| | ", "* | a", "|/  ", "| ", "* r"]


# -- against git itself ----------------------------------------------------------------


def random_history(rng: random.Random, size: int) -> dict[str, list[str]]:
    """A history shaped like real ones: mostly single parents continuing a branch tip,
    some merges, a few octopus merges, roots and forks."""
    parents: dict[str, list[str]] = {}
    tips: list[str] = []
    for i in range(size):
        name = f"c{i}"
        chosen: list[str] = []
        if parents and rng.random() > 0.05:
            wanted = rng.choices([1, 2, 3, 4], weights=[68, 25, 5, 2])[0]
            for _ in range(wanted):
                pool = tips if tips and rng.random() < 0.7 else list(parents)
                candidate = rng.choice(pool)
                if candidate not in chosen:
                    chosen.append(candidate)
        tips = [t for t in tips if t not in chosen] + [name]
        parents[name] = chosen
    return parents


def git_graph(tmp: Path, parents: dict[str, list[str]], times: dict[str, int],
              *args: str) -> str:
    """`git log --graph ARGS` of the same history (subjects are the names), one process."""
    tmp.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=tmp, check=True)
    marks = {name: n + 1 for n, name in enumerate(parents)}
    stream = []
    for name, chosen in parents.items():
        stream.append("" if chosen else "reset refs/heads/work\n")
        stream.append(f"commit refs/heads/work\nmark :{marks[name]}\n"
                      f"committer A <a@example.org> {times[name]} +0000\n"
                      f"data {len(name)}\n{name}\n")
        stream += [f"{'merge' if j else 'from'} :{marks[p]}\n" for j, p in enumerate(chosen)]
    tips = [n for n in parents if not any(n in chosen for chosen in parents.values())]
    stream += [f"reset refs/heads/tip-{t}\nfrom :{marks[t]}\n" for t in tips]
    subprocess.run(["git", "fast-import", "--quiet"], input="".join(stream).encode(),
                   cwd=tmp, check=True)
    return subprocess.run(["git", "log", "--graph", *args, *(f"tip-{t}" for t in tips)],
                          cwd=tmp, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("seed", range(16))
def test_the_graph_is_gits_on_random_histories(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    parents = random_history(rng, rng.randint(2, 40))
    # Newer commits later, with some clocks set back (the order must not follow them).
    times = {name: 1_700_000_000 + 60 * n - (rng.randint(0, 300) if rng.random() < 0.1 else 0)
             for n, name in enumerate(parents)}
    newest_first = list(reversed(parents))
    order = topological(newest_first, parents, times.__getitem__)

    def ours(order: list[str], drawn: dict[str, list[str]], lines: Callable[[str], list[str]],
             separated: bool = False) -> str:
        return "".join(f"{line}\n" for line in draw(order, drawn, lambda c: (lines(c), []),
                                                      separated=separated))

    assert ours(order, parents, lambda c: [c]) == git_graph(tmp_path / "one", parents, times,
                                                            "--format=%s")
    assert ours(order, parents, lambda c: [c, f"more {c}"]) == git_graph(
        tmp_path / "two", parents, times, "--format=%s%nmore %s")
    # Text ending in a newline: a padding row after the rows left to draw.
    assert ours(order, parents, lambda c: [c, ""]) == git_graph(
        tmp_path / "ended", parents, times, "--format=%s%n")
    separated = git_graph(tmp_path / "parted", parents, times, "--format=format:%s%n")
    assert ours(order, parents, lambda c: [c, ""], True).rstrip("\n") == separated.rstrip("\n")
    cut = rng.randint(1, len(order))
    assert ours(order[:cut], parents, lambda c: [c]) == git_graph(
        tmp_path / "cut", parents, times, "--format=%s", "-n", str(cut))
    # --first-parent: first parents drawn, every parent still orders.
    firsts = {name: chosen[:1] for name, chosen in parents.items()}
    reached: set[str] = set()
    stack = [n for n in parents if not any(n in chosen for chosen in parents.values())]
    while stack:
        name = stack.pop()
        if name not in reached:
            reached.add(name)
            stack += firsts[name]
    every = {n: [p for p in parents[n] if p in reached] for n in reached}
    order = topological([n for n in newest_first if n in reached], every, times.__getitem__)
    assert ours(order, {n: firsts[n] for n in reached}, lambda c: [c]) == git_graph(
        tmp_path / "first", parents, times, "--format=%s", "--first-parent")
