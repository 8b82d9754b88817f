"""`muse log --stat/--name-only/--name-status/-p` and `-S`/`-G`: checked against git's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from muse.diff import TEXT_CAP
from tests.testkit import changes_nothing
from tests.twin_history import Twin


@pytest.fixture
def twin(muse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Twin:
    """Text files only (git and Muse summarise binaries differently): an edit, an
    addition, a deletion, a merge, and a commit touching two folders."""
    made = Twin(muse, tmp_path, monkeypatch)
    made.commit("Verse", {"song.txt": "verse\none\ntwo\n", "notes.txt": "notes\n"})
    made.commit("Chorus", {"song.txt": "verse\none\n2\nchorus\n"})
    made.branch("side")
    made.switch("side")
    (made.m / "lyrics").mkdir()
    (made.g / "lyrics").mkdir()
    made.commit("Bridge", {"lyrics/bridge.txt": "bridge\n", "song.txt": "VERSE\none\n2\nchorus\n"})
    made.switch("main")
    for side in (made.m, made.g):
        (side / "notes.txt").unlink()
    made.commit("Drop notes", {"outro.txt": "outro\n"})
    made.merge("side", "Merge the bridge")
    return made


def git_patch(text: str) -> str:
    """git's patch in Muse's headers: `diff a/x b/x`, no `index` line (Muse's ids differ)."""
    text = re.sub(r"^[*|\\/ ]*index [0-9a-f]+\.\.[0-9a-f]+( [0-7]+)?\n", "", text, flags=re.M)
    return text.replace("diff --git a/", "diff a/")


@pytest.mark.parametrize("args", [
    ("--name-only",),
    ("--name-status",),
    ("--name-status", "--oneline"),
    ("--name-only", "--format=%s"),
    ("--name-status", "--first-parent"),     # the merge against its first parent
    ("--name-status", "--", "song.txt"),     # only the paths asked for
    ("--name-only", "--stat"),               # names win, as in git
    ("--name-status", "-p", "--reverse", "-3"),
    ("--name-only", "--all", "--no-merges", "--", "lyrics"),
])
def test_names_match_git(twin, args):
    assert _ours(twin, *args) == _theirs(twin, *args)


@pytest.mark.parametrize("args", [
    ("-p", "--format=%s"),
    ("-p", "--first-parent", "--format=%s"),
    ("--patch", "--format=%s", "--", "song.txt"),
    ("--stat", "--format=%s"),
    ("--stat", "--oneline"),
    ("--stat", "-p", "--format=%s"),         # `---`, the stat, a blank line, the patch
    ("--stat", "-p", "-2"),
    ("-p", "--format=%s", "--graph", "--first-parent"),
    ("--stat", "--graph", "--first-parent"),
])
def test_patches_and_stats_match_git(twin, args):
    assert _ours(twin, *args) == git_patch(_theirs(twin, *args))


def _ours(twin: Twin, *args: str) -> str:
    return _comparable(twin.ok("log", *args).rstrip("\n"), args)


def _theirs(twin: Twin, *args: str) -> str:
    text = twin.git("log", *args)
    if "--oneline" in args:  # git abbreviates to 7 digits, Muse to 12
        for message, git_id in twin.git_id.items():
            text = text.replace(git_id[:7], twin.muse_id[message][:12])
    return _comparable(text, args)


def _comparable(text: str, args: tuple[str, ...]) -> str:
    """Without what differs by design: ids, `Merge:` and `Signature:` lines, dates (each
    tool's time zone), and the spaces git leaves after graph lanes."""
    if "--graph" in args:
        text = re.sub(r" +$", "", text, flags=re.M)
    if "--oneline" in args or any(a.startswith("--format") for a in args):
        return text
    text = re.sub(r"^([*|\\ ]*)commit [0-9a-f]+", r"\1commit", text, flags=re.M)
    return re.sub(r"^[*|\\/ ]*(Merge|Signature|Date): .*\n", "", text, flags=re.M)


@pytest.mark.parametrize("args", [
    ("-S", "verse"),
    ("-S", "verse", "-i"),                   # VERSE for verse: as many, ignoring case
    ("-S", "bridge", "--first-parent"),      # the merge, against its first parent
    ("-S", "bridge"),                        # a merge alone is never searched, as in git
    ("-G", "^c|two"),
    ("-G", "o", "--stat"),
    ("-G", "outro|two", "--name-status"),    # only the files that matched are shown
    ("-S", "one", "--", "song.txt"),
    ("-S", "notes", "-p", "--reverse"),
])
def test_pickaxe_matches_git(twin, args):
    assert _ours(twin, "--format=%s", *args) == git_patch(_theirs(twin, "--format=%s", *args))


def test_pickaxe_with_graph_and_json(twin):
    # The lanes pass through the commits it hides, as for --grep (git draws `...` there).
    drawn = twin.ok("log", "--graph", "--format=%s", "-S", "notes")
    assert drawn == twin.ok("log", "--graph", "--format=%s", "--grep", "Verse|Drop")
    records = json.loads(twin.ok("log", "--json", "-G", "outro", "--name-only"))
    assert [(r["message"], r["changes"]) for r in records] == [
        ("Drop notes", [{"path": "outro.txt", "status": "added"}])]


def test_full_form_with_a_patch(twin):
    out = twin.ok("log", "-p", "-2", "--no-decorate")
    entries = out.split("\ncommit ")
    merge, drop = entries[0], entries[1]
    assert merge.endswith("    Merge the bridge\n")  # a merge shows no patch, as in git
    assert drop.split("\n")[5:8] == ["    Drop notes", "", "diff a/notes.txt b/notes.txt"]
    assert out.endswith("+outro\n\n")  # every entry ends in its blank line


def test_json_carries_each_commits_changes(twin):
    records = json.loads(twin.ok("log", "--json", "--stat"))
    merge, drop = records[0], records[1]
    assert merge["changes"] == []
    assert [(c["path"], c["status"], c["insertions"], c["deletions"], c["patch"])
            for c in drop["changes"]] == [("notes.txt", "deleted", 0, 1, None),
                                          ("outro.txt", "added", 1, 0, None)]
    patched = json.loads(twin.ok("log", "--json", "-p", "-1", "HEAD~1"))[0]["changes"]
    assert patched[1]["patch"].endswith("@@ -0,0 +1 @@\n+outro")
    names = json.loads(twin.ok("log", "--json", "--name-status", "--first-parent", "-1"))
    assert names[0]["changes"] == [{"path": "lyrics/bridge.txt", "status": "added"},
                                   {"path": "song.txt", "status": "modified"}]
    assert "changes" not in json.loads(twin.ok("log", "--json", "-1"))[0]


def test_a_large_stem_is_summarised_never_read(muse, repo_dir, monkeypatch):
    from muse import store as store_module

    stem = repo_dir / "take.wav"
    stem.write_bytes(b"RIFF" + bytes(TEXT_CAP + 10))
    assert muse("commit", "-q", "-m", "stem", cwd=repo_dir).exit_code == 0
    stem.write_bytes(b"RIFF" + bytes(TEXT_CAP + 5000))
    (repo_dir / "lyrics.txt").write_text("la\n")
    assert muse("commit", "-q", "-m", "longer stem", cwd=repo_dir).exit_code == 0
    sizes: list[int] = []
    real_read = store_module.ObjectStore.read

    def read(self, oid):
        data = real_read(self, oid)
        sizes.append(len(data))
        return data

    monkeypatch.setattr(store_module.ObjectStore, "read", read)
    out = muse("log", "-p", "--stat", "--format=%s", cwd=repo_dir).stdout
    assert max(sizes) < TEXT_CAP  # snapshots, commits and the lyrics: never the stem
    assert " take.wav   | Bin 1.0 MB → 1.1 MB (+5.0 KB)\n" in out
    assert "\nBinary files differ: 1.0 MB → 1.1 MB (+5.0 KB)\n" in out
    assert "\nBinary file added: 1.0 MB\n" in out
    assert "Binary files differ: " in out and "Binary file added: " in out


@pytest.mark.parametrize("args, message", [
    (("--name-only", "--name-status"), "--name-only cannot be combined with --name-status"),
    (("-S", "a", "-G", "b"), "-S cannot be combined with -G"),
    (("-S", ""), "-S needs something to look for"),
    (("-G", "("), "-G: not a regular expression"),
])
def test_bad_combinations_are_refused(twin, muse, args, message):
    result = changes_nothing(muse, twin.m, "log", *args, exit_code=2)
    assert message in result.stderr and result.stdout == ""
