"""`muse describe`: the nearest tag, as git names it, and every refusal changing nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from muse.describe import Options, describe
from tests.branching_support import commit, repo, write
from tests.testkit import MuseRunner, changes_nothing
from tests.twin_history import Twin


@pytest.fixture
def twin(muse: MuseRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Twin:
    return Twin(muse, tmp_path, monkeypatch)


def _ok(muse: MuseRunner, root: Path, *args: str) -> str:
    result = muse("describe", *args, cwd=root)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _linear(twin: Twin) -> None:
    """one (v1) → two → three."""
    twin.commit("one", {"song.txt": "a\n"})
    twin.tag("v1")
    twin.commit("two", {"song.txt": "b\n"})
    twin.commit("three", {"song.txt": "c\n"})


def test_exact_tag_and_distance(muse: MuseRunner, twin: Twin) -> None:
    _linear(twin)
    head = twin.muse_id["three"]
    assert _ok(muse, twin.m) == f"v1-2-g{head[:12]}"
    assert _ok(muse, twin.m, "v1") == "v1"
    assert _ok(muse, twin.m, "HEAD~2") == "v1"
    assert _ok(muse, twin.m, "--long", "v1") == f"v1-0-g{twin.muse_id['one'][:12]}"
    assert _ok(muse, twin.m, "--abbrev", "6") == f"v1-2-g{head[:6]}"
    assert _ok(muse, twin.m, "--abbrev", "0") == "v1"
    assert _ok(muse, twin.m, "HEAD", "HEAD~1").split("\n") == [
        f"v1-2-g{head[:12]}", f"v1-1-g{twin.muse_id['two'][:12]}"]


def test_lightweight_tags_need_tags(muse: MuseRunner, twin: Twin) -> None:
    twin.commit("one", {"a.txt": "1\n"})
    twin.tag("light", annotated=False)
    twin.commit("two", {"a.txt": "2\n"})
    result = changes_nothing(muse, twin.m, "describe", exit_code=3)
    assert result.stderr.startswith("error: no annotated tag can describe "
                                    f"{twin.muse_id['two'][:12]}; there are lightweight tags")
    assert "hint: add --tags" in result.stderr
    assert _ok(muse, twin.m, "--tags") == f"light-1-g{twin.muse_id['two'][:12]}"
    # An annotated tag further back still wins without --tags; with it, the nearer one.
    twin.ok("tag", "-a", "--unsigned", "old", "HEAD~1", "-m", "old")
    twin.tag("newer", annotated=False)
    assert _ok(muse, twin.m).startswith("old-1-g")
    assert _ok(muse, twin.m, "--tags") == "newer"


def test_annotated_beats_lightweight_on_one_commit_and_newest_tag_wins(
        muse: MuseRunner, twin: Twin) -> None:
    twin.commit("one", {"a.txt": "1\n"})
    twin.tag("b-light", annotated=False)
    twin.tag("z-first")
    twin.tag("a-second")  # newer tag date: beats z-first although it sorts first
    assert _ok(muse, twin.m, "--tags") == "a-second"
    assert _ok(muse, twin.m, "--tags") == twin.git("describe", "--tags")


def test_tag_of_a_tag_describes_its_commit(muse: MuseRunner, twin: Twin) -> None:
    twin.commit("one", {"a.txt": "1\n"})
    twin.tag("v1")
    twin.tag("approved", target="v1")  # a tag object naming v1's tag object
    twin.commit("two", {"a.txt": "2\n"})
    head = twin.muse_id["two"]
    assert _ok(muse, twin.m) == f"approved-1-g{head[:12]}"
    assert _ok(muse, twin.m, "--exclude", "approved") == f"v1-1-g{head[:12]}"
    assert twin.git("describe", "--abbrev=0") == "approved"


def test_match_and_exclude(muse: MuseRunner, twin: Twin) -> None:
    twin.commit("one", {"a.txt": "1\n"})
    twin.tag("v1.0")
    twin.commit("two", {"a.txt": "2\n"})
    twin.tag("nightly-2")
    twin.commit("three", {"a.txt": "3\n"})
    assert _ok(muse, twin.m, "--abbrev", "0") == "nightly-2"
    assert _ok(muse, twin.m, "--abbrev", "0", "--match", "v*") == "v1.0"
    assert _ok(muse, twin.m, "--abbrev", "0", "--exclude", "night*") == "v1.0"
    assert _ok(muse, twin.m, "--abbrev", "0", "--match", "x*", "--match", "v*") == "v1.0"
    result = changes_nothing(muse, twin.m, "describe", "--match", "zz*", exit_code=3)
    assert result.stderr.startswith("error: no names found, cannot describe anything")
    for args in (("--match", "v*"), ("--exclude", "night*"), ()):
        assert _core(_ok(muse, twin.m, *args)) == _core(twin.git("describe", *args))


def test_dirty(muse: MuseRunner, twin: Twin) -> None:
    _linear(twin)
    plain = _ok(muse, twin.m, "--dirty")
    assert not plain.endswith("-dirty")
    (twin.m / "song.txt").write_text("edited\n")
    assert _ok(muse, twin.m, "--dirty") == plain + "-dirty"
    assert _ok(muse, twin.m, "--dirty=.mod") == plain + ".mod"
    assert _ok(muse, twin.m) == plain  # asked for no mark, none given
    (twin.m / "song.txt").write_text("c\n")
    assert _ok(muse, twin.m, "--dirty") == plain
    # No index: a new file the next commit would record is a difference from HEAD.
    (twin.m / "new.txt").write_text("new\n")
    assert _ok(muse, twin.m, "--dirty") == plain + "-dirty"
    (twin.m / ".museignore").write_text("new.txt\n.museignore\n")
    assert _ok(muse, twin.m, "--dirty") == plain


def test_dirty_with_a_revision_is_refused(muse: MuseRunner, twin: Twin) -> None:
    _linear(twin)
    result = changes_nothing(muse, twin.m, "describe", "--dirty", "HEAD", exit_code=2)
    assert result.stderr.startswith("error: --dirty describes the working tree: it takes "
                                    "no revision")
    assert "hint: " in result.stderr


def test_always_and_no_tags(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "a.txt", "1\n")
    head = commit(muse, repo_dir, "one")
    result = changes_nothing(muse, repo_dir, "describe", exit_code=3)
    assert result.stderr.splitlines() == [
        "error: no names found, cannot describe anything",
        "hint: create an annotated tag (`muse tag -a v1.0 -m MSG`), add --tags to use "
        "lightweight ones, or use --always for the id alone"]
    assert _ok(muse, repo_dir, "--always") == head[:12]
    assert _ok(muse, repo_dir, "--always", "--abbrev", "8") == head[:8]
    write(repo_dir, "a.txt", "2\n")
    assert _ok(muse, repo_dir, "--always", "--dirty") == head[:12] + "-dirty"
    data = json.loads(_ok(muse, repo_dir, "--always", "--json"))
    assert data == {"revision": "HEAD", "commit": head, "tag": None, "tag_ref": None,
                    "distance": None, "abbrev": head[:12], "dirty": None, "broken": None,
                    "description": head[:12], "warnings": []}


def test_json(muse: MuseRunner, twin: Twin) -> None:
    _linear(twin)
    head = twin.muse_id["three"]
    (twin.m / "song.txt").write_text("edited\n")
    data = json.loads(_ok(muse, twin.m, "--json", "--dirty"))
    assert data == {"revision": "HEAD", "commit": head, "tag": "v1", "tag_ref": "v1",
                    "distance": 2, "abbrev": head[:12], "dirty": True, "broken": None,
                    "description": f"v1-2-g{head[:12]}-dirty", "warnings": []}
    several = json.loads(_ok(muse, twin.m, "--json", "v1", "HEAD~1"))
    assert [(d["revision"], d["tag"], d["distance"]) for d in several] == [
        ("v1", "v1", 0), ("HEAD~1", "v1", 1)]


@pytest.mark.parametrize("args, code, message", [
    (("nope",), 2, "error: unknown revision 'nope'"),
    (("HEAD", "nope"), 2, "error: unknown revision 'nope'"),
    (("--candidates", "0"), 3, "error: no tag exactly matches "),
    (("--abbrev", "-1"), 2, "error: invalid value for --abbrev: "),
])
def test_bad_input_changes_nothing(muse: MuseRunner, twin: Twin, args: tuple[str, ...],
                                   code: int, message: str) -> None:
    _linear(twin)
    result = changes_nothing(muse, twin.m, "describe", *args, exit_code=code)
    assert message in result.stderr


def test_bad_input_as_json(muse: MuseRunner, twin: Twin) -> None:
    _linear(twin)
    result = changes_nothing(muse, twin.m, "describe", "--json", "nope", exit_code=2)
    assert result.stdout == ""
    assert json.loads(result.stderr)["error"]["code"] == "bad-revision"
    result = changes_nothing(muse, twin.m, "describe", "--json", "--match", "q", exit_code=3)
    assert json.loads(result.stderr)["error"]["code"] == "no-tag"


def test_no_commit_yet(muse: MuseRunner, repo_dir: Path) -> None:
    result = changes_nothing(muse, repo_dir, "describe", "--always", exit_code=2)
    assert "HEAD does not point at a commit yet" in result.stderr


def test_candidates_zero_accepts_an_exact_tag(muse: MuseRunner, twin: Twin) -> None:
    _linear(twin)
    assert _ok(muse, twin.m, "--candidates", "0", "v1") == "v1"


def test_all_refs(muse: MuseRunner, twin: Twin) -> None:
    _linear(twin)
    assert _ok(muse, twin.m, "--all") == "heads/main"
    assert _ok(muse, twin.m, "--all", "v1") == "tags/v1"
    assert _ok(muse, twin.m, "--all") == twin.git("describe", "--all")


def test_the_walk_stops_near_a_tag(muse: MuseRunner, twin: Twin) -> None:
    for n in range(30):
        twin.commit(f"c{n}", {"a.txt": f"{n}\n"})
        if n == 2:
            twin.tag("old")
    twin.tag("near", target="HEAD~2")
    [found] = describe(repo(twin.m), [], Options())
    assert (found.tag, found.distance) == ("near", 2)
    assert found.walked <= 4  # not the 30 commits of history
    [found] = describe(repo(twin.m), [], Options(match=("old",)))
    assert (found.tag, found.distance) == ("old", 27)


def _core(text: str) -> str:
    """A description without its id: ids differ between Muse and git."""
    return re.sub(r"-g[0-9a-f]+$", "-g", text)


def _compare(muse: MuseRunner, twin: Twin, *args: str) -> None:
    for message in twin.muse_id:
        ours = _ok(muse, twin.m, *args, twin.muse_id[message])
        theirs = twin.git("describe", *args, twin.git_id[message])
        assert _core(ours) == _core(theirs), (message, args)


def test_same_as_git_on_a_merge(muse: MuseRunner, twin: Twin) -> None:
    """main: base(v1) → m1 → merge; feature: f1(vf) → f2, merged."""
    twin.commit("base", {"main.txt": "m0\n", "feat.txt": "f0\n"})
    twin.tag("v1")
    twin.branch("feature")
    twin.switch("feature")
    twin.commit("f1", {"feat.txt": "f1\n"})
    twin.tag("vf")
    twin.commit("f2", {"feat.txt": "f2\n"})
    twin.switch("main")
    twin.commit("m1", {"main.txt": "m1\n"})
    twin.merge("feature", "merge feature")
    twin.commit("after", {"main.txt": "m2\n"})
    for args in ((), ("--first-parent",), ("--tags",), ("--long",), ("--exclude", "vf")):
        _compare(muse, twin, *args)
    assert _core(_ok(muse, twin.m)) == "vf-4-g"  # nearer than v1 through the merge


def test_same_as_git_on_a_tie(muse: MuseRunner, twin: Twin) -> None:
    """Two tags at the same distance on two merged branches: git takes the one met first."""
    twin.commit("base", {"a.txt": "0\n", "b.txt": "0\n"})
    twin.tag("v0")
    twin.branch("side")
    twin.commit("left", {"a.txt": "1\n"})
    twin.tag("t-left")
    twin.switch("side")
    twin.commit("right", {"b.txt": "1\n"})
    twin.tag("t-right")
    twin.switch("main")
    twin.merge("side", "merge side")
    _compare(muse, twin)
    _compare(muse, twin, "--candidates", "1")
    assert _core(_ok(muse, twin.m)) == "t-right-2-g"  # the newer commit is met first


def test_same_as_git_with_many_tags(muse: MuseRunner, twin: Twin) -> None:
    """More tags than candidates, lightweight and annotated mixed, on a criss-cross."""
    twin.commit("c0", {"a.txt": "0\n", "b.txt": "0\n"})
    twin.tag("t0")
    twin.branch("other")
    for n in range(1, 13):
        twin.switch("other" if n % 3 == 0 else "main")
        twin.commit(f"c{n}", {("b.txt" if n % 3 == 0 else "a.txt"): f"{n}\n"})
        twin.tag(f"t{n}", annotated=n % 2 == 0)
        if n % 4 == 0:
            twin.merge("other" if n % 3 else "main", f"merge {n}")
    twin.switch("main")
    twin.commit("top", {"a.txt": "top\n"})
    for args in ((), ("--tags",), ("--candidates", "2"), ("--tags", "--candidates", "1")):
        _compare(muse, twin, *args)


# -- a tag whose ref is not its name; --broken -----------------------------------------------


def _misnamed(twin: Twin) -> None:
    """one (annotated v1, then only `lt`: a lightweight tag of v1's tag object) → two."""
    twin.commit("one", {"a.txt": "1\n"})
    twin.tag("v1")
    twin.tag("lt", annotated=False, target="v1")
    twin.ok("tag", "-d", "v1")
    twin.git("tag", "-d", "v1")
    twin.commit("two", {"a.txt": "2\n"})


def test_a_misnamed_tag_warns_and_takes_the_long_form_as_git_does(
        muse: MuseRunner, twin: Twin) -> None:
    _misnamed(twin)
    one = twin.muse_id["one"]
    for args in ((), ("HEAD~1",), ("--abbrev=0",), ("--abbrev=0", "HEAD~1"),
                 ("--all", "HEAD~1"), ("--tags",), ("--candidates=0", "HEAD~1")):
        ours = muse("describe", *args, cwd=twin.m)
        theirs = twin.git_run("describe", *args)
        assert ours.exit_code == 0, ours.output
        assert _core(ours.stdout.strip()) == _core(theirs.stdout.strip()), args
        assert ours.stderr == theirs.stderr, args
    assert _ok(muse, twin.m, "HEAD~1") == f"v1-0-g{one[:12]}"  # the id, even on the tag
    assert _ok(muse, twin.m, "--abbrev", "0", "HEAD~1") == f"v1-0-g{one}"
    both = muse("describe", "HEAD", "HEAD~1", cwd=twin.m)
    assert both.stderr == "warning: tag 'lt' is externally known as 'v1'\n"  # once
    # Under --json the warning is a field, and stderr stays quiet.
    quiet = muse("describe", "--json", "HEAD~1", cwd=twin.m)
    assert quiet.exit_code == 0 and quiet.stderr == ""
    data = json.loads(quiet.stdout)
    assert (data["tag"], data["tag_ref"], data["description"], data["warnings"]) == (
        "v1", "lt", f"v1-0-g{one[:12]}", ["tag 'lt' is externally known as 'v1'"])


def test_a_well_named_tag_gives_no_warning(muse: MuseRunner, twin: Twin) -> None:
    _linear(twin)
    result = muse("describe", "--json", "v1", cwd=twin.m)
    data = json.loads(result.stdout)
    assert (data["tag"], data["tag_ref"], data["warnings"]) == ("v1", "v1", [])
    assert muse("describe", "v1", cwd=twin.m).stderr == ""


def _damage_head_snapshot(root: Path, how: str) -> None:
    found = repo(root)
    head = found.head()
    assert head is not None
    snapshot = found.graph.commit(head).snapshot
    path = root / ".muse" / "objects" / snapshot[:2] / snapshot[2:]
    assert path.is_file()
    if how == "missing":
        path.unlink()
        return
    path.chmod(0o644)
    path.write_bytes(b"not a snapshot")


def test_broken_marks_a_tree_compared_as_dirty_does(muse: MuseRunner, twin: Twin) -> None:
    _linear(twin)
    plain = _ok(muse, twin.m)
    assert _ok(muse, twin.m, "--broken") == plain == twin.git("describe", "--broken") \
        .replace(twin.git_id["three"][:7], twin.muse_id["three"][:12])
    (twin.m / "song.txt").write_text("edited\n")
    (twin.g / "song.txt").write_text("edited\n")
    assert _ok(muse, twin.m, "--broken") == plain + "-dirty"
    assert _core(_ok(muse, twin.m, "--broken", "--dirty=.mod").removesuffix(".mod")) == \
        _core(twin.git("describe", "--broken", "--dirty=.mod").removesuffix(".mod"))
    assert _ok(muse, twin.m, "--broken=.b", "--dirty=.mod") == plain + ".mod"
    data = json.loads(_ok(muse, twin.m, "--broken", "--json"))
    assert (data["dirty"], data["broken"]) == (True, False)
    assert json.loads(_ok(muse, twin.m, "--json"))["broken"] is None


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_broken_describes_a_damaged_repository_where_dirty_fails(
        muse: MuseRunner, twin: Twin, how: str) -> None:
    _linear(twin)
    plain = _ok(muse, twin.m)
    _damage_head_snapshot(twin.m, how)
    failed = changes_nothing(muse, twin.m, "describe", "--dirty", exit_code=5)
    assert failed.stderr.startswith("error: object ")
    assert changes_nothing(muse, twin.m, "describe", "--broken", exit_code=0).stdout \
        == plain + "-broken\n"
    assert _ok(muse, twin.m, "--broken=+damaged") == plain + "+damaged"
    data = json.loads(_ok(muse, twin.m, "--broken", "--json"))
    assert (data["dirty"], data["broken"], data["description"]) == (
        None, True, plain + "-broken")


def test_broken_with_a_revision_or_in_a_bare_repository_is_refused(
        muse: MuseRunner, twin: Twin, tmp_path: Path) -> None:
    _linear(twin)
    result = changes_nothing(muse, twin.m, "describe", "--broken", "HEAD", exit_code=2)
    assert result.stderr.splitlines() == [
        "error: --broken describes the working tree: it takes no revision",
        "hint: drop the revision, or drop --broken"]
    bare = tmp_path / "bare.muse"
    bare.mkdir()
    assert muse("init", "--bare", cwd=bare).exit_code == 0
    pushed = muse("push", str(bare), "main", "v1", cwd=twin.m)
    assert pushed.exit_code == 0, pushed.output
    result = changes_nothing(muse, bare, "describe", "--broken", exit_code=3)
    assert result.stderr.startswith("error: --broken compares the working tree, and a bare "
                                    "repository has none")
