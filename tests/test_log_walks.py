"""`muse log --all/--reverse/--first-parent/--merges/--no-merges`, checked against git's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.testkit import changes_nothing
from tests.twin_history import Twin


@pytest.fixture
def twin(muse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Twin:
    """main: Verse, Chorus, Outro, Merge the bridge (side: Bridge, Bridge again), Coda;
    `idea` off Chorus, never merged; tag `demo` on a commit no branch holds any more."""
    made = Twin(muse, tmp_path, monkeypatch)
    made.commit("Verse", {"song.txt": "verse\n"})
    made.commit("Chorus", {"song.txt": "verse\nchorus\n"})
    made.branch("side")
    made.branch("idea")
    made.branch("scrap")
    made.switch("side")
    made.commit("Bridge", {"bridge.txt": "bridge\n"})
    made.commit("Bridge again", {"bridge.txt": "bridge\nbridge\n"})
    made.switch("idea")
    made.commit("Idea", {"idea.txt": "idea\n"})
    made.switch("scrap")
    made.commit("Scrapped take", {"scrap.txt": "scrap\n"})
    made.tag("demo", annotated=True)
    made.switch("main")
    made.ok("branch", "-D", "scrap")
    made.git("branch", "-q", "-D", "scrap")
    made.commit("Outro", {"song.txt": "verse\nchorus\noutro\n"})
    made.merge("side", "Merge the bridge")
    made.commit("Coda", {"song.txt": "verse\nchorus\noutro\ncoda\n"})
    return made


def same_as_git(twin: Twin, *args: str) -> list[str]:
    """The subjects both tools list for `log ARGS`, asserted equal."""
    ours = twin.ok("log", "--format=%s", *args).splitlines()
    assert ours == twin.git("log", "--format=%s", *args).splitlines()
    return ours


@pytest.mark.parametrize("args", [
    ("--all",),
    ("--all", "-3"),
    ("--all", "^side"),
    ("--all", "--", "bridge.txt"),
    ("--reverse",),
    ("--reverse", "-2"),                   # -N chooses the newest two, then reverses them
    ("--reverse", "--all", "--no-merges"),
    ("--reverse", "Chorus..side"),
    ("--first-parent",),
    ("--first-parent", "side..main"),
    ("--first-parent", "--", "bridge.txt"),  # the merge brought it to the first-parent line
    ("--first-parent", "--all"),
    ("--merges",),
    ("--no-merges",),
    ("--no-merges", "--", "song.txt"),
    ("--min-parents=2",),
    ("--max-parents=1", "-2"),
    ("--max-parents=0",),               # root commits only
    ("--min-parents=1", "--max-parents=1", "side...idea"),
])
def test_walk_options_list_what_git_lists(twin, args):
    muse_args = [_named(twin, a, twin.muse_id) for a in args]
    git_args = [_named(twin, a, twin.git_id) for a in args]
    ours = twin.ok("log", "--format=%s", *muse_args).splitlines()
    assert ours == twin.git("log", "--format=%s", *git_args).splitlines()
    assert ours  # every case lists something


def _named(twin: Twin, arg: str, ids: dict[str, str]) -> str:
    """`Chorus..side`: a commit named by its message, as each tool knows it."""
    return arg.replace("Chorus", ids["Chorus"]) if arg.startswith("Chorus") else arg


def test_all_starts_from_tags_and_every_branch(twin):
    listed = same_as_git(twin, "--all")
    assert {"Idea", "Scrapped take", "Coda"} <= set(listed)  # a branch, a tag alone, HEAD
    assert "Scrapped take" not in twin.ok("log", "--format=%s")


@pytest.mark.parametrize("args", [
    (),
    ("--all",),
    ("--first-parent",),
    ("--first-parent", "--all"),
    ("--first-parent", "--", "bridge.txt"),
    ("--no-merges", "--", "song.txt"),
    ("--all", "-4"),
])
def test_graph_is_drawn_as_git_draws_it(twin, args):
    # git's order (a merged branch drawn whole after its merge) and git's rows, byte for byte.
    drawn = twin.ok("log", "--graph", "--format=%s", *args)
    assert drawn == twin.git_run("log", "--graph", "--format=%s", *args).stdout


def test_all_draws_every_tip_in_its_lane(twin):
    drawn = twin.ok("log", "--graph", "--all", "--format=%s").splitlines()
    assert sorted(line.lstrip("*| /_\\") for line in drawn if "*" in line) == \
        sorted(twin.ok("log", "--all", "--format=%s").splitlines())
    assert drawn[-2:] == ["* Chorus", "* Verse"]


def test_oneline_and_json_reverse_alike(twin):
    ids = [line.split()[0] for line in twin.ok("log", "--oneline", "--reverse").splitlines()]
    records = json.loads(twin.ok("log", "--json", "--reverse"))
    assert [r["id"][:12] for r in records] == ids
    assert records[0]["parents"] == [] and records[-1]["message"].startswith("Coda")
    assert json.loads(twin.ok("log", "--json", "--merges"))[0]["message"].startswith("Merge")


def test_all_takes_remote_tracking_refs(muse, tmp_path, twin):
    clone = tmp_path / "clone"
    assert muse("clone", "-q", str(twin.m), str(clone), cwd=tmp_path).exit_code == 0
    (twin.m / "late.txt").write_text("late\n")
    twin.ok("commit", "-q", "--unsigned", "-m", "Late take")
    assert muse("fetch", "-q", cwd=clone).exit_code == 0
    assert muse("switch", "-q", "-c", "solo", "demo", cwd=clone).exit_code == 0
    everything = muse("log", "--all", "--format=%s", cwd=clone).stdout.splitlines()
    assert "Late take" in everything  # only origin/main holds it
    assert "Late take" not in muse("log", "--format=%s", cwd=clone).stdout


def _stash_both(twin: Twin, text: str) -> None:
    twin.tick()
    twin.write({"song.txt": f"verse\nchorus\noutro\ncoda\n{text}\n"})
    twin.ok("stash", "-q")
    twin.git("stash", "-q")


def test_all_walks_the_newest_stash_as_git_walks_refs_stash(twin):
    """git's `log --all` walks refs/stash: the newest stash (older ones are its reflog).
    git's stash has a second commit for its index (`index on …`); Muse has no index."""
    import re

    _stash_both(twin, "take one")
    _stash_both(twin, "take two")
    ours = twin.ok("log", "--all", "--format=%s").splitlines()
    theirs = [s for s in twin.git("log", "--all", "--format=%s").splitlines()
              if not s.startswith("index on ")]

    def masked(subjects: list[str]) -> list[str]:  # the stash subject names a short id
        return [re.sub(r"\b[0-9a-f]{7,}\b", "ID", s) for s in subjects]

    assert masked(ours) == masked(theirs)
    assert masked(ours)[0] == "WIP on main: ID Coda"
    assert masked(ours).count("WIP on main: ID Coda") == 1
    newest, older = (twin.ok("rev-parse", f"stash@{{{n}}}").strip() for n in (0, 1))
    walked = twin.ok("log", "--all", "--format=%H").split()
    assert walked[0] == newest and older not in walked
    assert json.loads(twin.ok("log", "--all", "--json", "-1"))[0]["id"] == newest
    assert "WIP on main" not in twin.ok("log", "--format=%s")  # only --all walks it
    # Decorated as git decorates it: `refs/stash`, the newest one only.
    labels = twin.ok("log", "--all", "--format=%H%d").splitlines()
    assert f"{newest} (refs/stash)" in labels and all("stash" not in line for line in labels[1:])
    assert twin.git("log", "-1", "--format=%D", "refs/stash") == "refs/stash"
    records = json.loads(twin.ok("log", "--all", "--json", "-2"))
    assert [r["decorations"]["stash"] for r in records] == [True, False]
    # With no stash left, --all is the refs and HEAD again.
    twin.ok("stash", "drop", "-q")
    twin.ok("stash", "drop", "-q")
    assert "WIP on main" not in twin.ok("log", "--all", "--format=%s")


