"""`muse cherry-pick` and `muse revert`: one commit's change applied (or undone) onto HEAD."""

from __future__ import annotations

import json
from pathlib import Path

from tests.branching_support import commit, read, ref, repo, write
from tests.testkit import changes_nothing, tree_state

LYRICS = "verse one\nverse two\nchorus\nverse three\nbridge\noutro\n"


def _history(muse, root: Path) -> dict[str, str]:
    """main: base → m1 (edits verse one); feature (from base): f1 edits outro, f2 adds bass."""
    write(root, "lyrics.txt", LYRICS)
    base = commit(muse, root, "base")
    assert muse("switch", "-c", "feature", cwd=root).exit_code == 0
    write(root, "lyrics.txt", LYRICS.replace("outro", "OUTRO"))
    f1 = commit(muse, root, "louder outro")
    write(root, "bass.wav", b"RIFF bass\x00")
    f2 = commit(muse, root, "add bass")
    assert muse("switch", "main", cwd=root).exit_code == 0
    write(root, "lyrics.txt", LYRICS.replace("verse one", "VERSE ONE"))
    m1 = commit(muse, root, "louder verse")
    return {"base": base, "f1": f1, "f2": f2, "m1": m1}


def _head_commit(root: Path):
    r = repo(root)
    return r.graph.commit(r.head())


