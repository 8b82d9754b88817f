"""Renames in `muse diff`, `show` and `log --stat/--name-status/--name-only/-p`, as git
shows them by default (diff.renames): checked against git's output for the same history."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from muse.diff import TEXT_CAP, folded_rename
from tests.testkit import changes_nothing
from tests.twin_history import Twin

BASS = bytes(range(256)) * 40 + b"\0bass"  # a binary stem (NUL bytes)
LYRICS = "".join(f"line {n} of the verse\n" for n in range(1, 11))


def _files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)


class Pair(Twin):
    """A Twin whose files may be binary, and moved (on both sides alike)."""

    def put(self, files: dict[str, str | bytes]) -> None:
        for side in (self.m, self.g):
            _files(side, files)

    def move(self, old: str, new: str) -> None:
        for side in (self.m, self.g):
            (side / new).parent.mkdir(parents=True, exist_ok=True)
            (side / old).rename(side / new)

    def remove(self, name: str) -> None:
        for side in (self.m, self.g):
            (side / name).unlink()

    def both(self, *args: str) -> tuple[str, str]:
        """(`muse ARGS`, `git ARGS`), each without its trailing newlines; for `show
        --format=%s` without the subject and the blank line after it (both checked)."""
        ours, theirs = self.ok(*args).rstrip("\n"), self.git(*args)
        if args[0] == "show" and "--format=%s" in args:
            subject, gap, ours = ours.partition("\n\n")
            assert (subject, gap) == theirs.partition("\n\n")[:2]
            theirs = theirs.partition("\n\n")[2]
        return ours, theirs


@pytest.fixture
def pair(muse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pair:
    """A stem, lyrics and a note committed; nothing changed yet."""
    made = Pair(muse, tmp_path, monkeypatch)
    made.put({"stems/bass.wav": BASS, "notes/lyrics.txt": LYRICS, "notes/todo.txt": "mix\n"})
    made.commit("Start", {})
    return made


def git_patch(text: str) -> str:
    """git's patch in Muse's form: `diff a/x b/y`, no `index` line (Muse's ids differ),
    no function name after a hunk's `@@` (Muse prints none)."""
    text = re.sub(r"^index [0-9a-f]+\.\.[0-9a-f]+( [0-7]+)?\n", "", text, flags=re.M)
    text = re.sub(r"^(@@ [^@]* @@).*$", r"\1", text, flags=re.M)
    return text.replace("diff --git a/", "diff a/")


# -- exact renames ----------------------------------------------------------------------


def test_an_exact_rename_of_a_binary_stem(pair):
    pair.move("stems/bass.wav", "stems/bass-final.wav")
    pair.commit("Final bass", {})
    ours, theirs = pair.both("show", "--name-status", "--format=%s")
    assert ours == theirs == "R100\tstems/bass.wav\tstems/bass-final.wav"
    ours, theirs = pair.both("log", "-1", "--name-only", "--format=%s")
    assert ours == theirs == "Final bass\n\nstems/bass-final.wav"
    # git's patch of an exact rename is its header alone, binary or not.
    ours, theirs = pair.both("show", "--format=%s")
    assert ours == git_patch(theirs) == (
        "diff a/stems/bass.wav b/stems/bass-final.wav\nsimilarity index 100%\n"
        "rename from stems/bass.wav\nrename to stems/bass-final.wav")
    # git says `Bin` for any binary; a pure rename changed 0 lines and 0 bytes.
    ours, theirs = pair.both("show", "--stat", "--format=%s")
    assert ours == theirs.replace("| Bin", "| 0") == (
        " stems/{bass.wav => bass-final.wav} | 0\n"
        " 1 file changed, 0 insertions(+), 0 deletions(-)")


def test_an_exact_rename_in_the_working_tree_and_between_commits(pair):
    pair.move("stems/bass.wav", "takes/bass.wav")
    assert pair.ok("diff", "--name-status") == "R100\tstems/bass.wav\ttakes/bass.wav\n"
    assert pair.ok("diff", "--stat") == (" {stems => takes}/bass.wav | 0\n"
                                         " 1 file changed, 0 insertions(+), 0 deletions(-)\n")
    pair.commit("Takes", {})
    ours, theirs = pair.both("diff", "--name-status", "HEAD~1", "HEAD")
    assert ours == theirs == "R100\tstems/bass.wav\ttakes/bass.wav"


# -- similar text -----------------------------------------------------------------------


def test_a_text_file_renamed_and_edited(pair):
    pair.move("notes/lyrics.txt", "lyrics/verse.txt")
    pair.put({"lyrics/verse.txt": LYRICS.replace("line 2 ", "LINE 2 ") + "a new last line\n"})
    pair.commit("Verse moved", {})
    for args in (("--name-status",), ("--stat",), ("--name-only",), ()):
        ours, theirs = pair.both("show", "--format=%s", *args)
        assert ours == git_patch(theirs), args
    assert "R083\tnotes/lyrics.txt\tlyrics/verse.txt" in pair.ok("show", "--name-status")
    patch = pair.ok("show", "--format=%s")
    assert ("diff a/notes/lyrics.txt b/lyrics/verse.txt\nsimilarity index 83%\n"
            "rename from notes/lyrics.txt\nrename to lyrics/verse.txt\n"
            "--- a/notes/lyrics.txt\n+++ b/lyrics/verse.txt\n@@ ") in patch


def test_a_rename_with_a_mode_change_prints_the_modes_first(pair):
    pair.move("notes/todo.txt", "todo.sh")
    for side in (pair.m, pair.g):
        (side / "todo.sh").chmod(0o755)
    pair.commit("Script", {})
    ours, theirs = pair.both("show", "--format=%s")
    assert ours == git_patch(theirs)
    assert ours.endswith("diff a/notes/todo.txt b/todo.sh\nold mode 100644\nnew mode 100755\n"
                         "similarity index 100%\nrename from notes/todo.txt\n"
                         "rename to todo.sh")


def test_below_the_threshold_it_stays_a_deletion_and_an_addition(pair):
    pair.remove("notes/lyrics.txt")
    pair.put({"lyrics/verse.txt": LYRICS[:60] + "".join(f"new {n}\n" for n in range(40))})
    pair.commit("Rewritten", {})
    ours, theirs = pair.both("show", "--name-status", "--format=%s")
    assert ours == theirs == "A\tlyrics/verse.txt\nD\tnotes/lyrics.txt"


# -- --stat's names -----------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "shown"), [
    ("stems/bass.wav", "stems/bass-final.wav", "stems/{bass.wav => bass-final.wav}"),
    ("z/take.txt", "a/take.txt", "{z => a}/take.txt"),
    ("notes/lyrics.txt", "new/words.txt", "notes/lyrics.txt => new/words.txt"),
    ("t.txt", "u.txt", "t.txt => u.txt"),
    ("a/b/c.txt", "a/d/c.txt", "a/{b => d}/c.txt"),
    ("x/a/y", "x/b/y", "x/{a => b}/y"),
    ("abc/x", "abd/x", "{abc => abd}/x"),
    ("a/x.wav", "b/a/x.wav", "{a => b/a}/x.wav"),
    ("s/a/b/f", "s/f", "s/{a/b => }/f"),
    ("s/f", "s/a/b/f", "s/{ => a/b}/f"),
])
def test_folded_rename_names(old, new, shown):
    assert folded_rename(old, new) == shown


