"""The `log --graph` layout on shapes a real history has: fans, roots, octopus merges."""

from __future__ import annotations

from muse.loggraph import draw, topological


def render(parents: dict[str, list[str]], times: dict[str, int]) -> list[str]:
    order = topological(list(parents), parents, times.__getitem__)
    return list(draw(order, parents, lambda oid: [oid]))


def test_children_come_before_parents_even_with_skewed_clocks():
    parents = {"child": ["parent"], "parent": ["root"], "root": []}
    times = {"child": 1, "parent": 5, "root": 9}  # every clock wrong way round
    assert topological(list(parents), parents, times.__getitem__) == ["child", "parent", "root"]


def test_three_branches_merged_one_after_another():
    parents = {"M2": ["M1", "c"], "M1": ["a", "b"], "a": ["base"], "b": ["base"],
               "c": ["base"], "base": []}
    times = {"M2": 9, "M1": 8, "c": 7, "b": 6, "a": 5, "base": 1}
    assert render(parents, times) == [
        "* M2",
        "|\\",
        "* | M1",
        "|\\ \\",
        "| | * c",
        "| * | b",
        "| |/",
        "* | a",
        "|/",
        "* base",
    ]


def test_unrelated_histories_end_in_two_roots():
    parents = {"M": ["x", "y"], "x": [], "y": []}
    assert render(parents, {"M": 3, "x": 2, "y": 1}) == ["* M", "|\\", "* | x", " /", "* y"]


def test_octopus_merge():
    parents = {"O": ["a", "b", "c"], "a": ["r"], "b": ["r"], "c": ["r"], "r": []}
    assert render(parents, {"O": 9, "a": 3, "b": 4, "c": 5, "r": 1}) == [
        "* O", "|\\__", "| | * c", "| * | b", "| |/", "* | a", "|/", "* r"]


def test_multi_line_entries_keep_the_lanes():
    parents = {"M": ["a", "b"], "a": ["r"], "b": ["r"], "r": []}
    order = topological(list(parents), parents, {"M": 4, "a": 2, "b": 3, "r": 1}.__getitem__)
    lines = list(draw(order, parents, lambda oid: [oid, "", f"  about {oid}"]))
    assert lines[:4] == ["* M", "|", "|   about M", "|\\"]
    assert lines[4:7] == ["| * b", "| |", "| |   about b"]
    assert lines[-3:] == ["* r", "", "    about r"]