def test_cherry_pick_applies_one_change_as_a_new_commit(muse, repo_dir):
    ids = _history(muse, repo_dir)
    result = muse("cherry-pick", ids["f1"][:12], cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "louder outro (signed)" in result.stdout
    made = _head_commit(repo_dir)
    assert made.parents == (ids["m1"],)
    assert made.message == "louder outro"
    assert read(repo_dir, "lyrics.txt") == LYRICS.replace("verse one", "VERSE ONE") \
        .replace("outro", "OUTRO")
    assert not (repo_dir / "bass.wav").exists()  # only f1's change, not f2's
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


def test_cherry_pick_x_records_the_origin_and_json(muse, repo_dir):
    ids = _history(muse, repo_dir)
    result = muse("cherry-pick", "-x", "--json", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["result"] == "committed" and data["picked"] == ids["f2"]
    assert data["commit"] == repo(repo_dir).head()
    assert _head_commit(repo_dir).message == \
        f"add bass\n\n(cherry picked from commit {ids['f2']})"
    assert (repo_dir / "bass.wav").read_bytes() == b"RIFF bass\x00"


def test_revert_undoes_one_change(muse, repo_dir):
    ids = _history(muse, repo_dir)
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 0
    merged = repo(repo_dir).head()
    result = muse("revert", ids["f1"], cwd=repo_dir)
    assert result.exit_code == 0, result.output
    made = _head_commit(repo_dir)
    assert made.parents == (merged,)
    assert made.message == f'Revert "louder outro"\n\nThis reverts commit {ids["f1"]}.'
    assert read(repo_dir, "lyrics.txt") == LYRICS.replace("verse one", "VERSE ONE")
    assert (repo_dir / "bass.wav").exists()  # f2 stays


def test_revert_of_a_merge_needs_a_mainline(muse, repo_dir):
    ids = _history(muse, repo_dir)
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 0
    refused = changes_nothing(muse, repo_dir, "revert", "HEAD", exit_code=2)
    assert "is a merge: which side's change is meant?" in refused.stderr
    assert "-m 1" in refused.stderr
    out_of_range = changes_nothing(muse, repo_dir, "revert", "-m", "3", "HEAD", exit_code=2)
    assert "has no parent number 3" in out_of_range.stderr
    result = muse("revert", "-m", "1", "HEAD", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "lyrics.txt") == LYRICS.replace("verse one", "VERSE ONE")
    assert not (repo_dir / "bass.wav").exists()
    assert f"changes made to {ids['m1']}." in _head_commit(repo_dir).message


def test_mainline_on_an_ordinary_commit_is_refused(muse, repo_dir):
    ids = _history(muse, repo_dir)
    result = changes_nothing(muse, repo_dir, "cherry-pick", "-m", "1", ids["f1"], exit_code=2)
    assert "-m only applies to a merge commit" in result.stderr


def test_cherry_pick_bad_input_changes_nothing(muse, repo_dir):
    ids = _history(muse, repo_dir)
    unknown = changes_nothing(muse, repo_dir, "cherry-pick", "nosuch", exit_code=2)
    assert "unknown revision 'nosuch'" in unknown.stderr
    missing = changes_nothing(muse, repo_dir, "revert", exit_code=2)
    assert "revert what?" in missing.stderr
    write(repo_dir, "lyrics.txt", "unsaved work\n")
    dirty = changes_nothing(muse, repo_dir, "cherry-pick", ids["f1"], exit_code=4)
    assert "cannot cherry-pick: the working tree has uncommitted changes: lyrics.txt " \
        "(modified)" in dirty.stderr
    dirty_revert = changes_nothing(muse, repo_dir, "revert", ids["m1"], exit_code=4)
    assert "cannot revert: the working tree has uncommitted changes" in dirty_revert.stderr


def test_continue_and_abort_without_a_pick_are_refused(muse, repo_dir):
    _history(muse, repo_dir)
    result = changes_nothing(muse, repo_dir, "cherry-pick", "--continue", exit_code=3)
    assert "no cherry-pick in progress" in result.stderr
    result = changes_nothing(muse, repo_dir, "revert", "--abort", exit_code=3)
    assert "no revert in progress" in result.stderr
    both = changes_nothing(muse, repo_dir, "revert", "--abort", "--continue", exit_code=2)
    assert "cannot be combined" in both.stderr


def _conflicting_pick(muse, root: Path) -> dict[str, str]:
    ids = _history(muse, root)
    write(root, "lyrics.txt", LYRICS.replace("verse one", "VERSE ONE").replace("outro", "fade"))
    ids["m2"] = commit(muse, root, "fade out")
    return ids


def test_conflicted_cherry_pick_stops_then_continues_with_its_message(muse, repo_dir):
    ids = _conflicting_pick(muse, repo_dir)
    result = muse("cherry-pick", ids["f1"], cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (both-modified): lyrics.txt (conflict markers in the file)" in result.stdout
    assert "muse cherry-pick --continue" in result.stderr
    assert "<<<<<<< ours\nfade\n=======\nOUTRO\n>>>>>>> theirs\n" in read(repo_dir, "lyrics.txt")
    assert repo(repo_dir).head() == ids["m2"]
    assert "Cherry-picking " + ids["f1"][:12] in muse("status", cwd=repo_dir).stdout
    status = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert status["picking"]["action"] == "cherry-pick"
    assert status["merging"] is None
    # Other tree-moving commands wait for it.
    blocked = changes_nothing(muse, repo_dir, "merge", "feature", exit_code=3)
    assert "a cherry-pick of" in blocked.stderr and "cherry-pick --abort" in blocked.stderr
    early = changes_nothing(muse, repo_dir, "cherry-pick", "--continue", exit_code=4)
    assert "unresolved: lyrics.txt" in early.stderr
    write(repo_dir, "lyrics.txt", LYRICS.replace("verse one", "VERSE ONE")
          .replace("outro", "OUTRO, fading"))
    done = muse("cherry-pick", "--continue", cwd=repo_dir)
    assert done.exit_code == 0, done.output
    made = _head_commit(repo_dir)
    assert made.parents == (ids["m2"],) and made.message == "louder outro"
    assert not (repo_dir / ".muse/PICK_HEAD").exists()
    assert not (repo_dir / ".muse/MERGE_CONFLICTS").exists()


def test_plain_commit_also_finishes_a_pick_with_one_parent(muse, repo_dir):
    ids = _conflicting_pick(muse, repo_dir)
    assert muse("cherry-pick", ids["f1"], cwd=repo_dir).exit_code == 1
    assert muse("resolve", "--ours", "lyrics.txt", cwd=repo_dir).exit_code == 0
    write(repo_dir, "lyrics.txt", LYRICS + "coda\n")
    assert muse("commit", "-m", "my own take", cwd=repo_dir).exit_code == 0
    assert len(_head_commit(repo_dir).parents) == 1
    assert not (repo_dir / ".muse/PICK_HEAD").exists()


def test_cherry_pick_abort_restores_the_tree(muse, repo_dir):
    ids = _conflicting_pick(muse, repo_dir)
    before = {k: v for k, v in tree_state(repo_dir).items() if not k.startswith(".muse/objects")}
    assert muse("cherry-pick", ids["f1"], cwd=repo_dir).exit_code == 1
    wrong = changes_nothing(muse, repo_dir, "revert", "--abort", exit_code=3)
    assert "no revert in progress: a cherry-pick is" in wrong.stderr
    result = muse("cherry-pick", "--abort", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    after = {k: v for k, v in tree_state(repo_dir).items() if not k.startswith(".muse/objects")}
    assert after == before
    assert repo(repo_dir).head() == ids["m2"]


def test_pick_with_theirs_settles_conflicts(muse, repo_dir):
    ids = _conflicting_pick(muse, repo_dir)
    result = muse("cherry-pick", "--theirs", ids["f1"], cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "lyrics.txt") == LYRICS.replace("verse one", "VERSE ONE") \
        .replace("outro", "OUTRO")


def test_picking_a_change_head_already_has_commits_nothing(muse, repo_dir):
    ids = _history(muse, repo_dir)
    assert muse("cherry-pick", ids["f1"], cwd=repo_dir).exit_code == 0
    head = repo(repo_dir).head()
    result = muse("cherry-pick", ids["f1"], cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "Nothing to commit: HEAD already has the result" in result.stdout
    assert repo(repo_dir).head() == head
    assert ref(repo_dir, "refs/heads/main") == head


def test_cherry_pick_of_a_root_commit_and_on_an_unborn_branch(muse, repo_dir):
    write(repo_dir, "song.mid", b"MThd\x00root")
    root_commit = commit(muse, repo_dir, "root")
    assert muse("switch", "-c", "other", cwd=repo_dir).exit_code == 0
    (repo_dir / ".muse/HEAD").write_text("ref: refs/heads/fresh\n")
    unborn = muse("cherry-pick", root_commit, cwd=repo_dir)
    assert unborn.exit_code == 3
    assert "has no commits yet" in unborn.stderr
    assert muse("switch", "--force", "main", cwd=repo_dir).exit_code == 0
    write(repo_dir, "other.txt", "x\n")
    commit(muse, repo_dir, "second")
    (repo_dir / "song.mid").unlink()
    commit(muse, repo_dir, "drop song")
    assert muse("cherry-pick", root_commit, cwd=repo_dir).exit_code == 0
    assert (repo_dir / "song.mid").read_bytes() == b"MThd\x00root"


def test_a_damaged_pick_state_is_one_line_and_abort_still_works(muse, repo_dir):
    ids = _conflicting_pick(muse, repo_dir)
    assert muse("cherry-pick", ids["f1"], cwd=repo_dir).exit_code == 1
    write(repo_dir, ".muse/PICK_HEAD", "{not json")
    result = changes_nothing(muse, repo_dir, "status", exit_code=3)
    assert "PICK_HEAD is damaged" in result.stderr
    assert muse("cherry-pick", "--abort", cwd=repo_dir).exit_code == 0
    assert not (repo_dir / ".muse/PICK_HEAD").exists()
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


# -- who the new commit is by: git keeps a cherry-pick's author ------------------------

OLD_TIME = 1_000_000_000  # 2001-09-09: far from now, so a kept date cannot pass by chance


def _picked_by_someone_else(muse, root: Path, monkeypatch, conflicting: bool = False):
    """main and feature as `_history`, then on feature a commit by Bea, dated OLD_TIME,
    changing the chorus (or, `conflicting`, verse one, which main changed too)."""
    ids = _history(muse, root)
    assert muse("switch", "feature", cwd=root).exit_code == 0
    line = "verse one" if conflicting else "chorus"
    write(root, "lyrics.txt", read(root, "lyrics.txt").replace(line, f"{line}, by Bea"))
    with monkeypatch.context() as patched:
        patched.setenv("MUSE_AUTHOR_NAME", "Bea Composer")
        patched.setenv("MUSE_AUTHOR_EMAIL", "bea@example.org")
        patched.setattr("muse.repo.time.time", lambda: float(OLD_TIME))
        ids["bea"] = commit(muse, root, "Bea's outro")
    assert muse("switch", "main", cwd=root).exit_code == 0
    return ids


def _assert_authored_by_bea(root: Path, original_id: str) -> None:
    from muse.keys import default_key

    original = repo(root).graph.commit(original_id)
    made = _head_commit(root)
    assert made.id != original.id
    assert (made.author_name, made.author_email) == ("Bea Composer", "bea@example.org")
    assert (made.timestamp, made.tz_offset_minutes) == \
        (original.timestamp, original.tz_offset_minutes) == (OLD_TIME, made.tz_offset_minutes)
    assert made.signer == default_key().public_key  # signed by the one who picked it


def test_cherry_pick_keeps_the_original_author_and_date(muse, repo_dir, monkeypatch):
    ids = _picked_by_someone_else(muse, repo_dir, monkeypatch)
    result = muse("cherry-pick", ids["bea"], cwd=repo_dir)
    assert result.exit_code == 0, result.output
    _assert_authored_by_bea(repo_dir, ids["bea"])
    shown = muse("log", "-n", "1", "--format=%an <%ae> %at", cwd=repo_dir).stdout
    assert shown == f"Bea Composer <bea@example.org> {OLD_TIME}\n"


def test_a_continued_or_committed_cherry_pick_keeps_the_original_author(muse, repo_dir,
                                                                        monkeypatch):
    ids = _picked_by_someone_else(muse, repo_dir, monkeypatch, conflicting=True)
    assert muse("cherry-pick", ids["bea"], cwd=repo_dir).exit_code == 1
    settled = LYRICS.replace("verse one", "VERSE ONE, by Bea")
    write(repo_dir, "lyrics.txt", settled)
    done = muse("cherry-pick", "--continue", cwd=repo_dir)
    assert done.exit_code == 0, done.output
    _assert_authored_by_bea(repo_dir, ids["bea"])
    # Finished with a plain `muse commit` instead: the same.
    assert muse("reset", "--hard", "HEAD~1", cwd=repo_dir).exit_code == 0
    assert muse("cherry-pick", ids["bea"], cwd=repo_dir).exit_code == 1
    write(repo_dir, "lyrics.txt", settled)
    assert muse("commit", "-m", "Bea's outro, settled", cwd=repo_dir).exit_code == 0
    _assert_authored_by_bea(repo_dir, ids["bea"])


def test_revert_is_by_the_one_who_reverts_dated_now(muse, repo_dir, monkeypatch):
    import time

    ids = _picked_by_someone_else(muse, repo_dir, monkeypatch)
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 0
    result = muse("revert", ids["bea"], cwd=repo_dir)
    assert result.exit_code == 0, result.output
    made = _head_commit(repo_dir)
    assert (made.author_name, made.author_email) == ("Test Musician", "test@example.org")
    assert abs(made.timestamp - time.time()) < 120