def test_stat_folds_renames_into_braces_as_git(pair):
    pair.put({"z/take.txt": "take\n", "s/a/b/f.txt": "deep\n", "x/a/y.txt": "why\n"})
    pair.commit("More", {})
    pair.move("z/take.txt", "a/take.txt")
    pair.move("s/a/b/f.txt", "s/f.txt")
    pair.move("x/a/y.txt", "x/b/y.txt")
    pair.move("notes/lyrics.txt", "notes/verse/lyrics.txt")
    pair.put({"notes/verse/lyrics.txt": LYRICS + "one more\n", "notes/todo.txt": "mix\nmaster\n"})
    pair.commit("Moves", {})
    for args in (("--stat", "--format=%s"), ("--name-status", "--format=%s"),
                 ("--stat", "--oneline")):
        ours, theirs = pair.both("log", "-1", *args)
        if "--oneline" in args:  # git abbreviates to 7 digits, Muse to 12
            ours, theirs = ours.partition(" ")[2], theirs.partition(" ")[2]
        assert ours == theirs, args
    assert " notes/{ => verse}/lyrics.txt | 1 +" in pair.ok("show", "--stat")


# -- log and show on a commit that renamed -------------------------------------------------


def test_log_and_show_stat_on_a_renaming_commit_match_git(pair):
    pair.move("notes/lyrics.txt", "lyrics.txt")
    pair.put({"lyrics.txt": LYRICS + "chorus\n"})
    pair.commit("Lyrics up", {})
    pair.move("notes/todo.txt", "todo/list.txt")
    pair.commit("Todo", {})
    # The last two commits: git counts a binary's `Bin` in the stat's column width.
    for args in (("--stat",), ("--name-status",), ("--name-only",), ("-p",), ("--stat", "-p")):
        ours = pair.ok("log", "-2", "--format=%s", *args).rstrip("\n")
        assert ours == git_patch(pair.git("log", "-2", "--format=%s", *args)), args
    ours, theirs = pair.both("show", "--stat", "--format=%s", "HEAD~1")
    assert ours == theirs
    assert " notes/lyrics.txt => lyrics.txt | 1 +" in ours


