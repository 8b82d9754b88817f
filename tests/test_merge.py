"""`muse merge`: fast-forward, clean three-way merges, conflicts, resolving and --abort."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from muse.keys import signature_status
from muse.merge import side_file_name, three_way
from muse.objects import Snapshot, SnapshotEntry
from tests.branching_support import (
    commit,
    diverged,
    head_file,
    is_executable,
    read,
    ref,
    repo,
    write,
)
from tests.testkit import changes_nothing, tree_state

A, B, C = "a" * 64, "b" * 64, "c" * 64


def _state_files(root: Path) -> tuple[bool, bool]:
    return (root / ".muse/MERGE_HEAD").exists(), (root / ".muse/MERGE_CONFLICTS").exists()


def _conflicting(muse, root: Path) -> dict[str, str]:
    """Both branches edit drums.mid; feature also adds bass.wav; main also edits song.mid."""
    write(root, "drums.mid", "drums base\0")
    write(root, "song.mid", "song v1")
    base = commit(muse, root, "base")
    assert muse("switch", "-c", "feature", cwd=root).exit_code == 0
    write(root, "drums.mid", "drums theirs\0")
    write(root, "bass.wav", "bass")
    feature = commit(muse, root, "feature drums")
    assert muse("switch", "main", cwd=root).exit_code == 0
    write(root, "drums.mid", "drums ours\0")
    write(root, "song.mid", "song v2")
    main = commit(muse, root, "main drums")
    return {"base": base, "feature": feature, "main": main}


def _blob(root: Path, rel: str) -> str:
    snapshot = repo(root).head_snapshot()
    assert snapshot is not None
    return snapshot.as_dict()[rel].oid


# -- fast-forward and up to date -----------------------------------------------------


def test_fast_forward_moves_the_branch_without_a_commit(muse, repo_dir):
    write(repo_dir, "song.mid", "v1")
    base = commit(muse, repo_dir, "base")
    assert muse("switch", "-c", "feature", cwd=repo_dir).exit_code == 0
    write(repo_dir, "song.mid", "v2")
    write(repo_dir, "bass.wav", "bass")
    ahead = commit(muse, repo_dir, "ahead")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "Fast-forward" in result.stdout
    assert ref(repo_dir, "refs/heads/main") == ahead
    assert repo(repo_dir).graph.commit(ahead).parents == (base,)
    assert read(repo_dir, "song.mid") == "v2"
    assert read(repo_dir, "bass.wav") == "bass"
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


def test_already_up_to_date(muse, repo_dir):
    ids = diverged(muse, repo_dir)
    result = changes_nothing(muse, repo_dir, "merge", ids["base"][:12], exit_code=0)
    assert "Already up to date." in result.stdout


def test_no_ff_makes_a_merge_commit(muse, repo_dir):
    write(repo_dir, "song.mid", "v1")
    base = commit(muse, repo_dir, "base")
    assert muse("switch", "-c", "feature", cwd=repo_dir).exit_code == 0
    write(repo_dir, "song.mid", "v2")
    ahead = commit(muse, repo_dir, "ahead")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    result = muse("merge", "--no-ff", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    made = repo(repo_dir).graph.commit(ref(repo_dir, "refs/heads/main"))
    assert made.parents == (base, ahead)
    assert made.message == "Merge feature into main"
    assert read(repo_dir, "song.mid") == "v2"


def test_ff_only_refuses_diverged_history(muse, repo_dir):
    diverged(muse, repo_dir)
    result = changes_nothing(muse, repo_dir, "merge", "--ff-only", "feature", exit_code=4)
    assert "cannot fast-forward to feature" in result.stderr


def test_merge_into_unborn_branch_starts_it(muse, repo_dir):
    write(repo_dir, "song.mid", "v1")
    first = commit(muse, repo_dir, "first")
    assert muse("switch", "-c", "other", cwd=repo_dir).exit_code == 0
    (repo_dir / ".muse/HEAD").write_text("ref: refs/heads/fresh\n")
    result = muse("merge", "other", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert ref(repo_dir, "refs/heads/fresh") == first


# -- clean three-way merge -----------------------------------------------------------


def test_clean_three_way_merge_makes_a_signed_two_parent_commit(muse, repo_dir):
    ids = diverged(muse, repo_dir)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "(signed)" in result.stdout
    head = ref(repo_dir, "refs/heads/main")
    made = repo(repo_dir).graph.commit(head)
    assert made.parents == (ids["main"], ids["feature"])
    assert made.message == "Merge feature into main"
    assert signature_status(made) == "good"
    assert read(repo_dir, "song.mid") == "song v2 (main)"
    assert read(repo_dir, "notes.txt") == "notes v2 (feature)"
    assert read(repo_dir, "bass.wav") == "bass"
    assert muse("status", "--short", cwd=repo_dir).stdout == ""
    assert _state_files(repo_dir) == (False, False)
    log = json.loads(muse("log", "--json", "-n", "1", cwd=repo_dir).stdout)
    assert log[0]["parents"] == [ids["main"], ids["feature"]]


def test_merge_message_and_unsigned(muse, repo_dir):
    diverged(muse, repo_dir)
    result = muse("merge", "-m", "bring in the bass", "--unsigned", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    made = repo(repo_dir).graph.commit(ref(repo_dir, "refs/heads/main"))
    assert made.message == "bring in the bass"
    assert not made.is_signed


def test_merge_takes_a_deletion_from_one_side(muse, repo_dir):
    diverged(muse, repo_dir)
    assert muse("switch", "feature", cwd=repo_dir).exit_code == 0
    (repo_dir / "bass.wav").unlink()
    (repo_dir / "song.mid").unlink()
    commit(muse, repo_dir, "drop song")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    write(repo_dir, "notes.txt", "notes v2 (feature)")  # same edit on both sides
    commit(muse, repo_dir, "same notes")
    result = muse("merge", "feature", cwd=repo_dir)
    # song.mid was edited on main and deleted on feature: that one conflicts.
    assert result.exit_code == 1
    assert "CONFLICT (modify-delete): song.mid (see song~base.mid)" in result.stdout
    assert read(repo_dir, "song.mid") == "song v2 (main)"
    assert read(repo_dir, "notes.txt") == "notes v2 (feature)"
    assert not (repo_dir / "song~theirs.mid").exists()


def test_executable_bit_change_merges(muse, repo_dir):
    write(repo_dir, "render.sh", "#!/bin/sh\necho render\n")
    write(repo_dir, "song.mid", "v1")
    commit(muse, repo_dir, "base")
    assert muse("switch", "-c", "feature", cwd=repo_dir).exit_code == 0
    (repo_dir / "render.sh").chmod(0o755)
    commit(muse, repo_dir, "make executable")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    assert not is_executable(repo_dir / "render.sh")
    write(repo_dir, "song.mid", "v2")
    commit(muse, repo_dir, "main edit")
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert is_executable(repo_dir / "render.sh")
    snapshot = repo(repo_dir).head_snapshot()
    assert snapshot is not None
    assert snapshot.as_dict()["render.sh"].executable
    assert read(repo_dir, "song.mid") == "v2"


# -- conflicts -----------------------------------------------------------------------


def test_conflict_writes_side_files_and_state(muse, repo_dir):
    ids = _conflicting(muse, repo_dir)
    ours_blob = _blob(repo_dir, "drums.mid")
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (both-modified): drums.mid (see drums~theirs.mid, drums~base.mid)" \
        in result.stdout
    assert "merge --abort" in result.stderr
    assert read(repo_dir, "drums.mid") == "drums ours\0"
    assert read(repo_dir, "drums~theirs.mid") == "drums theirs\0"
    assert read(repo_dir, "drums~base.mid") == "drums base\0"
    assert read(repo_dir, "bass.wav") == "bass"  # the clean part is applied
    assert read(repo_dir, "song.mid") == "song v2"
    assert read(repo_dir, ".muse/MERGE_HEAD").strip() == ids["feature"]
    records = json.loads(read(repo_dir, ".muse/MERGE_CONFLICTS"))
    graph = repo(repo_dir)
    blob = {name: graph.store.read_snapshot(graph.graph.commit(ids[name]).snapshot)
            .as_dict()["drums.mid"].oid for name in ("base", "feature", "main")}
    assert records == [{
        "path": "drums.mid", "kind": "both-modified", "base": blob["base"],
        "ours": ours_blob, "theirs": blob["feature"],
        "side_files": ["drums~theirs.mid", "drums~base.mid"],
        "markers": False, "resolved": False, "renamed": None,
    }]
    assert blob["main"] == ours_blob
    assert ref(repo_dir, "refs/heads/main") == ids["main"]  # nothing committed yet


def test_conflict_both_added_has_no_base_file(muse, repo_dir):
    write(repo_dir, "song.mid", "v1")
    commit(muse, repo_dir, "base")
    assert muse("switch", "-c", "feature", cwd=repo_dir).exit_code == 0
    write(repo_dir, "lead/synth.wav", "theirs\0")
    commit(muse, repo_dir, "their synth")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    write(repo_dir, "lead/synth.wav", "ours\0")
    commit(muse, repo_dir, "our synth")
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    records = json.loads(read(repo_dir, ".muse/MERGE_CONFLICTS"))
    assert records[0]["kind"] == "both-added"
    assert records[0]["base"] is None
    assert records[0]["side_files"] == ["lead/synth~theirs.wav"]
    assert read(repo_dir, "lead/synth.wav") == "ours\0"
    assert read(repo_dir, "lead/synth~theirs.wav") == "theirs\0"


def test_conflict_deleted_on_our_side_puts_theirs_at_the_path(muse, repo_dir):
    write(repo_dir, "drums.mid", "base")
    commit(muse, repo_dir, "base")
    assert muse("switch", "-c", "feature", cwd=repo_dir).exit_code == 0
    write(repo_dir, "drums.mid", "theirs")
    commit(muse, repo_dir, "edit")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    (repo_dir / "drums.mid").unlink()
    write(repo_dir, "other.txt", "keep the tree non-empty")
    commit(muse, repo_dir, "delete")
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    record = json.loads(read(repo_dir, ".muse/MERGE_CONFLICTS"))[0]
    assert record["kind"] == "modify-delete"
    assert record["ours"] is None
    assert record["side_files"] == ["drums~base.mid"]
    assert read(repo_dir, "drums.mid") == "theirs"
    assert read(repo_dir, "drums~base.mid") == "base"


def test_side_file_name_avoids_existing_paths(muse, repo_dir):
    _conflicting(muse, repo_dir)
    write(repo_dir, "drums~theirs.mid", "a tracked file with that name")
    commit(muse, repo_dir, "awkward name")
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    record = json.loads(read(repo_dir, ".muse/MERGE_CONFLICTS"))[0]
    assert record["side_files"] == ["drums~theirs2.mid", "drums~base.mid"]
    assert read(repo_dir, "drums~theirs.mid") == "a tracked file with that name"
    assert read(repo_dir, "drums~theirs2.mid") == "drums theirs\0"


def test_commit_refused_until_side_files_are_gone_then_records_the_merge(muse, repo_dir):
    ids = _conflicting(muse, repo_dir)
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    refused = muse("commit", "-m", "too early", cwd=repo_dir)
    assert refused.exit_code == 4
    assert "drums~theirs.mid" in refused.stderr
    # Resolve: keep their drums, drop the side files.
    (repo_dir / "drums~theirs.mid").replace(repo_dir / "drums.mid")
    (repo_dir / "drums~base.mid").unlink()
    result = muse("commit", "-m", "merge feature, their drums", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    made = repo(repo_dir).graph.commit(ref(repo_dir, "refs/heads/main"))
    assert made.parents == (ids["main"], ids["feature"])
    assert _state_files(repo_dir) == (False, False)
    snapshot = repo(repo_dir).head_snapshot()
    assert snapshot is not None
    assert sorted(snapshot.as_dict()) == ["bass.wav", "drums.mid", "song.mid"]
    assert read(repo_dir, "drums.mid") == "drums theirs\0"
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


def test_abort_restores_everything(muse, repo_dir):
    ids = _conflicting(muse, repo_dir)
    write(repo_dir, ".museignore", "*.tmp\n")
    commit(muse, repo_dir, "ignore tmp")
    write(repo_dir, "cache.tmp", "ignored, untouched")
    before = tree_state(repo_dir)
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    write(repo_dir, "drums.mid", "half-resolved edit")
    result = muse("merge", "--abort", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "removed drums~theirs.mid" in result.stdout
    after = tree_state(repo_dir)
    # The merge moved no ref, so even the reflogs match: every byte is back.
    assert after == before
    assert ref(repo_dir, "refs/heads/main") != ids["feature"]
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


@pytest.mark.parametrize("args", [("status",), ("commit", "-m", "resolved")])
def test_a_damaged_conflict_record_is_one_line_and_abort_still_works(muse, repo_dir, args):
    _conflicting(muse, repo_dir)
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    write(repo_dir, ".muse/MERGE_CONFLICTS", "{not json")
    result = changes_nothing(muse, repo_dir, *args, exit_code=3)
    assert "MERGE_CONFLICTS is damaged" in result.stderr
    assert "merge --abort" in result.stderr
    assert muse("merge", "--abort", cwd=repo_dir).exit_code == 0
    assert _state_files(repo_dir) == (False, False)


def test_abort_without_a_merge(muse, repo_dir):
    diverged(muse, repo_dir)
    result = changes_nothing(muse, repo_dir, "merge", "--abort", exit_code=3)
    assert "no merge in progress" in result.stderr


# -- refusals ------------------------------------------------------------------------


def test_merge_refuses_a_dirty_tree(muse, repo_dir):
    diverged(muse, repo_dir)
    write(repo_dir, "song.mid", "unsaved")
    write(repo_dir, "idea.txt", "untracked")
    result = changes_nothing(muse, repo_dir, "merge", "feature", exit_code=4)
    assert "cannot merge: the working tree has uncommitted changes: " \
           "idea.txt (added), song.mid (modified)" in result.stderr
    assert "hint:" in result.stderr


def test_merge_refuses_an_ignored_file_in_the_way(muse, repo_dir):
    diverged(muse, repo_dir)
    write(repo_dir, ".museignore", "*.wav\n")
    commit(muse, repo_dir, "ignore wav")
    write(repo_dir, "bass.wav", "my ignored bounce")
    result = changes_nothing(muse, repo_dir, "merge", "feature", exit_code=4)
    assert "bass.wav (untracked)" in result.stderr


def test_merge_refused_while_a_merge_is_in_progress(muse, repo_dir):
    _conflicting(muse, repo_dir)
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    result = changes_nothing(muse, repo_dir, "merge", "feature", exit_code=3)
    assert "cannot start a merge: a merge of" in result.stderr
    assert "merge --abort" in result.stderr


def test_merge_unknown_revision(muse, repo_dir):
    diverged(muse, repo_dir)
    result = changes_nothing(muse, repo_dir, "merge", "nosuch", exit_code=2)
    assert "unknown revision 'nosuch'" in result.stderr


def test_merge_ambiguous_revision(muse, repo_dir):
    ids = diverged(muse, repo_dir)
    assert muse("tag", "feature", ids["base"], cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "merge", "feature", exit_code=2)
    assert "ambiguous name 'feature'" in result.stderr


def test_merge_refuses_empty_message(muse, repo_dir):
    diverged(muse, repo_dir)
    result = changes_nothing(muse, repo_dir, "merge", "-m", "  ", "feature", exit_code=2)
    assert "empty merge message" in result.stderr


def test_detached_merge_moves_head(muse, repo_dir):
    ids = diverged(muse, repo_dir)
    assert muse("switch", "--detach", "main", cwd=repo_dir).exit_code == 0
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    made = repo(repo_dir).graph.commit(head_file(repo_dir))
    assert made.parents == (ids["main"], ids["feature"])
    assert made.message == "Merge feature into HEAD"
    assert ref(repo_dir, "refs/heads/main") == ids["main"]


# -- the pure parts ------------------------------------------------------------------


def _snap(**files: tuple[str, bool]) -> Snapshot:
    return Snapshot.from_entries(SnapshotEntry(p.replace("_", "."), oid, 1, x)
                                 for p, (oid, x) in files.items())


@pytest.mark.parametrize(("base", "ours", "theirs", "expected", "kind"), [
    ((A, False), (A, False), (B, False), (B, False), None),   # theirs changed
    ((A, False), (B, False), (A, False), (B, False), None),   # ours changed
    ((A, False), (B, False), (B, False), (B, False), None),   # same change
    ((A, False), (A, True), (A, False), (A, True), None),     # exec bit on one side
    ((A, False), None, (A, False), None, None),               # deleted by ours
    ((A, False), (A, False), None, None, None),               # deleted by theirs
    (None, None, (C, False), (C, False), None),               # added by theirs
    ((A, False), (B, False), (C, False), (B, False), "both-modified"),
    ((A, False), (A, True), (B, False), (A, True), "both-modified"),
    ((A, False), None, (B, False), (B, False), "modify-delete"),
    ((A, False), (B, False), None, (B, False), "modify-delete"),
    (None, (B, False), (C, False), (B, False), "both-added"),
])
def test_three_way_rules(base, ours, theirs, expected, kind):
    def snap(side):
        return _snap(f_mid=side) if side else _snap()

    plan = three_way(snap(base), snap(ours), snap(theirs))
    got = plan.merged.get("f.mid")
    assert (None if got is None else (got.oid, got.executable)) == expected
    assert [c.kind for c in plan.conflicts] == ([kind] if kind else [])


@pytest.mark.parametrize(("path", "expected"), [
    ("drums.mid", "drums~theirs.mid"),
    ("stems/bass.wav", "stems/bass~theirs.wav"),
    ("Makefile", "Makefile~theirs"),
    (".museignore", ".museignore~theirs"),
    ("mix.tar.gz", "mix.tar~theirs.gz"),
])
def test_side_file_names_keep_the_extension(path, expected):
    assert side_file_name(path, "theirs", lambda _p: False) == expected


def test_file_on_one_side_folder_on_the_other_is_refused(muse, repo_dir):
    write(repo_dir, "song.mid", "v1")
    commit(muse, repo_dir, "base")
    assert muse("switch", "-c", "feature", cwd=repo_dir).exit_code == 0
    write(repo_dir, "takes/one.wav", "a folder of takes")
    commit(muse, repo_dir, "folder")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    write(repo_dir, "takes", "a file named takes")
    commit(muse, repo_dir, "file")
    result = changes_nothing(muse, repo_dir, "merge", "feature", exit_code=4)
    assert "'takes' is a file on one side and a folder" in result.stderr


def test_merge_without_a_signing_key_changes_nothing(muse, repo_dir):
    import shutil

    from muse.keys import keys_dir

    diverged(muse, repo_dir)
    shutil.rmtree(keys_dir())
    result = changes_nothing(muse, repo_dir, "merge", "feature", exit_code=7)
    assert "no signing key" in result.stderr
    assert muse("merge", "--unsigned", "feature", cwd=repo_dir).exit_code == 0


def test_unrelated_histories_merge_against_an_empty_base(muse, repo_dir):
    write(repo_dir, "song.mid", "main song\0")
    main = commit(muse, repo_dir, "main root")
    (repo_dir / ".muse/HEAD").write_text("ref: refs/heads/other\n")
    write(repo_dir, "song.mid", "other song\0")
    write(repo_dir, "extra.wav", "extra")
    other = commit(muse, repo_dir, "other root")
    assert muse("switch", "--force", "main", cwd=repo_dir).exit_code == 0
    assert not (repo_dir / "extra.wav").exists()
    result = muse("merge", "other", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (both-added): song.mid (see song~theirs.mid)" in result.stdout
    assert read(repo_dir, "extra.wav") == "extra"
    assert read(repo_dir, ".muse/MERGE_HEAD").strip() == other
    assert ref(repo_dir, "refs/heads/main") == main
