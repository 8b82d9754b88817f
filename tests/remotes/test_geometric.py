"""`gc --auto` on a remote folds geometrically: only the newest, smallest packs, never a pack a
pack left out builds on; the folded pack serves clones and fetches as the packs it replaced."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from muse.repo import Repository
from muse.storage import COMMIT, PackEntry
from remotes.bucket import PackIndex, decode_pack_index
from remotes.geometric import geometric_tail, pack_order, union_parts
from tests.testkit import MuseRunner, Result


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def oid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def test_geometric_tail_folds_only_what_breaks_the_progression() -> None:
    def tail(*sizes: int) -> list[int]:
        order = [str(i) for i in range(len(sizes))]
        return [int(p) for p in geometric_tail(order, dict(zip(order, sizes, strict=True)))]

    assert tail(100, 10, 10, 10) == [1, 2, 3]     # the big pack stays as it is
    assert tail(100, 40, 10) == []                # 100 >= 2 x 50, 40 >= 2 x 10: done
    assert tail(100, 60, 1) == [0, 1, 2]          # 100 < 2 x 61: everything
    assert tail(1000, 300, 10, 10, 10) == [2, 3, 4]
    assert tail(7) == [] and tail() == []


def index(name: str, commits: list[str], requires: list[str], size: int = 10) -> PackIndex:
    return PackIndex(oid(name), size, tuple(oid(r) for r in requires),
                     {oid(c): () for c in commits},
                     tuple(PackEntry(oid(c), 0, 1, COMMIT) for c in commits))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_tail_of_the_pack_order_is_closed_under_what_packs_require(
        data: st.DataObject) -> None:
    """A pack left out of a fold never requires a commit a folded pack holds, and the fold
    requires only commits of packs before it: folding a tail makes no cycle."""
    count = data.draw(st.integers(1, 8))
    packs: dict[str, PackIndex] = {}
    for i in range(count):
        earlier = st.lists(st.sampled_from([f"c{j}" for j in range(i)]), max_size=3)
        # A pack may also carry earlier commits again (overlapping pushes); a bundle
        # never requires a commit it carries.
        again = data.draw(earlier) if i else []
        requires = [r for r in (data.draw(earlier) if i else []) if r not in again]
        packs[oid(f"p{i}")] = index(f"p{i}", [f"c{i}", *again], requires)
    sizes = {p: data.draw(st.integers(1, 1000)) for p in packs}
    order = pack_order(packs, sizes)
    assert len(set(order)) == len(order) and set(order) <= set(packs)
    if not any(len(i.commits) > 1 for i in packs.values()):
        assert len(order) == len(packs)  # without overlaps there is never a cycle
    for cut in range(len(order)):
        folded, before = set(order[cut:]), order[:cut]
        held = {c for p in folded for c in packs[p].commits}
        for kept in before:
            assert not set(packs[kept].requires) & held
        needed = {r for p in folded for r in packs[p].requires} - held
        assert needed <= {c for p in before for c in packs[p].commits}


def test_a_pack_requiring_another_comes_after_it_whatever_the_sizes() -> None:
    base = index("base", ["a"], [], size=1)
    big = index("big", ["b"], ["a"], size=1000)
    side = index("side", ["s"], [], size=500)
    order = pack_order({i.pack: i for i in (base, big, side)},
                       {base.pack: 1, big.pack: 1000, side.pack: 500})
    assert order == [side.pack, base.pack, big.pack]


def test_the_union_holds_each_item_once_parents_first_and_requires_only_outside() -> None:
    first = PackIndex(oid("p1"), 10, (oid("root"),), {oid("a"): (oid("root"),)},
                      (PackEntry(oid("a"), 0, 1, COMMIT),))
    second = PackIndex(oid("p2"), 10, (oid("a"),), {oid("b"): (oid("a"),), oid("a"):
                                                    (oid("root"),)},
                       (PackEntry(oid("b"), 0, 1, COMMIT), PackEntry(oid("a"), 5, 1, COMMIT)))
    items, source, graph, requires = union_parts([first, second])
    assert [e.oid for e in items] == [oid("a"), oid("b")]
    assert source[oid("a")] == oid("p1") and requires == [oid("root")]
    assert set(graph) == {oid("a"), oid("b")}


# -- on a filesystem remote, after every push --------------------------------------------


def packs_named(remote: Path) -> list[str]:
    return sorted(json.loads((remote / "refs.json").read_text())["packs"])


def test_auto_gc_after_pushes_folds_only_the_new_small_packs(
        muse: MuseRunner, tmp_path: Path) -> None:
    work, remote = tmp_path / "work", tmp_path / "remote.muse"
    work.mkdir()
    ok(muse("init", cwd=work))
    ok(muse("init", "--bare", str(remote), cwd=tmp_path))
    (work / "stem.wav").write_bytes(os.urandom(200_000))
    ok(muse("commit", "-m", "the session", cwd=work))
    ok(muse("push", str(remote), "main", cwd=work))
    ok(muse("clone", str(remote), str(tmp_path / "early"), cwd=tmp_path))
    ok(muse("config", "gc.autoPacks", "3", cwd=remote))
    big = packs_named(remote)
    ok(muse("tag", "-a", "v1", "-m", "first mix", cwd=work))
    ok(muse("push", "--tags", str(remote), "main", cwd=work))
    ok(muse("switch", "-c", "idea", cwd=work))
    (work / "idea.mid").write_text("idea\n")
    ok(muse("commit", "-m", "idea", cwd=work))
    ok(muse("push", str(remote), "idea", cwd=work))
    ok(muse("switch", "main", cwd=work))
    (work / "take.mid").write_text("take\n")
    ok(muse("commit", "-m", "take", cwd=work))
    ok(muse("push", str(remote), "main", cwd=work))
    named = packs_named(remote)
    # The third small push went past gc.autoPacks: the small packs (the tag's, the idea's,
    # the take's) became one; the session's big pack was left as it is.
    assert len(named) == 2 and big[0] in named
    folded = next(p for p in named if p != big[0])
    index = decode_pack_index((remote / "packs" / f"pack-{folded}.index").read_bytes(), "x")
    session = Repository.find(tmp_path / "early").head()
    assert index.requires == (session,)
    ok(muse("verify", cwd=remote))
    ok(muse("clone", str(remote), str(tmp_path / "late"), cwd=tmp_path))
    log = ok(muse("log", "--oneline", cwd=work)).stdout
    assert ok(muse("log", "--oneline", cwd=tmp_path / "late")).stdout == log
    ok(muse("verify", cwd=tmp_path / "late"))
    ok(muse("fetch", "origin", cwd=tmp_path / "early"))  # has the big pack: gets the fold
    early = Repository.find(tmp_path / "early")
    assert early.refs.read("refs/remotes/origin/main") == Repository.find(work).head()
    assert early.refs.read("refs/remotes/origin/idea") is not None
    ok(muse("verify", cwd=tmp_path / "early"))
    tag = ok(muse("tag", "-v", "v1", cwd=tmp_path / "late")).stdout
    assert "first mix" in tag