def test_log_json_names_carry_the_old_path(pair):
    pair.move("stems/bass.wav", "stems/bass-final.wav")
    pair.commit("Final bass", {})
    [newest, _] = json.loads(pair.ok("log", "--json", "--name-status"))
    assert newest["changes"] == [{"path": "stems/bass-final.wav", "status": "renamed",
                                  "old_path": "stems/bass.wav"}]
    [newest, _] = json.loads(pair.ok("log", "--json", "--stat"))
    assert newest["changes"][0]["old_path"] == "stems/bass.wav"


# -- turning it off --------------------------------------------------------------------------


def _moved_stem(pair: Pair) -> None:
    pair.move("stems/bass.wav", "stems/bass-final.wav")
    pair.commit("Final bass", {})




def test_no_renames(pair):
    _moved_stem(pair)
    for command in (("show", "--format=%s"), ("log", "-1", "--format=%s"),
                    ("diff", "HEAD~1", "HEAD")):
        ours, theirs = pair.both(*command, "--name-status", "--no-renames")
        assert ours == theirs, command
        assert "R100" not in ours and "A\tstems/bass-final.wav" in ours
    patch = pair.ok("show", "--no-renames")
    assert "deleted file mode 100644" in patch and "rename from" not in patch


def test_diff_renames_false_turns_it_off_and_true_back_on(pair):
    _moved_stem(pair)
    pair.ok("config", "diff.renames", "false")
    pair.git("config", "diff.renames", "false")
    for command in (("show", "--format=%s"), ("log", "-1", "--format=%s"),
                    ("diff", "HEAD~1", "HEAD")):
        ours, theirs = pair.both(*command, "--name-status")
        assert ours == theirs, command
        assert "R100" not in ours
    pair.ok("config", "diff.renames", "true")
    assert pair.ok("diff", "--name-status", "HEAD~1", "HEAD") == \
        "R100\tstems/bass.wav\tstems/bass-final.wav\n"


@pytest.mark.parametrize(("key", "value"), [("diff.renames", "maybe"),
                                            ("diff.renameLimit", "lots"),
                                            ("diff.renameLimit", "1.5")])
@pytest.mark.parametrize("command", [("diff",), ("diff", "--no-renames"), ("show",),
                                     ("log", "--stat"), ("diff", "--json")])
def test_a_bad_rename_setting_is_a_config_error(pair, key, value, command):
    _moved_stem(pair)
    pair.ok("config", key, value)
    result = changes_nothing(pair.muse, pair.m, *command, exit_code=7)
    assert key in result.stderr
    assert result.stdout == "" or "error" in result.stdout  # --json's error object only


# -- pathspecs ---------------------------------------------------------------------------------


def test_a_pathspec_keeps_only_the_renames_it_holds_both_ends_of(pair):
    pair.move("stems/bass.wav", "takes/bass.wav")
    pair.commit("Takes", {})
    for paths in (("takes",), ("stems",), ("takes", "stems"), ("takes/bass.wav",)):
        for command in (("diff", "HEAD~1", "HEAD"), ("log", "-1", "--format=%s"),):
            ours, theirs = pair.both(*command, "--name-status", "--", *paths)
            assert ours == theirs, (command, paths)
    assert pair.ok("diff", "--name-status", "HEAD~1", "HEAD", "--", "takes") == \
        "A\ttakes/bass.wav\n"
    assert pair.ok("diff", "--name-status", "HEAD~1", "HEAD", "--", "takes", "stems") == \
        "R100\tstems/bass.wav\ttakes/bass.wav\n"


# -- --json -------------------------------------------------------------------------------------