def test_all_in_an_empty_repository(muse, repo_dir):
    assert muse("log", "--all", cwd=repo_dir).stdout == "no commits yet on branch main\n"
    assert muse("log", "--all", "--json", cwd=repo_dir).stdout == "[]\n"


@pytest.mark.parametrize("args, message", [
    (("--reverse", "--graph"), "--reverse cannot be combined with --graph"),
    (("--merges", "--no-merges"), "--merges cannot be combined with --no-merges"),
    (("--min-parents=-1",), "error: invalid value for --min-parents: "),
])
def test_bad_combinations_are_refused(twin, muse, args, message):
    result = changes_nothing(muse, twin.m, "log", *args, exit_code=2)
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("items", [[], [1], [{"a": [1, {"b": "x\ny"}], "c": {}}, [], "q"]])
def test_json_array_streams_the_same_text(items):
    import click
    from click.testing import CliRunner

    from muse.cli.base import emit_json_array

    printed = CliRunner().invoke(click.command()(lambda: emit_json_array(iter(items))))
    assert printed.output == json.dumps(items, indent=2) + "\n"


def test_a_damaged_stash_list_does_not_stop_a_decorated_log(muse, repo_dir):
    (repo_dir / "take.txt").write_text("one\n")
    assert muse("commit", "-m", "one", cwd=repo_dir).exit_code == 0
    (repo_dir / ".muse" / "stash.list").write_text("not an id\n")
    shown = muse("log", "--oneline", "--decorate", cwd=repo_dir)
    assert shown.exit_code == 0 and shown.stdout.endswith("(HEAD -> main) one\n")
    listed = muse("stash", "list", cwd=repo_dir)  # where the damage is reported
    assert listed.exit_code == 3 and "stash.list is damaged (line 1)" in listed.stderr
