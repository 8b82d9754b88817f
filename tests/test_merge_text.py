"""`muse merge` on text files: line-level merges, conflict markers, resolve, --ours/--theirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from muse.content_merge import TEXT_MERGE_CAP
from tests.branching_support import commit, read, ref, repo, write
from tests.testkit import changes_nothing

LYRICS = "verse one\nverse two\nchorus\nverse three\nbridge\noutro\n"
MIDI_BASE = b"MThd\x00\x00\x00\x06base"


def _branches(muse, root: Path, ours: dict[str, str | bytes],
              theirs: dict[str, str | bytes], base: dict[str, str | bytes] | None = None,
              ) -> dict[str, str]:
    """Commit `base` on main, `theirs` on feature, then `ours` on main (checked out)."""
    for rel, data in (base or {"lyrics.txt": LYRICS}).items():
        write(root, rel, data)
    start = commit(muse, root, "base")
    assert muse("switch", "-c", "feature", cwd=root).exit_code == 0
    for rel, data in theirs.items():
        write(root, rel, data)
    feature = commit(muse, root, "their edit")
    assert muse("switch", "main", cwd=root).exit_code == 0
    for rel, data in ours.items():
        write(root, rel, data)
    main = commit(muse, root, "our edit")
    return {"base": start, "feature": feature, "main": main}


def _records(root: Path) -> list[dict]:
    return json.loads(read(root, ".muse/MERGE_CONFLICTS"))


def test_edits_to_different_lines_of_one_file_merge_cleanly(muse, repo_dir):
    ids = _branches(muse, repo_dir,
                    ours={"lyrics.txt": LYRICS.replace("verse one", "VERSE ONE")},
                    theirs={"lyrics.txt": LYRICS.replace("outro", "OUTRO")})
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "lyrics.txt") == LYRICS.replace("verse one", "VERSE ONE") \
        .replace("outro", "OUTRO")
    made = repo(repo_dir).graph.commit(ref(repo_dir, "refs/heads/main"))
    assert made.parents == (ids["main"], ids["feature"])
    assert muse("status", "--short", cwd=repo_dir).stdout == ""  # the merged blob is stored


def test_overlapping_edits_write_markers_and_record_the_path(muse, repo_dir):
    ids = _branches(muse, repo_dir,
                    ours={"lyrics.txt": LYRICS.replace("chorus", "our chorus")},
                    theirs={"lyrics.txt": LYRICS.replace("chorus", "their chorus")
                            .replace("outro", "OUTRO")})
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (both-modified): lyrics.txt (conflict markers in the file)" in result.stdout
    assert "<<<<<<< ours" in result.stderr
    assert read(repo_dir, "lyrics.txt") == (
        "verse one\nverse two\n<<<<<<< ours\nour chorus\n=======\ntheir chorus\n"
        ">>>>>>> theirs\nverse three\nbridge\nOUTRO\n")
    [record] = _records(repo_dir)
    assert record["path"] == "lyrics.txt" and record["markers"] is True
    assert record["side_files"] == [] and record["resolved"] is False
    assert not list(repo_dir.glob("lyrics~*"))
    assert ref(repo_dir, "refs/heads/main") == ids["main"]
    status = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert status["unresolved"] == ["lyrics.txt"]
    assert "unresolved: lyrics.txt" in muse("status", cwd=repo_dir).stdout


def test_commit_refuses_while_markers_remain_then_records_the_merge(muse, repo_dir):
    ids = _branches(muse, repo_dir,
                    ours={"lyrics.txt": LYRICS.replace("chorus", "our chorus")},
                    theirs={"lyrics.txt": LYRICS.replace("chorus", "their chorus")})
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    refused = changes_nothing(muse, repo_dir, "commit", "-m", "too early", exit_code=4)
    assert "merge conflicts are unresolved: lyrics.txt" in refused.stderr
    assert "muse resolve" in refused.stderr
    write(repo_dir, "lyrics.txt", LYRICS.replace("chorus", "our chorus, their chorus"))
    result = muse("commit", "-m", "merged the choruses", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    made = repo(repo_dir).graph.commit(ref(repo_dir, "refs/heads/main"))
    assert made.parents == (ids["main"], ids["feature"])
    assert not (repo_dir / ".muse/MERGE_CONFLICTS").exists()


def test_resolve_accepts_a_file_that_keeps_marker_like_lines(muse, repo_dir):
    _branches(muse, repo_dir,
              ours={"lyrics.txt": LYRICS.replace("chorus", "our chorus")},
              theirs={"lyrics.txt": LYRICS.replace("chorus", "their chorus")})
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    result = muse("resolve", "lyrics.txt", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "resolved lyrics.txt (as it is)" in result.stdout
    assert "<<<<<<< ours" in read(repo_dir, "lyrics.txt")  # left exactly as it was
    assert _records(repo_dir)[0]["resolved"] is True
    assert muse("commit", "-m", "keep the markers on purpose", cwd=repo_dir).exit_code == 0


def test_diff3_style_from_config(muse, repo_dir):
    _branches(muse, repo_dir,
              ours={"lyrics.txt": LYRICS.replace("chorus", "our chorus")},
              theirs={"lyrics.txt": LYRICS.replace("chorus", "their chorus")})
    assert muse("config", "merge.conflictStyle", "diff3", cwd=repo_dir).exit_code == 0
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    assert "<<<<<<< ours\nour chorus\n||||||| base\nchorus\n=======\ntheir chorus\n" \
        ">>>>>>> theirs\n" in read(repo_dir, "lyrics.txt")


def test_a_bad_conflict_style_is_refused_and_changes_nothing(muse, repo_dir):
    _branches(muse, repo_dir,
              ours={"lyrics.txt": LYRICS.replace("chorus", "our chorus")},
              theirs={"lyrics.txt": LYRICS.replace("chorus", "their chorus")})
    assert muse("config", "merge.conflictStyle", "zdiff9", cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "merge", "feature", exit_code=7)
    assert "merge.conflictStyle is 'zdiff9': it must be merge or diff3" in result.stderr


@pytest.mark.parametrize(("side", "chorus"), [("ours", "our chorus"),
                                              ("theirs", "their chorus")])
def test_merge_ours_or_theirs_settles_only_the_conflicting_lines(muse, repo_dir, side, chorus):
    ids = _branches(muse, repo_dir,
                    ours={"lyrics.txt": LYRICS.replace("chorus", "our chorus"),
                          "drums.mid": MIDI_BASE + b" ours"},
                    theirs={"lyrics.txt": LYRICS.replace("chorus", "their chorus")
                            .replace("outro", "OUTRO"),
                            "drums.mid": MIDI_BASE + b" theirs"},
                    base={"lyrics.txt": LYRICS, "drums.mid": MIDI_BASE})
    result = muse("merge", f"--{side}", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "lyrics.txt") == LYRICS.replace("chorus", chorus) \
        .replace("outro", "OUTRO")  # their clean edit is kept either way
    assert (repo_dir / "drums.mid").read_bytes() == MIDI_BASE + f" {side}".encode()
    made = repo(repo_dir).graph.commit(ref(repo_dir, "refs/heads/main"))
    assert made.parents == (ids["main"], ids["feature"])


def test_binary_conflict_says_which_side_to_pick_and_resolve_takes_it(muse, repo_dir):
    _branches(muse, repo_dir, ours={"drums.mid": MIDI_BASE + b" ours"},
              theirs={"drums.mid": MIDI_BASE + b" theirs"}, base={"drums.mid": MIDI_BASE})
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (both-modified): drums.mid (see drums~theirs.mid, drums~base.mid)" \
        in result.stdout
    assert "muse resolve --ours drums.mid" in result.stderr
    resolved = muse("resolve", "--theirs", "drums.mid", cwd=repo_dir)
    assert resolved.exit_code == 0, resolved.output
    assert "resolved drums.mid (theirs version)" in resolved.stdout
    assert "removed drums~theirs.mid" in resolved.stdout
    assert (repo_dir / "drums.mid").read_bytes() == MIDI_BASE + b" theirs"
    assert not (repo_dir / "drums~theirs.mid").exists()
    assert not (repo_dir / "drums~base.mid").exists()
    assert json.loads(muse("status", "--json", cwd=repo_dir).stdout)["unresolved"] == []
    assert muse("commit", "-m", "their drums", cwd=repo_dir).exit_code == 0
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


def test_resolve_ours_for_every_conflict_including_a_deletion(muse, repo_dir):
    _branches(muse, repo_dir,
              ours={"drums.mid": MIDI_BASE + b" ours", "lyrics.txt": LYRICS + "ours\n"},
              theirs={"drums.mid": MIDI_BASE + b" theirs", "lyrics.txt": LYRICS + "theirs\n"},
              base={"drums.mid": MIDI_BASE, "lyrics.txt": LYRICS})
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    result = muse("resolve", "--ours", "--json", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert sorted(item["path"] for item in json.loads(result.stdout)) == \
        ["drums.mid", "lyrics.txt"]
    assert read(repo_dir, "lyrics.txt") == LYRICS + "ours\n"
    assert (repo_dir / "drums.mid").read_bytes() == MIDI_BASE + b" ours"
    assert muse("status", "--short", cwd=repo_dir).stdout == ""  # back to HEAD's files


def test_resolve_taking_a_deleting_side_deletes_the_file(muse, repo_dir):
    write(repo_dir, "drums.mid", MIDI_BASE)
    write(repo_dir, "keep.txt", "keep\n")
    commit(muse, repo_dir, "base")
    assert muse("switch", "-c", "feature", cwd=repo_dir).exit_code == 0
    (repo_dir / "drums.mid").unlink()
    commit(muse, repo_dir, "drop drums")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    write(repo_dir, "drums.mid", MIDI_BASE + b" ours")
    commit(muse, repo_dir, "our drums")
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    assert muse("resolve", "--theirs", "drums.mid", cwd=repo_dir).exit_code == 0
    assert not (repo_dir / "drums.mid").exists()
    assert muse("commit", "-m", "drums dropped", cwd=repo_dir).exit_code == 0
    snapshot = repo(repo_dir).head_snapshot()
    assert snapshot is not None and "drums.mid" not in snapshot.as_dict()


def test_resolve_refusals_change_nothing(muse, repo_dir):
    _branches(muse, repo_dir, ours={"lyrics.txt": LYRICS + "ours\n"},
              theirs={"lyrics.txt": LYRICS + "theirs\n"})
    none = changes_nothing(muse, repo_dir, "resolve", "--ours", exit_code=3)
    assert "no merge, cherry-pick or revert in progress" in none.stderr
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    unknown = changes_nothing(muse, repo_dir, "resolve", "--ours", "lyrics.txt", "nope.txt",
                              exit_code=2)
    assert "not a conflicted path: nope.txt" in unknown.stderr
    assert "the conflicts are: lyrics.txt" in unknown.stderr
    bare = changes_nothing(muse, repo_dir, "resolve", exit_code=2)
    assert "resolve what?" in bare.stderr


def test_abort_after_a_text_conflict_restores_every_byte(muse, repo_dir):
    from tests.testkit import tree_state

    _branches(muse, repo_dir, ours={"lyrics.txt": LYRICS + "ours\n"},
              theirs={"lyrics.txt": LYRICS + "theirs\n", "new.txt": "new\n"})
    before = tree_state(repo_dir)
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    assert muse("merge", "--abort", cwd=repo_dir).exit_code == 0
    after = tree_state(repo_dir)
    # Only the store may differ (the conflicted file's bytes were stored to be written).
    strip = {k: v for k, v in before.items() if not k.startswith(".muse/objects")}
    assert {k: v for k, v in after.items() if not k.startswith(".muse/objects")} == strip


def test_files_over_the_size_limit_keep_the_file_level_rule(muse, repo_dir, monkeypatch):
    import muse.content_merge as content_merge

    monkeypatch.setattr(content_merge, "TEXT_MERGE_CAP", len(LYRICS) + 3)
    assert TEXT_MERGE_CAP == 8 << 20
    _branches(muse, repo_dir,
              ours={"lyrics.txt": LYRICS.replace("verse one", "VERSE ONE")},
              theirs={"lyrics.txt": LYRICS.replace("outro", "a much longer outro")})
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "lyrics.txt (see lyrics~theirs.txt, lyrics~base.txt)" in result.stdout


def test_a_text_file_and_a_binary_version_merge_at_file_level(muse, repo_dir):
    _branches(muse, repo_dir, ours={"lyrics.txt": LYRICS + "ours\n"},
              theirs={"lyrics.txt": b"\x00binary now"})
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "lyrics.txt (see lyrics~theirs.txt, lyrics~base.txt)" in result.stdout


def test_executable_bit_and_content_merge_together(muse, repo_dir):
    script = "#!/bin/sh\necho one\necho two\necho three\n"
    write(repo_dir, "run.sh", script)
    commit(muse, repo_dir, "base")
    assert muse("switch", "-c", "feature", cwd=repo_dir).exit_code == 0
    write(repo_dir, "run.sh", script.replace("three", "THREE"), executable=True)
    commit(muse, repo_dir, "theirs")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    write(repo_dir, "run.sh", script.replace("one", "ONE"))
    commit(muse, repo_dir, "ours")
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 0
    snapshot = repo(repo_dir).head_snapshot()
    assert snapshot is not None and snapshot.as_dict()["run.sh"].executable
    assert read(repo_dir, "run.sh") == script.replace("one", "ONE").replace("three", "THREE")


def test_merge_json_reports_the_conflicts(muse, repo_dir):
    _branches(muse, repo_dir, ours={"lyrics.txt": LYRICS + "ours\n"},
              theirs={"lyrics.txt": LYRICS + "theirs\n"})
    result = muse("merge", "--json", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["result"] == "conflicts"
    assert [c["path"] for c in data["conflicts"]] == ["lyrics.txt"]


def test_resolve_refuses_a_hand_edited_record_outside_the_tree(muse, repo_dir):
    _branches(muse, repo_dir, ours={"lyrics.txt": LYRICS + "ours\n"},
              theirs={"lyrics.txt": LYRICS + "theirs\n"})
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    records = _records(repo_dir)
    records[0]["path"] = "../outside.txt"
    write(repo_dir, ".muse/MERGE_CONFLICTS", json.dumps(records))
    result = changes_nothing(muse, repo_dir, "resolve", "--ours", exit_code=3,
                             root=repo_dir.parent)
    assert "MERGE_CONFLICTS is damaged: unsafe path '../outside.txt'" in result.stderr
    assert muse("merge", "--abort", cwd=repo_dir).exit_code == 0
