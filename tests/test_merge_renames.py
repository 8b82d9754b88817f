"""Rename-aware merge: a file renamed on one side and edited on the other merges at the new
name; renamed both ways, renamed and deleted, renamed onto an added file conflict (as git).

Histories are built from plain file operations (write, move, delete), so the same history
can be replayed in git for the text cases, and the outcomes compared.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from muse.objects import Snapshot, SnapshotEntry, hash_bytes
from muse.renames import find_renames
from tests.branching_support import commit, read, ref, repo, write
from tests.remote_support import clone_of, ok, published
from tests.testkit import changes_nothing, tree_state

LYRICS = "".join(f"line {n} of the song\n" for n in range(1, 11))
BASS = b"RIFF\x00\x00WAVEbass take one\x00" + bytes(range(256)) * 4
OTHER = "keeps the tree from emptying\n"

Ops = dict[str, Any]  # {"write": {path: data}, "move": {old: new}, "delete": [path]}


def _apply(root: Path, ops: Ops) -> None:
    for old, new in ops.get("move", {}).items():
        (root / new).parent.mkdir(parents=True, exist_ok=True)
        (root / old).replace(root / new)
    for path in ops.get("delete", []):
        (root / path).unlink()
    for path, data in ops.get("write", {}).items():
        write(root, path, data)


def _history(muse, root: Path, base: dict[str, str | bytes], theirs: Ops, ours: Ops,
             ) -> dict[str, str]:
    """Commit `base` on main, `theirs` on feature, then `ours` on main (checked out)."""
    _apply(root, {"write": {"other.txt": OTHER, **base}})
    start = commit(muse, root, "base")
    assert muse("switch", "-c", "feature", cwd=root).exit_code == 0
    _apply(root, theirs)
    feature = commit(muse, root, "their side")
    assert muse("switch", "main", cwd=root).exit_code == 0
    _apply(root, ours)
    main = commit(muse, root, "our side")
    return {"base": start, "feature": feature, "main": main}


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          check=False)


def _git_history(root: Path, base: dict[str, str | bytes], theirs: Ops, ours: Ops,
                 command: tuple[str, ...] = ("merge", "--no-edit", "feature"),
                 ) -> subprocess.CompletedProcess[str]:
    """The same history in git; then `git merge feature` (or `command`): its result."""
    root.mkdir()
    for args in (("init", "-q", "-b", "main"), ("config", "user.name", "T"),
                 ("config", "user.email", "t@example.org"), ("config", "merge.renames", "true"),
                 ("config", "commit.gpgsign", "false")):
        assert _git(root, *args).returncode == 0
    for ops, message, branch in ((({"write": {"other.txt": OTHER, **base}}), "base", None),
                                 (theirs, "theirs", "feature"), (ours, "ours", "main")):
        if branch == "feature":
            assert _git(root, "switch", "-q", "-c", "feature").returncode == 0
        elif branch == "main":
            assert _git(root, "switch", "-q", "main").returncode == 0
        _apply(root, ops)
        assert _git(root, "add", "-A").returncode == 0
        assert _git(root, "commit", "-q", "-m", message).returncode == 0
    return _git(root, *command)


def _tree(root: Path) -> dict[str, str]:
    """Every file of the working tree (outside .muse/.git), as text."""
    return {p.relative_to(root).as_posix(): p.read_text(errors="replace")
            for p in sorted(root.rglob("*"))
            if p.is_file() and not {".muse", ".git"} & set(p.relative_to(root).parts)}


def _as_muse_markers(text: str) -> str:
    """git's markers (`<<<<<<< HEAD:words.txt`, `>>>>>>> feature:lyrics.txt`) as Muse's."""
    text = re.sub(r"^<<<<<<< HEAD(:.*)?$", "<<<<<<< ours", text, flags=re.M)
    return re.sub(r"^>>>>>>> feature(:.*)?$", ">>>>>>> theirs", text, flags=re.M)


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _records(root: Path) -> list[dict[str, Any]]:
    return json.loads(read(root, ".muse/MERGE_CONFLICTS"))


def _head_tree(root: Path) -> dict[str, bytes]:
    snapshot = repo(root).head_snapshot()
    assert snapshot is not None
    store = repo(root).store
    return {e.path: store.read(e.oid) for e in snapshot.entries}


def _conflicted_but_refs_kept(root: Path, ids: dict[str, str]) -> None:
    """A stopped merge moved no ref and recorded MERGE_HEAD (docs: "The conflict form")."""
    assert ref(root, "refs/heads/main") == ids["main"]
    assert ref(root, "refs/heads/feature") == ids["feature"]
    assert read(root, ".muse/MERGE_HEAD").strip() == ids["feature"]


# -- renamed on one side, modified on the other -----------------------------------------


@pytest.mark.parametrize("renamer", ["ours", "theirs"])
def test_binary_renamed_on_one_side_edited_on_the_other_lands_at_the_new_name(
        muse, repo_dir, renamer):
    rename: Ops = {"move": {"stems/bass.wav": "stems/bass-final.wav"}}
    edit: Ops = {"write": {"stems/bass.wav": BASS + b"take two"}}
    ids = _history(muse, repo_dir, {"stems/bass.wav": BASS},
                   theirs=rename if renamer == "theirs" else edit,
                   ours=rename if renamer == "ours" else edit)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "CONFLICT" not in result.output
    tree = _head_tree(repo_dir)
    assert tree == {"stems/bass-final.wav": BASS + b"take two", "other.txt": OTHER.encode()}
    assert (repo_dir / "stems/bass-final.wav").read_bytes() == BASS + b"take two"
    assert not (repo_dir / "stems/bass.wav").exists()
    made = repo(repo_dir).graph.commit(ref(repo_dir, "refs/heads/main"))
    assert made.parents == (ids["main"], ids["feature"])
    assert muse("status", "--short", cwd=repo_dir).stdout == ""


def test_binary_renamed_and_changed_on_one_side_edited_on_the_other_conflicts(muse, repo_dir):
    """A changed binary is no exact rename, and binaries have no similarity: the old path
    is edited on one side and gone on the other, a modify-delete conflict, as before."""
    ids = _history(muse, repo_dir, {"stems/bass.wav": BASS},
                   theirs={"write": {"stems/bass.wav": BASS + b"their take"}},
                   ours={"move": {"stems/bass.wav": "stems/bass-final.wav"},
                         "write": {"stems/bass-final.wav": BASS + b"our take"}})
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (modify-delete): stems/bass.wav (see stems/bass~base.wav)" \
        in result.stdout
    assert (repo_dir / "stems/bass-final.wav").read_bytes() == BASS + b"our take"
    _conflicted_but_refs_kept(repo_dir, ids)


@needs_git
@pytest.mark.parametrize("renamer", ["ours", "theirs"])
def test_text_renamed_and_edited_merges_line_by_line_at_the_new_name_as_git(
        muse, repo_dir, tmp_path, renamer):
    rename: Ops = {"move": {"lyrics.txt": "words.txt"},
                   "write": {"words.txt": LYRICS.replace("line 2 ", "LINE 2 ")}}
    edit: Ops = {"write": {"lyrics.txt": LYRICS.replace("line 9 ", "LINE 9 ")}}
    sides = {"theirs": rename if renamer == "theirs" else edit,
             "ours": rename if renamer == "ours" else edit}
    _history(muse, repo_dir, {"lyrics.txt": LYRICS}, **sides)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    expected = LYRICS.replace("line 2 ", "LINE 2 ").replace("line 9 ", "LINE 9 ")
    assert _head_tree(repo_dir) == {"words.txt": expected.encode(),
                                    "other.txt": OTHER.encode()}
    done = _git_history(tmp_path / "git", {"lyrics.txt": LYRICS}, **sides)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _tree(tmp_path / "git") == _tree(repo_dir)


@needs_git
def test_text_renamed_with_overlapping_edits_conflicts_at_the_new_name_as_git(
        muse, repo_dir, tmp_path):
    sides: dict[str, Ops] = {
        "theirs": {"write": {"lyrics.txt": LYRICS.replace("line 5 ", "their line 5 ")}},
        "ours": {"move": {"lyrics.txt": "words.txt"},
                 "write": {"words.txt": LYRICS.replace("line 5 ", "our line 5 ")}}}
    ids = _history(muse, repo_dir, {"lyrics.txt": LYRICS}, **sides)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (both-modified): words.txt (renamed from lyrics.txt in ours; " \
        "conflict markers in the file)" in result.stdout
    assert not (repo_dir / "lyrics.txt").exists()
    _conflicted_but_refs_kept(repo_dir, ids)
    [record] = _records(repo_dir)
    assert record["path"] == "words.txt"
    assert record["renamed"] == {"base": "lyrics.txt", "ours": "words.txt",
                                 "theirs": "lyrics.txt"}
    done = _git_history(tmp_path / "git", {"lyrics.txt": LYRICS}, **sides)
    assert done.returncode == 1
    assert "CONFLICT (content): Merge conflict in words.txt" in done.stdout
    assert _as_muse_markers(read(tmp_path / "git", "words.txt")) == read(repo_dir, "words.txt")
    status = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert status["unresolved"] == ["words.txt"]
    # --theirs takes their text (theirs kept it at lyrics.txt) at the new name.
    resolved = muse("resolve", "--theirs", "words.txt", cwd=repo_dir)
    assert resolved.exit_code == 0, resolved.output
    assert read(repo_dir, "words.txt") == LYRICS.replace("line 5 ", "their line 5 ")
    assert not (repo_dir / "lyrics.txt").exists()
    assert muse("commit", "-m", "merged", cwd=repo_dir).exit_code == 0
    assert set(_head_tree(repo_dir)) == {"words.txt", "other.txt"}


@needs_git
def test_similar_text_renamed_in_another_folder_is_followed_as_git(muse, repo_dir, tmp_path):
    """Similarity pairs a renamed and edited text file even when its name changed too."""
    sides: dict[str, Ops] = {
        "theirs": {"write": {"lyrics.txt": LYRICS + "an added last line\n"}},
        "ours": {"move": {"lyrics.txt": "songs/final/verses.md"},
                 "write": {"songs/final/verses.md":
                           LYRICS.replace("line 1 ", "LINE 1 ").replace("line 3 ", "x ")}}}
    _history(muse, repo_dir, {"lyrics.txt": LYRICS}, **sides)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "songs/final/verses.md") == LYRICS.replace(
        "line 1 ", "LINE 1 ").replace("line 3 ", "x ") + "an added last line\n"
    assert not (repo_dir / "lyrics.txt").exists()
    done = _git_history(tmp_path / "git", {"lyrics.txt": LYRICS}, **sides)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _tree(tmp_path / "git") == _tree(repo_dir)


# -- renamed on both sides --------------------------------------------------------------


@needs_git
def test_renamed_to_the_same_name_on_both_sides_merges(muse, repo_dir, tmp_path):
    sides: dict[str, Ops] = {
        "theirs": {"move": {"lyrics.txt": "words.txt"},
                   "write": {"words.txt": LYRICS.replace("line 1 ", "LINE 1 ")}},
        "ours": {"move": {"lyrics.txt": "words.txt"},
                 "write": {"words.txt": LYRICS.replace("line 8 ", "LINE 8 ")}}}
    _history(muse, repo_dir, {"lyrics.txt": LYRICS}, **sides)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert read(repo_dir, "words.txt") == LYRICS.replace("line 1 ", "LINE 1 ") \
        .replace("line 8 ", "LINE 8 ")
    done = _git_history(tmp_path / "git", {"lyrics.txt": LYRICS}, **sides)
    assert done.returncode == 0
    assert _tree(tmp_path / "git") == _tree(repo_dir)


def test_binary_renamed_to_the_same_name_on_both_sides_merges(muse, repo_dir):
    rename: Ops = {"move": {"stems/bass.wav": "stems/bass-final.wav"}}
    _history(muse, repo_dir, {"stems/bass.wav": BASS}, theirs=rename, ours=rename)
    # Both sides made the same tree: a clean merge commit with that tree.
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert _head_tree(repo_dir) == {"stems/bass-final.wav": BASS, "other.txt": OTHER.encode()}


@needs_git
def test_renamed_to_different_names_is_a_rename_rename_conflict_as_git(
        muse, repo_dir, tmp_path):
    sides: dict[str, Ops] = {"theirs": {"move": {"lyrics.txt": "words.txt"}},
                             "ours": {"move": {"lyrics.txt": "verses.txt"}}}
    ids = _history(muse, repo_dir, {"lyrics.txt": LYRICS}, **sides)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (rename-rename): verses.txt (lyrics.txt renamed to verses.txt in ours " \
        "and to words.txt in theirs)" in result.stdout
    assert "delete the one you do not want" in result.stderr
    _conflicted_but_refs_kept(repo_dir, ids)
    assert read(repo_dir, "verses.txt") == LYRICS
    assert read(repo_dir, "words.txt") == LYRICS
    assert not (repo_dir / "lyrics.txt").exists()
    [record] = _records(repo_dir)
    assert (record["kind"], record["path"], record["side_files"]) == \
        ("rename-rename", "verses.txt", [])
    assert record["renamed"] == {"base": "lyrics.txt", "ours": "verses.txt",
                                 "theirs": "words.txt"}
    done = _git_history(tmp_path / "git", {"lyrics.txt": LYRICS}, **sides)
    assert done.returncode == 1
    assert "CONFLICT (rename/rename): lyrics.txt renamed to verses.txt in HEAD and to " \
        "words.txt in feature." in done.stdout
    assert _tree(tmp_path / "git") == _tree(repo_dir)  # git keeps both names too
    # Unresolved while both names exist: commit refuses, status lists both.
    status = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert status["unresolved"] == ["verses.txt", "words.txt"]
    assert muse("commit", "-m", "too early", cwd=repo_dir).exit_code == 4
    # Keeping one name by hand settles it.
    (repo_dir / "verses.txt").unlink()
    assert muse("commit", "-m", "their name", cwd=repo_dir).exit_code == 0
    assert set(_head_tree(repo_dir)) == {"words.txt", "other.txt"}


@pytest.mark.parametrize(("side", "kept", "gone"), [("ours", "stems/bass-ours.wav",
                                                     "stems/bass-theirs.wav"),
                                                    ("theirs", "stems/bass-theirs.wav",
                                                     "stems/bass-ours.wav")])
def test_binary_rename_rename_resolves_to_one_sides_name(muse, repo_dir, side, kept, gone):
    ids = _history(muse, repo_dir, {"stems/bass.wav": BASS},
                   theirs={"move": {"stems/bass.wav": "stems/bass-theirs.wav"}},
                   ours={"move": {"stems/bass.wav": "stems/bass-ours.wav"}})
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (rename-rename): stems/bass-ours.wav (stems/bass.wav renamed to " \
        "stems/bass-ours.wav in ours and to stems/bass-theirs.wav in theirs)" in result.stdout
    # Either name finds the conflict.
    resolved = muse("resolve", f"--{side}", gone, cwd=repo_dir)
    assert resolved.exit_code == 0, resolved.output
    assert resolved.stdout == f"resolved stems/bass-ours.wav ({side} version)\n" \
        f"removed {gone}\n"
    assert (repo_dir / kept).read_bytes() == BASS
    assert not (repo_dir / gone).exists()
    assert muse("status", "--json", cwd=repo_dir).exit_code == 0
    assert json.loads(muse("status", "--json", cwd=repo_dir).stdout)["unresolved"] == []
    assert muse("commit", "-m", "one name", cwd=repo_dir).exit_code == 0
    assert _head_tree(repo_dir) == {kept: BASS, "other.txt": OTHER.encode()}
    made = repo(repo_dir).graph.commit(ref(repo_dir, "refs/heads/main"))
    assert made.parents == (ids["main"], ids["feature"])


def test_rename_rename_with_merge_ours_keeps_our_name(muse, repo_dir):
    _history(muse, repo_dir, {"stems/bass.wav": BASS},
             theirs={"move": {"stems/bass.wav": "stems/bass-theirs.wav"}},
             ours={"move": {"stems/bass.wav": "stems/bass-ours.wav"}})
    result = muse("merge", "--ours", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert _head_tree(repo_dir) == {"stems/bass-ours.wav": BASS, "other.txt": OTHER.encode()}


# -- renamed on one side, deleted on the other --------------------------------------------


@needs_git
@pytest.mark.parametrize("renamer", ["ours", "theirs"])
def test_renamed_on_one_side_deleted_on_the_other_is_a_rename_delete_conflict(
        muse, repo_dir, tmp_path, renamer):
    rename: Ops = {"move": {"lyrics.txt": "verses.txt"}}
    delete: Ops = {"delete": ["lyrics.txt"]}
    sides = {"theirs": rename if renamer == "theirs" else delete,
             "ours": rename if renamer == "ours" else delete}
    ids = _history(muse, repo_dir, {"lyrics.txt": LYRICS}, **sides)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    other = "theirs" if renamer == "ours" else "ours"
    assert f"CONFLICT (rename-delete): verses.txt (renamed from lyrics.txt in {renamer}, " \
        f"deleted in {other}; see verses~base.txt)" in result.stdout
    _conflicted_but_refs_kept(repo_dir, ids)
    assert read(repo_dir, "verses.txt") == LYRICS
    assert read(repo_dir, "verses~base.txt") == LYRICS
    [record] = _records(repo_dir)
    assert record["kind"] == "rename-delete"
    assert (record["ours"] is None) == (renamer == "theirs")
    done = _git_history(tmp_path / "git", {"lyrics.txt": LYRICS}, **sides)
    assert done.returncode == 1
    assert "CONFLICT (rename/delete): lyrics.txt renamed to verses.txt in" in done.stdout
    git_tree = _tree(tmp_path / "git")
    assert git_tree == {k: v for k, v in _tree(repo_dir).items() if k != "verses~base.txt"}
    # Taking the deleting side removes the renamed file and its side file.
    resolved = muse("resolve", f"--{other}", "verses.txt", cwd=repo_dir)
    assert resolved.exit_code == 0, resolved.output
    assert not (repo_dir / "verses.txt").exists()
    assert not (repo_dir / "verses~base.txt").exists()
    assert muse("commit", "-m", "deleted", cwd=repo_dir).exit_code == 0
    assert _head_tree(repo_dir) == {"other.txt": OTHER.encode()}


def test_binary_rename_delete_kept_with_resolve_ours(muse, repo_dir):
    _history(muse, repo_dir, {"stems/bass.wav": BASS},
             theirs={"delete": ["stems/bass.wav"]},
             ours={"move": {"stems/bass.wav": "stems/bass-final.wav"}})
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (rename-delete): stems/bass-final.wav (renamed from stems/bass.wav in " \
        "ours, deleted in theirs; see stems/bass-final~base.wav)" in result.stdout
    assert muse("resolve", "--ours", cwd=repo_dir).exit_code == 0
    assert muse("commit", "-m", "kept", cwd=repo_dir).exit_code == 0
    assert _head_tree(repo_dir) == {"stems/bass-final.wav": BASS, "other.txt": OTHER.encode()}


# -- renamed onto a path the other side added ----------------------------------------------


@needs_git
def test_text_renamed_onto_a_path_the_other_side_added_conflicts_as_git(
        muse, repo_dir, tmp_path):
    sides: dict[str, Ops] = {"theirs": {"write": {"verses.txt": "a new verse\n"}},
                             "ours": {"move": {"lyrics.txt": "verses.txt"}}}
    ids = _history(muse, repo_dir, {"lyrics.txt": LYRICS}, **sides)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (rename-add): verses.txt (renamed from lyrics.txt in ours, added in " \
        "theirs; conflict markers in the file)" in result.stdout
    _conflicted_but_refs_kept(repo_dir, ids)
    done = _git_history(tmp_path / "git", {"lyrics.txt": LYRICS}, **sides)
    assert done.returncode == 1
    assert "CONFLICT (add/add): Merge conflict in verses.txt" in done.stdout
    assert {k: _as_muse_markers(v) for k, v in _tree(tmp_path / "git").items()} == \
        _tree(repo_dir)
    assert _as_muse_markers(read(tmp_path / "git", "verses.txt")) == \
        read(repo_dir, "verses.txt")


def test_binary_renamed_onto_a_path_the_other_side_added_conflicts(muse, repo_dir):
    _history(muse, repo_dir, {"stems/bass.wav": BASS},
             theirs={"write": {"stems/bass-final.wav": b"their own bass\0"}},
             ours={"move": {"stems/bass.wav": "stems/bass-final.wav"}})
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (rename-add): stems/bass-final.wav (renamed from stems/bass.wav in " \
        "ours, added in theirs; see stems/bass-final~theirs.wav)" in result.stdout
    assert (repo_dir / "stems/bass-final.wav").read_bytes() == BASS
    assert (repo_dir / "stems/bass-final~theirs.wav").read_bytes() == b"their own bass\0"
    assert muse("resolve", "--theirs", "stems/bass-final.wav", cwd=repo_dir).exit_code == 0
    assert muse("commit", "-m", "theirs", cwd=repo_dir).exit_code == 0
    assert _head_tree(repo_dir) == {"stems/bass-final.wav": b"their own bass\0",
                                    "other.txt": OTHER.encode()}


# -- state, abort, cherry-pick ------------------------------------------------------------


def test_abort_of_a_rename_conflict_restores_everything(muse, repo_dir):
    _history(muse, repo_dir, {"stems/bass.wav": BASS},
             theirs={"move": {"stems/bass.wav": "stems/bass-theirs.wav"}},
             ours={"move": {"stems/bass.wav": "stems/bass-ours.wav"}})
    before = tree_state(repo_dir)
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    assert muse("merge", "--abort", cwd=repo_dir).exit_code == 0
    assert tree_state(repo_dir) == before


def test_a_merge_refused_for_a_dirty_tree_changes_nothing(muse, repo_dir):
    _history(muse, repo_dir, {"stems/bass.wav": BASS},
             theirs={"write": {"stems/bass.wav": BASS + b"edit"}},
             ours={"move": {"stems/bass.wav": "stems/bass-final.wav"}})
    write(repo_dir, "stems/bass-final.wav", b"unsaved bounce")
    result = changes_nothing(muse, repo_dir, "merge", "feature", exit_code=4)
    assert "uncommitted changes" in result.stderr


def test_json_conflicts_carry_the_rename(muse, repo_dir):
    _history(muse, repo_dir, {"lyrics.txt": LYRICS},
             theirs={"move": {"lyrics.txt": "words.txt"}},
             ours={"move": {"lyrics.txt": "verses.txt"}})
    result = muse("merge", "--json", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["result"] == "conflicts"
    assert out["warnings"] == []
    assert out["conflicts"][0]["renamed"]["theirs"] == "words.txt"


@needs_git
def test_cherry_pick_applies_an_edit_to_a_file_renamed_on_head_as_git(muse, repo_dir,
                                                                      tmp_path):
    base = {"lyrics.txt": LYRICS, "stems/bass.wav": BASS}
    sides: dict[str, Ops] = {
        "theirs": {"write": {"lyrics.txt": LYRICS.replace("line 4 ", "LINE 4 "),
                             "stems/bass.wav": BASS + b"take two"}},
        "ours": {"move": {"lyrics.txt": "words.txt", "stems/bass.wav": "stems/bass-final.wav"},
                 "write": {"words.txt": LYRICS.replace("line 10 ", "LINE 10 ")}}}
    _history(muse, repo_dir, base, **sides)
    done = _git_history(tmp_path / "git", base, **sides, command=("cherry-pick", "feature"))
    assert done.returncode == 0, done.stdout + done.stderr
    main = ref(repo_dir, "refs/heads/main")
    result = muse("cherry-pick", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert _head_tree(repo_dir) == {
        "words.txt": LYRICS.replace("line 4 ", "LINE 4 ").replace("line 10 ", "LINE 10 ")
        .encode(),
        "stems/bass-final.wav": BASS + b"take two", "other.txt": OTHER.encode()}
    made = repo(repo_dir).graph.commit(ref(repo_dir, "refs/heads/main"))
    assert made.parents == (main,)
    assert _tree(tmp_path / "git") == _tree(repo_dir)


def test_cherry_pick_of_a_rename_onto_a_deleted_file_stops(muse, repo_dir):
    ids = _history(muse, repo_dir, {"lyrics.txt": LYRICS},
                   theirs={"move": {"lyrics.txt": "verses.txt"}},
                   ours={"delete": ["lyrics.txt"]})
    result = muse("cherry-pick", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (rename-delete): verses.txt (renamed from lyrics.txt in theirs, " \
        "deleted in ours; see verses~base.txt)" in result.stdout
    assert ref(repo_dir, "refs/heads/main") == ids["main"]
    assert json.loads(read(repo_dir, ".muse/PICK_HEAD"))["commit"] == ids["feature"]
    assert muse("resolve", "--theirs", cwd=repo_dir).exit_code == 0
    assert muse("cherry-pick", "--continue", cwd=repo_dir).exit_code == 0
    assert _head_tree(repo_dir) == {"verses.txt": LYRICS.encode(),
                                    "other.txt": OTHER.encode()}


# -- settings: the rename limit, turning detection off --------------------------------------


def _many_similar_renames(muse, root: Path) -> None:
    base = {f"notes/{n}.txt": LYRICS + f"note {n}\n" * 3 for n in range(3)}
    _history(muse, root, {**base, "stems/bass.wav": BASS},
             theirs={"write": {**{p: d + "their line\n" for p, d in base.items()},
                               "stems/bass.wav": BASS + b"take two"}},
             ours={"move": {**{p: p.replace("notes/", "renamed/") for p in base},
                            "stems/bass.wav": "stems/bass-final.wav"},
                   "write": {p.replace("notes/", "renamed/"): "first\n" + d
                             for p, d in base.items()}})


def test_past_the_rename_limit_only_exact_renames_are_followed_and_it_says_so(
        muse, repo_dir):
    _many_similar_renames(muse, repo_dir)
    assert muse("config", "merge.renameLimit", "2", cwd=repo_dir).exit_code == 0
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert result.stderr.count("warning: inexact rename detection was skipped") == 1
    assert "merge.renameLimit" in result.stderr
    # The exact rename of the stem is still followed; the edited notes are not.
    assert (repo_dir / "stems/bass-final.wav").read_bytes() == BASS + b"take two"
    assert "CONFLICT (modify-delete): notes/0.txt" in result.stdout
    assert muse("merge", "--abort", cwd=repo_dir).exit_code == 0
    as_json = muse("merge", "--json", "feature", cwd=repo_dir)
    assert as_json.exit_code == 1
    [warning] = json.loads(as_json.stdout)["warnings"]
    assert warning.startswith("inexact rename detection was skipped: 3 candidate files")
    assert "warning" not in as_json.stderr


def test_a_damaged_renamed_field_is_one_error_and_abort_still_works(muse, repo_dir):
    _history(muse, repo_dir, {"stems/bass.wav": BASS},
             theirs={"move": {"stems/bass.wav": "stems/bass-theirs.wav"}},
             ours={"move": {"stems/bass.wav": "stems/bass-ours.wav"}})
    assert muse("merge", "feature", cwd=repo_dir).exit_code == 1
    records = _records(repo_dir)
    records[0]["renamed"] = ["not", "a", "mapping"]
    write(repo_dir, ".muse/MERGE_CONFLICTS", json.dumps(records))
    for args in (("status",), ("resolve", "--ours"), ("commit", "-m", "x")):
        result = changes_nothing(muse, repo_dir, *args, exit_code=3)
        assert "MERGE_CONFLICTS is damaged" in result.stderr
    records[0]["renamed"] = {"base": "stems/bass.wav", "ours": "stems/bass-ours.wav",
                             "theirs": "../outside.wav"}
    write(repo_dir, ".muse/MERGE_CONFLICTS", json.dumps(records))
    result = changes_nothing(muse, repo_dir, "resolve", "--theirs", exit_code=3)
    assert "unsafe path" in result.stderr
    assert muse("merge", "--abort", cwd=repo_dir).exit_code == 0


def test_within_the_rename_limit_every_similar_rename_is_followed(muse, repo_dir):
    _many_similar_renames(muse, repo_dir)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    assert read(repo_dir, "renamed/1.txt") == "first\n" + LYRICS + "note 1\n" * 3 + \
        "their line\n"


def test_merge_renames_false_turns_detection_off(muse, repo_dir):
    _history(muse, repo_dir, {"stems/bass.wav": BASS},
             theirs={"write": {"stems/bass.wav": BASS + b"take two"}},
             ours={"move": {"stems/bass.wav": "stems/bass-final.wav"}})
    assert muse("config", "merge.renames", "false", cwd=repo_dir).exit_code == 0
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (modify-delete): stems/bass.wav" in result.stdout


@pytest.mark.parametrize(("key", "value"), [("merge.renameLimit", "lots"),
                                            ("merge.renameLimit", "1.5"),
                                            ("merge.renames", "maybe")])
def test_a_bad_rename_setting_refuses_the_merge(muse, repo_dir, key, value):
    _history(muse, repo_dir, {"stems/bass.wav": BASS},
             theirs={"write": {"stems/bass.wav": BASS + b"take two"}},
             ours={"move": {"stems/bass.wav": "stems/bass-final.wav"}})
    assert muse("config", key, value, cwd=repo_dir).exit_code == 0
    result = changes_nothing(muse, repo_dir, "merge", "feature", exit_code=7)
    assert key in result.stderr


# -- the detection itself ------------------------------------------------------------------


def _entries(files: dict[str, bytes]) -> tuple[dict[str, SnapshotEntry], dict[str, bytes]]:
    blobs = {hash_bytes(d): d for d in files.values()}
    snap = Snapshot.from_entries(SnapshotEntry(p, hash_bytes(d), len(d))
                                 for p, d in files.items())
    return dict(snap.as_dict()), blobs


def _detect(old: dict[str, bytes], new: dict[str, bytes], **kw: Any) -> list[tuple[str, str]]:
    o, blobs_o = _entries(old)
    n, blobs_n = _entries(new)
    blobs = {**blobs_o, **blobs_n}
    found = find_renames(o, n, blobs.__getitem__, lambda oid: len(blobs[oid]), **kw)
    return [(r.old, r.new) for r in found.found]


def test_exact_renames_pair_by_file_name_first():
    same = b"\0binary"
    assert _detect({"a/x.wav": same, "a/y.wav": same},
                   {"b/y.wav": same, "b/x.wav": same}) == [("a/x.wav", "b/x.wav"),
                                                          ("a/y.wav", "b/y.wav")]


def test_similarity_threshold_is_half_the_bytes():
    text = "".join(f"line {n:02}\n" for n in range(10)).encode()  # 10 lines of 8 bytes
    half = b"".join(text.splitlines(keepends=True)[:5]) + b"".join(
        f"new {n:02}x\n".encode() for n in range(5))
    less = b"".join(text.splitlines(keepends=True)[:4]) + b"".join(
        f"new {n:02}x\n".encode() for n in range(6))
    assert _detect({"a.txt": text}, {"b.txt": half}) == [("a.txt", "b.txt")]
    assert _detect({"a.txt": text}, {"b.txt": less}) == []


def test_similar_renames_pair_best_first_one_to_one():
    text = "".join(f"line {n}\n" for n in range(20)).encode()
    close = text + b"one more\n"
    far = text + b"".join(f"extra {n}\n".encode() for n in range(8))
    assert _detect({"old.txt": text}, {"far.txt": far, "close.txt": close}) == \
        [("old.txt", "close.txt")]


def test_binary_files_rename_only_exactly_and_the_limit_is_reported():
    assert _detect({"a.wav": b"\0" + b"x" * 100}, {"b.wav": b"\0" + b"x" * 99}) == []
    old = {f"o{n}.txt": f"text {n}\n".encode() * 10 for n in range(3)}
    new = {f"n{n}.txt": f"text {n}\n".encode() * 11 for n in range(3)}
    o, blobs_o = _entries(old)
    n, blobs_n = _entries(new)
    blobs = {**blobs_o, **blobs_n}
    found = find_renames(o, n, blobs.__getitem__, lambda oid: len(blobs[oid]), limit=2)
    assert found.found == [] and found.skipped == 3


@needs_git
def test_revert_of_a_rename_keeps_the_later_edit_as_git(muse, repo_dir, tmp_path):
    """Reverting a rename after the file was edited moves it back, edit and all."""
    git_root = tmp_path / "git"
    git_root.mkdir()
    for args in (("init", "-q", "-b", "main"), ("config", "user.name", "T"),
                 ("config", "user.email", "t@example.org"),
                 ("config", "commit.gpgsign", "false")):
        assert _git(git_root, *args).returncode == 0
    steps: list[Ops] = [{"write": {"lyrics.txt": LYRICS, "other.txt": OTHER}},
                        {"move": {"lyrics.txt": "words.txt"}},
                        {"write": {"words.txt": LYRICS.replace("line 6 ", "LINE 6 ")}}]
    for number, ops in enumerate(steps):
        for root in (repo_dir, git_root):
            _apply(root, ops)
        commit(muse, repo_dir, f"step {number}")
        assert _git(git_root, "add", "-A").returncode == 0
        assert _git(git_root, "commit", "-q", "-m", f"step {number}").returncode == 0
    result = muse("revert", "HEAD~1", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert _head_tree(repo_dir) == {"lyrics.txt": LYRICS.replace("line 6 ", "LINE 6 ")
                                    .encode(), "other.txt": OTHER.encode()}
    done = _git(git_root, "revert", "--no-edit", "HEAD~1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _tree(git_root) == _tree(repo_dir)


def test_similarity_in_small_batches_finds_the_same_renames(monkeypatch):
    import muse.renames as renames

    old = {f"old/{n}.txt": "".join(f"song {n} line {k}\n" for k in range(12)).encode()
           for n in range(6)}
    new = {p.replace("old/", "new/"): d + b"one more line\n" for p, d in old.items()}
    expected = [(p, p.replace("old/", "new/")) for p in sorted(old)]
    assert _detect(old, new) == expected
    monkeypatch.setattr(renames, "SIMILARITY_BATCH", 1)  # one deleted file per batch
    assert _detect(old, new) == expected


@needs_git
def test_two_files_renamed_to_one_name_conflict_there_as_git(muse, repo_dir, tmp_path):
    verse = "".join(f"verse line {n}\n" for n in range(10))
    base = {"lyrics.txt": LYRICS, "verse.txt": verse}
    sides: dict[str, Ops] = {"theirs": {"move": {"verse.txt": "song.txt"}},
                             "ours": {"move": {"lyrics.txt": "song.txt"}}}
    ids = _history(muse, repo_dir, base, **sides)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    [line] = [x for x in result.stdout.splitlines() if x.startswith("CONFLICT")]
    assert line.startswith("CONFLICT (rename-add): song.txt (renamed from ")
    assert line.endswith("; conflict markers in the file)")
    _conflicted_but_refs_kept(repo_dir, ids)
    assert not (repo_dir / "lyrics.txt").exists() and not (repo_dir / "verse.txt").exists()
    done = _git_history(tmp_path / "git", base, **sides)
    assert done.returncode == 1
    assert {k: _as_muse_markers(v) for k, v in _tree(tmp_path / "git").items()} == \
        _tree(repo_dir)


@needs_git
def test_rename_rename_merges_the_text_into_both_names_as_git(muse, repo_dir, tmp_path):
    sides: dict[str, Ops] = {
        "theirs": {"move": {"lyrics.txt": "words.txt"},
                   "write": {"words.txt": LYRICS.replace("line 9 ", "LINE 9 ")}},
        "ours": {"move": {"lyrics.txt": "verses.txt"},
                 "write": {"verses.txt": LYRICS.replace("line 2 ", "LINE 2 ")}}}
    _history(muse, repo_dir, {"lyrics.txt": LYRICS}, **sides)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (rename-rename): verses.txt (lyrics.txt renamed to verses.txt in ours " \
        "and to words.txt in theirs)" in result.stdout
    both = LYRICS.replace("line 2 ", "LINE 2 ").replace("line 9 ", "LINE 9 ")
    assert read(repo_dir, "verses.txt") == read(repo_dir, "words.txt") == both
    done = _git_history(tmp_path / "git", {"lyrics.txt": LYRICS}, **sides)
    assert done.returncode == 1
    assert _tree(tmp_path / "git") == _tree(repo_dir)
    # --theirs keeps their name, with their own version (as `git checkout --theirs`).
    assert muse("resolve", "--theirs", "words.txt", cwd=repo_dir).exit_code == 0
    assert read(repo_dir, "words.txt") == LYRICS.replace("line 9 ", "LINE 9 ")
    assert not (repo_dir / "verses.txt").exists()


def test_rename_rename_with_clashing_edits_has_markers_in_both_names(muse, repo_dir):
    _history(muse, repo_dir, {"lyrics.txt": LYRICS},
             theirs={"move": {"lyrics.txt": "words.txt"},
                     "write": {"words.txt": LYRICS.replace("line 5 ", "their 5 ")}},
             ours={"move": {"lyrics.txt": "verses.txt"},
                   "write": {"verses.txt": LYRICS.replace("line 5 ", "our 5 ")}})
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 1
    assert "CONFLICT (rename-rename): verses.txt (lyrics.txt renamed to verses.txt in ours " \
        "and to words.txt in theirs; conflict markers in both files)" in result.stdout
    assert "<<<<<<< ours\nour 5 " in read(repo_dir, "words.txt")
    assert read(repo_dir, "verses.txt") == read(repo_dir, "words.txt")
    # Deleting one name is not enough while the other still holds markers.
    (repo_dir / "verses.txt").unlink()
    status = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert status["unresolved"] == ["words.txt"]
    write(repo_dir, "words.txt", LYRICS.replace("line 5 ", "both 5 "))
    assert json.loads(muse("status", "--json", cwd=repo_dir).stdout)["unresolved"] == []
    assert muse("commit", "-m", "settled", cwd=repo_dir).exit_code == 0
    assert set(_head_tree(repo_dir)) == {"words.txt", "other.txt"}


def test_merge_theirs_keeps_their_name_with_the_merged_text(muse, repo_dir):
    _history(muse, repo_dir, {"lyrics.txt": LYRICS},
             theirs={"move": {"lyrics.txt": "words.txt"},
                     "write": {"words.txt": LYRICS.replace("line 5 ", "their 5 ")
                               .replace("line 9 ", "LINE 9 ")}},
             ours={"move": {"lyrics.txt": "verses.txt"},
                   "write": {"verses.txt": LYRICS.replace("line 5 ", "our 5 ")
                             .replace("line 1 ", "LINE 1 ")}})
    result = muse("merge", "--theirs", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert _head_tree(repo_dir) == {
        "words.txt": LYRICS.replace("line 5 ", "their 5 ").replace("line 9 ", "LINE 9 ")
        .replace("line 1 ", "LINE 1 ").encode(), "other.txt": OTHER.encode()}


def test_pull_merge_follows_a_rename_and_reports_the_warnings(muse, repo_dir, tmp_path):
    remote, _ = published(muse, repo_dir, tmp_path)
    write(repo_dir, "lyrics.txt", LYRICS)
    commit(muse, repo_dir, "lyrics")
    ok(muse("push", cwd=repo_dir))
    other = clone_of(muse, remote, tmp_path, "other")
    (other / "lyrics.txt").replace(other / "words.txt")
    commit(muse, other, "rename")
    ok(muse("push", cwd=other))
    write(repo_dir, "lyrics.txt", LYRICS.replace("line 3 ", "LINE 3 "))
    commit(muse, repo_dir, "edit")
    data = json.loads(ok(muse("pull", "--merge", "--json", cwd=repo_dir)).stdout)
    assert data["result"]["kind"] == "merged"
    assert data["result"]["warnings"] == []
    assert read(repo_dir, "words.txt") == LYRICS.replace("line 3 ", "LINE 3 ")
    assert not (repo_dir / "lyrics.txt").exists()


def test_empty_files_are_never_renames():
    assert _detect({"a/.keep": b"", "x.txt": b"one\n"}, {"b/.keep": b"", "x.txt": b"one\n"}) \
        == []


@needs_git
def test_a_moved_empty_file_is_no_rename_delete_conflict_as_git(muse, repo_dir, tmp_path):
    sides: dict[str, Ops] = {"theirs": {"delete": ["takes/.keep"]},
                             "ours": {"move": {"takes/.keep": "stems/.keep"}}}
    _history(muse, repo_dir, {"takes/.keep": ""}, **sides)
    result = muse("merge", "feature", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    done = _git_history(tmp_path / "git", {"takes/.keep": ""}, **sides)
    assert done.returncode == 0
    assert _tree(tmp_path / "git") == _tree(repo_dir) == {"stems/.keep": "",
                                                          "other.txt": OTHER}