def test_json_records_of_a_rename(pair):
    pair.move("notes/lyrics.txt", "lyrics.txt")
    pair.put({"lyrics.txt": LYRICS + "chorus\n"})
    pair.move("stems/bass.wav", "stems/bass-final.wav")
    records = json.loads(pair.ok("diff", "--json"))
    by_path = {r["path"]: r for r in records}
    assert set(by_path) == {"lyrics.txt", "stems/bass-final.wav"}
    stem = by_path["stems/bass-final.wav"]
    assert stem["status"] == "renamed" and stem["old_path"] == "stems/bass.wav"
    assert stem["similarity"] == 100 and stem["old"]["id"] == stem["new"]["id"]
    assert (stem["insertions"], stem["deletions"], stem["size_change"]) == (0, 0, 0)
    assert stem["patch"] is None
    text = by_path["lyrics.txt"]
    assert text["status"] == "renamed" and text["old_path"] == "notes/lyrics.txt"
    assert 50 <= text["similarity"] < 100 and text["insertions"] == 1
    assert text["patch"].startswith("--- a/notes/lyrics.txt\n+++ b/lyrics.txt\n")
    # Every other record keeps its shape, with the two new fields null.
    pair.ok("config", "diff.renames", "false")
    records = json.loads(pair.ok("diff", "--json"))
    assert {r["status"] for r in records} == {"added", "deleted"}
    assert all(r["old_path"] is None and r["similarity"] is None for r in records)


# -- the rename limit ----------------------------------------------------------------------------


def test_past_diff_rename_limit_only_exact_renames_and_one_warning(pair):
    pair.put({f"notes/{n}.txt": LYRICS + f"note {n}\n" for n in range(3)})
    pair.commit("Notes", {})
    for n in range(3):
        pair.move(f"notes/{n}.txt", f"renamed/{n}.txt")
        pair.put({f"renamed/{n}.txt": LYRICS + f"note {n}\nedited\n"})
    pair.move("stems/bass.wav", "stems/bass-final.wav")
    pair.commit("Renamed notes", {})
    pair.ok("config", "diff.renameLimit", "2")
    result = pair.muse("diff", "--name-status", "HEAD~1", "HEAD", cwd=pair.m)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("warning: inexact rename detection was skipped") == 1
    assert "diff.renameLimit (2)" in result.stderr
    assert "R100\tstems/bass.wav\tstems/bass-final.wav" in result.stdout
    assert "D\tnotes/0.txt" in result.stdout and "A\trenamed/0.txt" in result.stdout
    # log says it once, however many commits skipped it.
    pair.move("renamed/0.txt", "again/0.txt")
    pair.move("renamed/1.txt", "again/1.txt")
    pair.move("renamed/2.txt", "again/2.txt")
    pair.put({f"again/{n}.txt": LYRICS + f"note {n}\n" for n in range(3)})
    pair.commit("Again", {})
    result = pair.muse("log", "--stat", cwd=pair.m)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("warning: inexact rename detection was skipped") == 1
    # 0 is no limit, and within the limit nothing is said.
    pair.ok("config", "diff.renameLimit", "0")
    result = pair.muse("diff", "--name-status", "HEAD~2", "HEAD~1", cwd=pair.m)
    assert "warning" not in result.stderr
    assert "R0" in result.stdout and "D\tnotes/0.txt" not in result.stdout


def test_a_text_file_over_the_text_cap_renamed_and_edited_in_the_working_tree(pair):
    # Past 1 MiB a patch is a size summary, but rename detection reads up to 8 MiB:
    # the working-tree side is read whole for it, not cut at the text cap.
    big = "".join(f"bar {n}: a long line of a big MIDI text export\n" for n in range(40_000))
    assert len(big) > TEXT_CAP
    pair.put({"exports/song.txt": big})
    pair.commit("Export", {})
    pair.move("exports/song.txt", "song.txt")
    pair.put({"song.txt": big + "bar 40000: the end\n"})
    assert pair.ok("diff", "--name-status") == "R099\texports/song.txt\tsong.txt\n"
    patch = pair.ok("diff")
    assert patch.startswith("diff a/exports/song.txt b/song.txt\nsimilarity index 99%\n"
                            "rename from exports/song.txt\nrename to song.txt\n"
                            "Binary files differ: ")


def test_stash_show_shows_a_stashed_rename(pair):
    pair.move("stems/bass.wav", "stems/bass-final.wav")
    pair.ok("stash")
    assert pair.ok("stash", "show", "--name-status") == \
        "R100\tstems/bass.wav\tstems/bass-final.wav\n"
    assert pair.ok("stash", "show") == (" stems/{bass.wav => bass-final.wav} | 0\n"
                                        " 1 file changed, 0 insertions(+), 0 deletions(-)\n")
    pair.ok("config", "diff.renames", "false")
    assert pair.ok("stash", "show", "--name-status") == \
        "A\tstems/bass-final.wav\nD\tstems/bass.wav\n"
