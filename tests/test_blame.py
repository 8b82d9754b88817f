"""`muse blame`: who last changed each line, through merges as git blames, and its refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from muse import blame as blame_module
from tests.testkit import MuseRunner, changes_nothing
from tests.twin_history import Twin


@pytest.fixture
def twin(muse: MuseRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Twin:
    return Twin(muse, tmp_path, monkeypatch)


def _history(twin: Twin) -> None:
    """notes.txt over four commits and a merge of a branch that edited its end."""
    twin.commit("one", {"notes.txt": "intro\nverse\nchorus\nbridge\noutro\n"})
    twin.branch("feature")
    twin.switch("feature")
    twin.commit("feature outro", {"notes.txt": "intro\nverse\nchorus\nbridge\nOUTRO\ncoda\n"})
    twin.switch("main")
    twin.commit("main verse", {"notes.txt": "intro\nVERSE\nchorus\nbridge\noutro\n"})
    twin.merge("feature", "merge feature")
    twin.commit("main chorus", {"notes.txt": "intro\nVERSE\nCHORUS 2\nbridge\nOUTRO\ncoda\n"})


def _blame_json(muse: MuseRunner, root: Path, *args: str) -> dict:
    result = muse("blame", "--json", *args, cwd=root)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _by_message(twin: Twin, data: dict) -> list[str | None]:
    names = {v: k for k, v in twin.muse_id.items()}
    return [names[r["commit"]] if r["commit"] else None for r in data["lines"]]


def _git_blame(twin: Twin, *args: str) -> list[str]:
    names = {v: k for k, v in twin.git_id.items()}
    out = twin.git("blame", "--porcelain", *args)
    found = []
    for line in out.splitlines():
        if re.match(r"^[0-9a-f]{40} \d+ \d+", line):
            found.append(names[line.split()[0]])
    return found


def test_lines_through_a_merge(muse: MuseRunner, twin: Twin) -> None:
    _history(twin)
    data = _blame_json(muse, twin.m, "HEAD", "--", "notes.txt")
    assert _by_message(twin, data) == ["one", "main verse", "main chorus", "one",
                                       "feature outro", "feature outro"]
    assert [r["text"] for r in data["lines"]] == ["intro", "VERSE", "CHORUS 2", "bridge",
                                                  "OUTRO", "coda"]
    assert [r["line"] for r in data["lines"]] == [1, 2, 3, 4, 5, 6]
    assert data["lines"][4]["summary"] == "feature outro"
    assert _by_message(twin, data) == _git_blame(twin, "HEAD", "--", "notes.txt")


def test_an_older_revision(muse: MuseRunner, twin: Twin) -> None:
    _history(twin)
    data = _blame_json(muse, twin.m, "HEAD~1", "notes.txt")
    assert _by_message(twin, data) == _git_blame(twin, "HEAD~1", "--", "notes.txt")
    assert data["commit"] == twin.muse_id["merge feature"]
    assert data["lines"][4]["original_line"] == 5


def test_same_as_git_on_a_longer_history(muse: MuseRunner, twin: Twin) -> None:
    lines = [f"line {n}\n" for n in range(20)]
    twin.commit("c0", {"f.txt": "".join(lines)})
    twin.branch("side")
    for n in range(1, 9):
        on_side = n % 3 == 0
        twin.switch("side" if on_side else "main")
        current = (twin.m / "f.txt").read_text().splitlines(keepends=True)
        at = n - 1 if not on_side else len(current) - 1 - n
        current[at] = f"edit {n}\n"
        if n % 2:
            current.insert(at, f"insert {n}\n")
        twin.commit(f"c{n}", {"f.txt": "".join(current)})
        if on_side:
            twin.switch("main")
            twin.merge("side", f"merge {n}")
    data = _blame_json(muse, twin.m, "--", "f.txt")
    assert _by_message(twin, data) == _git_blame(twin, "--", "f.txt")


def test_uncommitted_lines(muse: MuseRunner, twin: Twin) -> None:
    _history(twin)
    (twin.g / "notes.txt").write_text("intro\nnew line\nVERSE\nCHORUS 2\nbridge\nOUTRO\n")
    (twin.m / "notes.txt").write_text("intro\nnew line\nVERSE\nCHORUS 2\nbridge\nOUTRO\n")
    result = muse("blame", "notes.txt", cwd=twin.m)
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert rows[1].startswith("000000000000 (Not Committed Yet ")
    assert rows[1].endswith(" 2) new line")
    assert rows[0].startswith(twin.muse_id["one"][:12] + " (Test Musician     ")
    assert re.fullmatch(r"[0-9a-f]{12} \(Test Musician {5}2023-11-14 \d\d:\d\d:\d\d [+-]\d{4} "
                        r"1\) intro", rows[0])
    assert len({row.index(")") for row in rows}) == 1  # aligned
    data = _blame_json(muse, twin.m, "notes.txt")
    assert _by_message(twin, data) == [
        "one", None, "main verse", "main chorus", "one", "feature outro"]
    git = twin.git("blame", "--porcelain", "notes.txt")
    assert git.count("0" * 40) >= 1 and "author Not Committed Yet" in git


def test_line_ranges(muse: MuseRunner, twin: Twin) -> None:
    _history(twin)
    for spec, wanted in (("2,3", [2, 3]), ("5", [5, 6]), (",2", [1, 2]), ("3,+2", [3, 4]),
                         ("4,-2", [3, 4]), ("3,2", [2, 3]), ("5,99", [5, 6])):
        data = _blame_json(muse, twin.m, "-L", spec, "notes.txt")
        assert [r["line"] for r in data["lines"]] == wanted, spec
    data = _blame_json(muse, twin.m, "-L", "1,1", "-L", "6", "notes.txt")
    assert [r["line"] for r in data["lines"]] == [1, 6]
    assert _by_message(twin, data) == ["one", "feature outro"]


@pytest.mark.parametrize("spec, message", [
    ("0", "error: invalid line range '0'"),
    ("a,b", "error: invalid line range 'a,b'"),
    ("", "error: invalid line range ''"),
    ("3,+x", "error: invalid line range '3,+x'"),
    ("7", "error: -L 7: notes.txt has only 6 lines"),
])
def test_bad_line_ranges(muse: MuseRunner, twin: Twin, spec: str, message: str) -> None:
    _history(twin)
    result = changes_nothing(muse, twin.m, "blame", "-L", spec, "notes.txt", exit_code=2)
    assert result.stderr.startswith(message), result.stderr
    assert "hint: " in result.stderr


def test_binary_file_is_refused(muse: MuseRunner, twin: Twin) -> None:
    twin.commit("one", {"notes.txt": "a\n"})
    (twin.m / "stem.wav").write_bytes(b"RIFF\0\0\0\0WAVE" + bytes(range(256)) * 40)
    twin.ok("commit", "-q", "--unsigned", "-m", "stem")
    for args in (("stem.wav",), ("HEAD", "--", "stem.wav")):
        result = changes_nothing(muse, twin.m, "blame", *args, exit_code=2)
        assert result.stderr.splitlines()[0].startswith(
            "error: stem.wav is binary in ")
        assert result.stderr.splitlines()[1] == (
            "hint: binary stems have no lines; `muse log -- stem.wav` lists the commits "
            "that changed it")
    (twin.m / "latin1.txt").write_bytes(b"caf\xe9\n")
    twin.ok("commit", "-q", "--unsigned", "-m", "latin1")
    result = changes_nothing(muse, twin.m, "blame", "--json", "latin1.txt", exit_code=2)
    assert json.loads(result.stderr)["error"]["code"] == "not-text"


def test_a_large_file_is_refused_without_reading_it(muse: MuseRunner, twin: Twin,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    twin.commit("one", {"big.txt": "x\n" * 600})
    monkeypatch.setattr(blame_module, "BLAME_LIMIT", 1000)
    for args in (("big.txt",), ("HEAD", "--", "big.txt")):
        result = changes_nothing(muse, twin.m, "blame", *args, exit_code=2)
        assert result.stderr.startswith("error: big.txt is 1.2 KB in ")
        assert "blame reads text files of at most 1.0 KB" in result.stderr
    monkeypatch.setattr(blame_module, "BLAME_LIMIT", 1200)
    assert muse("blame", "big.txt", cwd=twin.m).exit_code == 0


def test_an_older_version_too_large_keeps_its_lines_on_the_newer(
        muse: MuseRunner, twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    twin.commit("one", {"f.txt": "a\n" * 400})
    twin.commit("two", {"f.txt": "a\n" * 10})
    monkeypatch.setattr(blame_module, "BLAME_LIMIT", 100)
    data = _blame_json(muse, twin.m, "f.txt")
    assert set(_by_message(twin, data)) == {"two"}


@pytest.mark.parametrize("args, code, message", [
    (("nowhere.txt",), 2, "error: no such path 'nowhere.txt' in HEAD"),
    (("HEAD", "--", "nowhere.txt"), 2, "error: no such path 'nowhere.txt' in HEAD"),
    (("nope", "--", "notes.txt"), 2, "error: unknown revision 'nope'"),
    (("../outside.txt",), 2, "error: '../outside.txt' is outside the repository"),
    (("sub",), 2, "error: sub is a folder in HEAD: blame takes one file"),
    (("HEAD", "sub"), 2, "error: sub is a folder in HEAD: blame takes one file"),
    ((".",), 2, "error: '.' is the whole working tree: blame takes one file"),
    ((), 2, "error: blame takes one path"),
    (("a", "b", "c"), 2, "error: blame takes one revision at most and one path"),
    (("--", "a", "b"), 2, "error: blame takes one revision at most and one path"),
    ((".muse/HEAD",), 2, "inside .muse/"),
])
def test_bad_paths_change_nothing(muse: MuseRunner, twin: Twin, args: tuple[str, ...],
                                  code: int, message: str) -> None:
    _history(twin)
    (twin.m / "sub").mkdir()
    (twin.m / "sub" / "x.txt").write_text("x\n")
    twin.ok("commit", "-q", "--unsigned", "-m", "sub")
    result = changes_nothing(muse, twin.m, "blame", *args, exit_code=code)
    assert message in result.stderr.splitlines()[0], result.stderr
    assert "hint: " in result.stderr


def test_deleted_and_untracked_working_files(muse: MuseRunner, twin: Twin) -> None:
    _history(twin)
    (twin.m / "notes.txt").unlink()
    result = changes_nothing(muse, twin.m, "blame", "notes.txt", exit_code=2)
    assert result.stderr.splitlines() == [
        "error: notes.txt: no such file in the working tree",
        "hint: to blame HEAD's version: muse blame HEAD -- notes.txt"]
    (twin.m / "new.txt").write_text("new\n")
    result = changes_nothing(muse, twin.m, "blame", "new.txt", exit_code=2)
    assert result.stderr.startswith("error: no such path 'new.txt' in HEAD")


def test_from_a_subfolder_and_crlf(muse: MuseRunner, twin: Twin) -> None:
    (twin.m / "sub").mkdir()
    (twin.g / "sub").mkdir()
    twin.commit("one", {"sub/w.txt": "a\r\nb\r\n"})
    twin.commit("two", {"sub/w.txt": "a\r\nB\r\nlast"})
    data = _blame_json(muse, twin.m / "sub", "w.txt")
    assert data["path"] == "sub/w.txt"
    assert [r["text"] for r in data["lines"]] == ["a", "B", "last"]
    assert _by_message(twin, data) == ["one", "two", "two"]
    assert _by_message(twin, data) == _git_blame(twin, "--", "sub/w.txt")


def test_json_shape(muse: MuseRunner, twin: Twin) -> None:
    _history(twin)
    data = _blame_json(muse, twin.m, "-L", "1,1", "notes.txt")
    assert data["path"] == "notes.txt" and data["revision"] is None and data["commit"] is None
    [record] = data["lines"]
    assert record == {"line": 1, "commit": twin.muse_id["one"], "original_line": 1,
                      "original_path": "notes.txt",
                      "author": "Test Musician", "email": "test@example.org",
                      "timestamp": 1_700_000_060, "tz_offset_minutes": record["tz_offset_minutes"],
                      "date": record["date"], "summary": "one", "text": "intro"}
    result = changes_nothing(muse, twin.m, "blame", "--json", "nope.txt", exit_code=2)
    assert result.stdout == "" and json.loads(result.stderr)["error"]["code"] == "usage"


# -- --first-parent and renames, as git blame follows them ------------------------------------


def _git_porcelain(twin: Twin, *args: str) -> list[tuple[str, int, str]]:
    """(commit message, original line, original path) per line, from `git blame --porcelain`:
    a group's header (`ID ORIG FINAL COUNT`) is followed by its `filename` the first time
    its commit appears (every time, for a commit seen under several paths); the group's
    other lines (`ID ORIG FINAL`) share it."""
    names = {v: k for k, v in twin.git_id.items()}
    found: list[list[object]] = []
    known: dict[str, str] = {}  # commit → its path, once named
    for line in twin.git("blame", "--porcelain", *args).splitlines():
        head = re.match(r"^([0-9a-f]{40}) (\d+) \d+( \d+)?$", line)
        if head:
            commit = head.group(1)
            path = known.get(commit, "") if head.group(3) else found[-1][2]
            found.append([names[commit], int(head.group(2)), path, commit])
        elif line.startswith("filename "):
            found[-1][2] = known[str(found[-1][3])] = line[len("filename "):]
    return [(str(m), int(str(n)), str(p)) for m, n, p, _ in found]


def _ours(twin: Twin, data: dict) -> list[tuple[str | None, int, str]]:
    names = {v: k for k, v in twin.muse_id.items()}
    return [(names[r["commit"]] if r["commit"] else None, r["original_line"],
             r["original_path"]) for r in data["lines"]]


def _rename(twin: Twin, old: str, new: str) -> None:
    for side in (twin.m, twin.g):
        (side / old).rename(side / new)


def _renamed_history(twin: Twin) -> None:
    """a.txt written, renamed to b.txt as is, edited, then renamed to c.txt and edited."""
    ten = "".join(f"line {n}\n" for n in range(1, 11))
    twin.commit("one", {"a.txt": ten})
    _rename(twin, "a.txt", "b.txt")
    twin.commit("rename", {})
    twin.commit("edit", {"b.txt": ten.replace("line 5\n", "LINE 5\n")})
    _rename(twin, "b.txt", "c.txt")
    twin.commit("rename and edit", {"c.txt": (twin.m / "c.txt").read_text()
                                    .replace("line 7\n", "LINE 7\n")})


def test_renames_are_followed_as_git_follows_them(muse: MuseRunner, twin: Twin) -> None:
    _renamed_history(twin)
    data = _blame_json(muse, twin.m, "--", "c.txt")
    assert _ours(twin, data) == _git_porcelain(twin, "--", "c.txt")
    assert [p for _, _, p in _ours(twin, data)] == [
        "a.txt"] * 4 + ["b.txt", "a.txt", "c.txt"] + ["a.txt"] * 3
    for revision in ("HEAD~1", "HEAD~2"):
        ours = _ours(twin, _blame_json(muse, twin.m, revision, "--", "b.txt"))
        assert ours == _git_porcelain(twin, revision, "--", "b.txt"), revision
    # The working tree's file, renamed in HEAD, edited since: its old lines still travel.
    (twin.m / "c.txt").write_text((twin.m / "c.txt").read_text() + "new\n")
    data = _blame_json(muse, twin.m, "c.txt")
    assert _ours(twin, data)[0] == ("one", 1, "a.txt")
    assert _ours(twin, data)[-1] == (None, 11, "c.txt")


def test_the_path_column_appears_as_in_git(muse: MuseRunner, twin: Twin) -> None:
    _renamed_history(twin)
    rows = muse("blame", "c.txt", cwd=twin.m).stdout.splitlines()
    theirs = twin.git("blame", "c.txt").splitlines()
    shape = r"\^?[0-9a-f]+ (?P<path>\S+) +\(Test Musician +\S+ \S+ \S+ +(?P<n>\d+)\) .*"
    for ours, git in zip(rows, theirs, strict=True):
        mine, other = re.fullmatch(shape, ours), re.fullmatch(shape, git)
        assert mine and other, (ours, git)
        assert (mine["path"], mine["n"]) == (other["path"], other["n"])
    assert len({row.index("(") for row in rows}) == 1  # the path column is padded
    # No rename in the lines shown: no path column, as in git.
    twin.commit("plain", {"notes.txt": "x\n"})
    assert re.fullmatch(r"[0-9a-f]{12} \(Test Musician .*\) x",
                        muse("blame", "notes.txt", cwd=twin.m).stdout.strip())


def test_a_rename_rewriting_most_of_the_file_is_not_followed(muse: MuseRunner,
                                                             twin: Twin) -> None:
    ten = "".join(f"line {n}\n" for n in range(1, 11))
    twin.commit("one", {"a.txt": ten})
    _rename(twin, "a.txt", "b.txt")
    kept = "".join(f"new {n}\n" for n in range(1, 7)) + "line 7\nline 8\nline 9\nline 10\n"
    twin.commit("rewrite", {"b.txt": kept})  # 4 of 10 lines kept: under git's 50 %
    data = _blame_json(muse, twin.m, "--", "b.txt")
    assert set(_by_message(twin, data)) == {"rewrite"}
    assert _ours(twin, data) == _git_porcelain(twin, "--", "b.txt")


def test_a_copy_and_an_unrelated_new_file_are_not_renames(muse: MuseRunner,
                                                          twin: Twin) -> None:
    twin.commit("one", {"a.txt": "shared\ntext\n", "gone.txt": "other\nwords\n"})
    (twin.m / "gone.txt").unlink()
    (twin.g / "gone.txt").unlink()
    twin.commit("copy", {"b.txt": "shared\ntext\n", "c.txt": "nothing\nalike\n"})
    for path in ("b.txt", "c.txt"):  # a.txt still exists; gone.txt shares no line
        data = _blame_json(muse, twin.m, "--", path)
        assert set(_by_message(twin, data)) == {"copy"}, path
        assert _ours(twin, data) == _git_porcelain(twin, "--", path), path


def _merge_over_a_rename(twin: Twin, other: str, message: str, old: str, new: str) -> None:
    """Merge `other`, which edited `old`, into a branch that renamed it to `new`: both
    merges follow the rename, to the same file."""
    twin.tick()
    twin.git("merge", "-q", "--no-ff", "-m", message, other)
    twin.git_id[message] = twin.git("rev-parse", "HEAD")
    twin.ok("merge", "--no-ff", "--unsigned", "-m", message, other)
    assert not (twin.m / old).exists()
    assert (twin.m / new).read_bytes() == (twin.g / new).read_bytes()
    twin.muse_id[message] = twin.ok("rev-parse", "HEAD").strip()


def test_a_rename_on_one_side_of_a_merge(muse: MuseRunner, twin: Twin) -> None:
    twin.commit("one", {"a.txt": "one\ntwo\nthree\nfour\n"})
    twin.branch("side")
    twin.switch("side")
    twin.commit("side edit", {"a.txt": "one\ntwo\nthree\nFOUR\n"})
    twin.switch("main")
    _rename(twin, "a.txt", "b.txt")
    twin.commit("main rename", {"b.txt": "ONE\ntwo\nthree\nfour\n"})
    _merge_over_a_rename(twin, "side", "merge side", "a.txt", "b.txt")
    assert (twin.g / "b.txt").read_text() == "ONE\ntwo\nthree\nFOUR\n"
    data = _blame_json(muse, twin.m, "--", "b.txt")
    assert _ours(twin, data) == _git_porcelain(twin, "--", "b.txt")
    assert _by_message(twin, data) == ["main rename", "one", "one", "side edit"]


def test_first_parent_keeps_a_merged_branch_s_lines_on_the_merge(muse: MuseRunner,
                                                                 twin: Twin) -> None:
    _history(twin)
    for args in (("--", "notes.txt"), ("HEAD~1", "--", "notes.txt")):
        data = _blame_json(muse, twin.m, "--first-parent", *args)
        assert _by_message(twin, data) == _git_blame(twin, "--first-parent", *args), args
    data = _blame_json(muse, twin.m, "--first-parent", "notes.txt")
    assert _by_message(twin, data) == ["one", "main verse", "main chorus", "one",
                                       "merge feature", "merge feature"]
    assert _blame_json(muse, twin.m, "notes.txt") != data  # without it: the branch's commit


def test_of_two_removed_files_with_the_content_the_first_path_is_the_source(
        muse: MuseRunner, twin: Twin) -> None:
    twin.commit("one", {"z.txt": "x\ny\n"})
    twin.commit("two", {"m.txt": "x\ny\n"})  # a copy: z.txt stays
    for side in (twin.m, twin.g):
        (side / "z.txt").unlink()
        (side / "m.txt").unlink()
    twin.commit("three", {"n.txt": "x\ny\n"})
    data = _blame_json(muse, twin.m, "--", "n.txt")
    assert _ours(twin, data) == _git_porcelain(twin, "--", "n.txt")
    assert _ours(twin, data) == [("two", 1, "m.txt"), ("two", 2, "m.txt")]


def test_past_the_candidate_bound_only_exact_renames_are_followed(
        muse: MuseRunner, twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    ten = "".join(f"line {n}\n" for n in range(1, 11))
    twin.commit("one", {"a.txt": ten, "b.txt": ten.upper(), "c.txt": ten + "x\n"})
    for side in (twin.m, twin.g):
        for name in ("a.txt", "b.txt", "c.txt"):
            (side / name).unlink()
    twin.commit("move", {"d.txt": ten.replace("line 3", "LINE 3"), "e.txt": ten + "x\n"})
    monkeypatch.setattr(blame_module, "RENAME_CANDIDATES", 1)
    assert set(_by_message(twin, _blame_json(muse, twin.m, "--", "d.txt"))) == {"move"}
    assert _ours(twin, _blame_json(muse, twin.m, "--", "e.txt"))[0] == ("one", 1, "c.txt")
    monkeypatch.setattr(blame_module, "RENAME_CANDIDATES", 100)
    data = _blame_json(muse, twin.m, "--", "d.txt")
    assert _ours(twin, data) == _git_porcelain(twin, "--", "d.txt")
    assert {p for _, _, p in _ours(twin, data)} == {"a.txt", "d.txt"}


def test_first_parent_with_bad_input_changes_nothing(muse: MuseRunner, twin: Twin) -> None:
    _history(twin)
    result = changes_nothing(muse, twin.m, "blame", "--first-parent", "nope.txt", exit_code=2)
    assert result.stderr.startswith("error: no such path 'nope.txt' in HEAD")
