"""Pathspecs on status/diff/log, `log A..B` / `A...B`, `log --graph`, and decorations."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.branching_support import commit, write
from tests.testkit import changes_nothing


class Clock:
    """Commit times a minute apart, so history has one order (tests run in-process)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000

    def time(self) -> float:
        self.now += 60
        return float(self.now)

    @staticmethod
    def localtime(when: float) -> time.struct_time:
        return time.localtime(when)


@pytest.fixture
def history(muse, repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """base (a.txt, d/b.txt) → feature (f1, f2 on f.txt) merged into main after m1 (a.txt)."""
    from muse import repo as repo_module

    monkeypatch.setattr(repo_module, "time", Clock())
    write(repo_dir, "a.txt", "a1")
    write(repo_dir, "d/b.txt", "b1")
    ids = {"base": commit(muse, repo_dir, "base")}
    assert muse("switch", "-c", "feature", cwd=repo_dir).exit_code == 0
    write(repo_dir, "f.txt", "f1")
    ids["f1"] = commit(muse, repo_dir, "f1")
    write(repo_dir, "f.txt", "f2")
    ids["f2"] = commit(muse, repo_dir, "f2")
    assert muse("switch", "main", cwd=repo_dir).exit_code == 0
    write(repo_dir, "a.txt", "a2")
    ids["m1"] = commit(muse, repo_dir, "m1")
    merged = muse("merge", "feature", "-m", "merge feature", cwd=repo_dir)
    assert merged.exit_code == 0, merged.output
    ids["merge"] = commit_id(muse, repo_dir, "HEAD")
    assert muse("tag", "v1", ids["m1"], cwd=repo_dir).exit_code == 0
    return ids


def commit_id(muse, root: Path, rev: str) -> str:
    return str(muse("rev-parse", rev, cwd=root).stdout.strip())


def subjects(muse, root: Path, *args: str) -> list[str]:
    result = muse("log", "--json", *args, cwd=root)
    assert result.exit_code == 0, result.output
    return [r["message"].strip() for r in json.loads(result.stdout)]


# -- log ranges and paths -------------------------------------------------------------


def test_log_ranges(muse, repo_dir, history):
    assert subjects(muse, repo_dir, "main..feature") == []
    assert subjects(muse, repo_dir, "feature..main") == ["merge feature", "m1"]
    assert subjects(muse, repo_dir, "feature..") == ["merge feature", "m1"]
    assert subjects(muse, repo_dir, "v1...feature") == ["m1", "f2", "f1"]
    assert subjects(muse, repo_dir, "feature...v1") == ["m1", "f2", "f1"]
    assert subjects(muse, repo_dir, "main", "^v1") == ["merge feature", "f2", "f1"]


def test_log_paths(muse, repo_dir, history):
    # The merge took feature's f.txt unchanged: not listed for f.txt (git's simplification).
    assert subjects(muse, repo_dir, "--", "f.txt") == ["f2", "f1"]
    assert subjects(muse, repo_dir, "f.txt") == ["f2", "f1"]  # an existing path, no `--`
    assert subjects(muse, repo_dir, "--", "a.txt") == ["m1", "base"]
    assert subjects(muse, repo_dir, "--", "d") == ["base"]
    assert subjects(muse, repo_dir, "HEAD~1", "--", "d/b.txt", "f.txt") == ["base"]
    assert subjects(muse, repo_dir, "-n", "1", "--", "a.txt") == ["m1"]
    # From a subfolder, paths are relative to it.
    result = muse("log", "--json", "--", "b.txt", cwd=repo_dir / "d")
    assert [r["message"].strip() for r in json.loads(result.stdout)] == ["base"]
    assert subjects(muse, repo_dir, "--", "gone.txt") == []  # never existed: nothing


@pytest.mark.parametrize("args, message", [
    (("log", "--", "../outside"), "outside the repository"),
    (("log", "--", ".muse/HEAD"), "inside .muse/"),
    (("log", "nosuch"), "unknown revision 'nosuch'"),
    (("log", "main..nosuch"), "unknown revision 'nosuch'"),
    (("log", "nosuch...main"), "unknown revision 'nosuch'"),
    (("diff", "HEAD~1", "--", "../x"), "outside the repository"),
    (("diff", "A", "B", "C"), "at most two revisions"),
    (("diff", "nosuch", "--", "a.txt"), "unknown revision"),
    (("diff", "HEAD", "HEAD~1", "HEAD~2"), "at most two revisions"),
    (("status", "../x"), "outside the repository"),
    (("status", "/"), "outside the repository"),
])
def test_bad_paths_and_ranges_change_nothing(muse, repo_dir, history, args, message):
    result = changes_nothing(muse, repo_dir, *args, exit_code=2)
    assert message in result.stderr


@pytest.mark.parametrize("command", ["log", "diff"])
def test_a_word_that_is_a_branch_and_a_file_is_ambiguous(muse, repo_dir, history, command):
    write(repo_dir, "feature", "a file named like the branch")
    result = changes_nothing(muse, repo_dir, command, "feature", exit_code=2)
    assert "ambiguous argument 'feature': both a revision and a file" in result.stderr
    assert "`feature --` for the revision, `-- feature` for the file" in result.stderr
    # `--` settles it either way.
    as_revision = muse(command, "feature", "--", cwd=repo_dir)
    assert as_revision.exit_code == 0, as_revision.output
    as_path = muse(command, "--", "feature", cwd=repo_dir)
    assert as_path.exit_code == 0, as_path.output


# -- graph and decorations ------------------------------------------------------------


def test_graph_draws_the_merge(muse, repo_dir, history):
    result = muse("log", "--graph", "--oneline", "--no-decorate", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    short = {name: oid[:12] for name, oid in history.items()}
    # git's layout: the merged branch whole, right after its merge.
    assert result.stdout.splitlines() == [
        f"*   {short['merge']} merge feature",
        "|\\  ",
        f"| * {short['f2']} f2",
        f"| * {short['f1']} f1",
        f"* | {short['m1']} m1",
        "|/  ",
        f"* {short['base']} base",
    ]


def test_graph_full_format_keeps_lanes_beside_every_line(muse, repo_dir, history):
    lines = muse("log", "--graph", cwd=repo_dir).stdout.splitlines()
    assert lines[0] == f"*   commit {history['merge']}"  # a merge's row is as wide as its fan
    root = lines.index(f"* commit {history['base']}")
    assert all(line[:1] in ("*", "|") for line in lines[:root])
    assert all(line[:1] == " " or not line for line in lines[root + 1:])  # no lane below
    rows = [line for line in lines if "*" in line.partition("commit ")[0]]
    assert len(rows) == 5 and all(row.split("commit ")[1] in history.values() for row in rows)


def test_graph_with_paths_links_through_hidden_commits(muse, repo_dir, history):
    lines = muse("log", "--graph", "--oneline", "--", "a.txt", cwd=repo_dir).stdout
    assert lines.splitlines() == [f"* {history['m1'][:12]} m1",
                                  f"* {history['base'][:12]} base"]


def test_decorations(muse, repo_dir, history):
    text = muse("log", "--oneline", "--decorate", cwd=repo_dir).stdout.splitlines()
    assert text[0] == f"{history['merge'][:12]} (HEAD -> main) merge feature"
    assert f"{history['f2'][:12]} (feature) f2" in text
    assert f"{history['m1'][:12]} (tag: v1) m1" in text
    full = muse("log", "--decorate", "-n", "1", cwd=repo_dir).stdout
    assert full.startswith(f"commit {history['merge']} (HEAD -> main)\n")
    # Off when not on a terminal (scripts parse the plain form) ...
    plain = muse("log", "--oneline", cwd=repo_dir).stdout.splitlines()
    assert plain[0] == f"{history['merge'][:12]} merge feature"
    # ... and always data in --json.
    records = json.loads(muse("log", "--json", cwd=repo_dir).stdout)
    assert records[0]["decorations"] == {"head": True, "branches": ["main"], "tags": [],
                                         "remotes": [], "stash": False}
    by_id = {r["id"]: r["decorations"] for r in records}
    assert by_id[history["m1"]]["tags"] == ["v1"]
    assert by_id[history["base"]] == {"head": False, "branches": [], "tags": [],
                                      "remotes": [], "stash": False}


def test_detached_head_decoration(muse, repo_dir, history):
    assert muse("switch", "--detach", "v1", cwd=repo_dir).exit_code == 0
    text = muse("log", "--oneline", "--decorate", "-n", "1", cwd=repo_dir).stdout
    assert text == f"{history['m1'][:12]} (HEAD, tag: v1) m1\n"


# -- diff and status with paths -------------------------------------------------------


def test_diff_paths_and_ranges(muse, repo_dir, history):
    def paths(*args: str) -> list[str]:
        result = muse("diff", "--json", *args, cwd=repo_dir)
        assert result.exit_code == 0, result.output
        return [d["path"] for d in json.loads(result.stdout)]

    base = history["base"]
    assert paths(base, "HEAD") == ["a.txt", "f.txt"]
    assert paths(base, "HEAD", "--", "f.txt") == ["f.txt"]
    assert paths(f"{base}..HEAD", "--", "a.txt") == ["a.txt"]
    assert paths("v1...feature") == ["f.txt"]  # what feature changed since they diverged
    write(repo_dir, "d/b.txt", "b2")
    write(repo_dir, "a.txt", "a3")
    assert paths() == ["a.txt", "d/b.txt"]
    assert paths("--", "d") == ["d/b.txt"]
    assert paths("HEAD~1", "--", "d") == ["d/b.txt"]
    assert paths("d") == ["d/b.txt"]  # an existing folder, no `--`


def test_status_paths(muse, repo_dir, history):
    write(repo_dir, "d/b.txt", "b2")
    write(repo_dir, "a.txt", "a3")
    write(repo_dir, "d/new.txt", "new")
    assert muse("status", "-s", "d", cwd=repo_dir).stdout == "M d/b.txt\nA d/new.txt\n"
    assert muse("status", "-s", "new.txt", cwd=repo_dir / "d").stdout == "A d/new.txt\n"
    data = json.loads(muse("status", "--json", "a.txt", cwd=repo_dir).stdout)
    assert data["changes"] == [{"path": "a.txt", "status": "modified"}]
    clean = muse("status", "f.txt", cwd=repo_dir).stdout
    assert "nothing to commit" in clean


def test_a_deleted_path_without_dashes_gets_a_hint(muse, repo_dir, history):
    (repo_dir / "f.txt").unlink()
    result = changes_nothing(muse, repo_dir, "log", "f.txt", exit_code=2)
    assert "hint: a path that is not in the working tree goes after `--`" in result.stderr
    assert subjects(muse, repo_dir, "--", "f.txt") == ["f2", "f1"]


def test_a_damaged_snapshot_is_reported_not_skipped(muse, repo_dir, history):
    from tests.branching_support import repo

    snapshot = repo(repo_dir).graph.commit(history["m1"]).snapshot
    loose = repo_dir / ".muse" / "objects" / snapshot[:2] / snapshot[2:]
    loose.chmod(0o644)
    loose.write_bytes(loose.read_bytes()[:-1] + b"\x00")
    result = muse("log", "--oneline", "--", "a.txt", cwd=repo_dir)
    assert result.exit_code == 5, result.output
    assert "corrupt" in result.stderr and "Traceback" not in result.output


def test_graph_with_max_count(muse, repo_dir, history):
    lines = muse("log", "--graph", "--oneline", "-n", "2", cwd=repo_dir).stdout.splitlines()
    # As git: the lanes to parents past the last drawn commit end where it does.
    assert lines == [f"*   {history['merge'][:12]} merge feature", "|\\  ",
                     f"| * {history['f2'][:12]} f2"]


def test_decorations_are_on_for_a_terminal(muse, repo_dir, history):
    import os
    import subprocess
    import sys

    leader, follower = os.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "muse", "log", "--oneline", "-n", "1"],
                              cwd=repo_dir, env=muse.env(), stdout=follower,
                              stderr=subprocess.PIPE, timeout=60)
        os.close(follower)
        shown = os.read(leader, 4096).decode()
    finally:
        os.close(leader)
    assert done.returncode == 0, done.stderr
    assert shown.strip() == f"{history['merge'][:12]} (HEAD -> main) merge feature"
