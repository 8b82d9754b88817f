"""The reflog: every ref move recorded in one format, `muse reflog`, and `REF@{N}` revisions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from muse.reflog import MAX_LINE_BYTES, ZERO_ID, DamagedLine, ReflogEntry, newest_first
from tests.branching_support import commit, diverged, ref, write
from tests.remote_support import clone_of, ok, published
from tests.testkit import changes_nothing

# The documented line, exactly: the gc helper reads this.
LINE = re.compile(r"^([0-9a-f]{64}) ([0-9a-f]{64}) (\d+) (.+)\t(.*)$")


def lines(repo_dir: Path, ref_name: str) -> list[tuple[str, str, str, str]]:
    """(old, new, identity, message) per raw line of .muse/logs/REF, oldest first."""
    found = []
    for raw in (repo_dir / ".muse/logs" / ref_name).read_text().splitlines():
        match = LINE.match(raw)
        assert match is not None, raw
        found.append((match[1], match[2], match[4], match[5]))
    return found


def test_commit_switch_reset_and_merge_are_recorded_in_the_branch_and_head_logs(
        muse, repo_dir):
    made = diverged(muse, repo_dir)  # commits, a branch, switches
    ok(muse("merge", "feature", cwd=repo_dir))
    merged = ref(repo_dir, "refs/heads/main")
    ok(muse("reset", "--hard", "HEAD~1", cwd=repo_dir))
    main = lines(repo_dir, "refs/heads/main")
    assert [(old, new) for old, new, _, _ in main] == [
        (ZERO_ID, made["base"]), (made["base"], made["main"]), (made["main"], merged),
        (merged, made["main"])]
    assert [msg.split(":")[0] for *_, msg in main] == ["commit", "commit", "merge feature",
                                                       "reset"]
    assert {who for _, _, who, _ in main} == {"Test Musician <test@example.org>"}
    head = lines(repo_dir, "HEAD")
    assert [msg for *_, msg in head] == [
        "commit: base", "switch: moving from main to feature", "commit: feature work",
        "switch: moving from feature to main", "commit: main work", "merge feature",
        "reset: moving to HEAD~1"]
    assert head[1][:2] == (made["base"], made["base"])  # a switch at the same commit
    feature = lines(repo_dir, "refs/heads/feature")
    assert feature[0][:2] == (ZERO_ID, made["base"])
    assert feature[0][3] == "branch: created from HEAD"


def test_fetch_and_pull_record_the_tracking_and_branch_moves(muse, repo_dir, tmp_path):
    remote, first = published(muse, repo_dir, tmp_path)
    other = clone_of(muse, remote, tmp_path, "other")
    write(repo_dir, "song.mid", "chorus")
    second = commit(muse, repo_dir, "second take")
    ok(muse("push", cwd=repo_dir))
    ok(muse("pull", cwd=other))
    tracking = lines(other, "refs/remotes/origin/main")
    assert [(old, new, msg) for old, new, _, msg in tracking] == [
        (ZERO_ID, first, "fetch: origin"), (first, second, "fetch: origin")]
    assert lines(other, "refs/heads/main")[-1][:2] == (first, second)
    assert "pull: fast-forward to origin/main" in lines(other, "HEAD")[-1][3]


def test_a_move_without_an_identity_is_recorded_as_unknown(muse, repo_dir):
    write(repo_dir, "a.txt", "a")
    head = commit(muse, repo_dir, "one")
    from muse.config import user_config

    user_config().unset("user.name")
    ok(muse("branch", "side", cwd=repo_dir))
    assert lines(repo_dir, "refs/heads/side") == [(ZERO_ID, head, "unknown",
                                                   "branch: created from HEAD")]


def test_muse_reflog_lists_newest_first_with_selectors(muse, repo_dir):
    write(repo_dir, "a.txt", "1")
    one = commit(muse, repo_dir, "one")
    write(repo_dir, "a.txt", "2")
    two = commit(muse, repo_dir, "two")
    out = ok(muse("reflog", cwd=repo_dir)).stdout.splitlines()
    assert out == [f"{two[:12]} HEAD@{{0}}: commit: two", f"{one[:12]} HEAD@{{1}}: commit: one"]
    data = json.loads(ok(muse("reflog", "main", "--json", "-n", "1", cwd=repo_dir)).stdout)
    assert data["ref"] == "refs/heads/main"
    assert [(e["selector"], e["old"], e["new"]) for e in data["entries"]] == [
        ("main@{0}", one, two)]
    assert data["entries"][0]["identity"] == "Test Musician <test@example.org>"
    assert data["damaged"] == []


def test_revisions_at_n_name_where_a_ref_was(muse, repo_dir):
    write(repo_dir, "a.txt", "1")
    one = commit(muse, repo_dir, "one")
    write(repo_dir, "a.txt", "2")
    two = commit(muse, repo_dir, "two")
    ok(muse("reset", "--hard", "HEAD~1", cwd=repo_dir))
    ok(muse("switch", "-c", "side", cwd=repo_dir))

    def rev(text: str) -> str:
        return ok(muse("rev-parse", text, cwd=repo_dir)).stdout.strip()

    assert rev("main@{0}") == one
    assert rev("main@{1}") == two
    assert rev("main@{1}~1") == one
    assert rev("HEAD@{0}") == one  # the switch to side: from one to one
    assert rev("HEAD@{1}") == one  # the reset
    assert rev("HEAD@{2}") == two
    assert rev("HEAD@{3}") == one
    assert rev("@{0}") == one      # @{N}: the current branch's log (side has one entry)
    assert rev("refs/heads/main@{1}") == two


@pytest.mark.parametrize(("spec", "message"), [
    ("main@{7}", "the reflog of main has only 2 entries"),
    ("main@{-1}", "only @{N} (a reflog entry), @{-N} (an earlier branch)"),
    ("main@{yesterday}", "only @{N}"),
    ("nowhere@{0}", "no such ref, and no reflog for it"),
])
def test_bad_at_n_revisions_are_refused_and_change_nothing(muse, repo_dir, spec, message):
    write(repo_dir, "a.txt", "1")
    commit(muse, repo_dir, "one")
    write(repo_dir, "a.txt", "2")
    commit(muse, repo_dir, "two")
    result = changes_nothing(muse, repo_dir, "reset", "--hard", spec, exit_code=2)
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_a_deleted_branch_keeps_its_log_and_at_0_says_deleted(muse, repo_dir):
    write(repo_dir, "a.txt", "1")
    one = commit(muse, repo_dir, "one")
    ok(muse("branch", "gone", cwd=repo_dir))
    ok(muse("branch", "-d", "gone", cwd=repo_dir))
    result = changes_nothing(muse, repo_dir, "rev-parse", "gone@{0}", exit_code=2)
    assert "gone was deleted at that point" in result.stderr
    assert ok(muse("rev-parse", "gone@{1}", cwd=repo_dir)).stdout.strip() == one
    # A new ref may take a name whose folder a gone ref's log occupies.
    ok(muse("branch", "gone/again", cwd=repo_dir))
    assert lines(repo_dir, "refs/heads/gone/again")[0][:2] == (ZERO_ID, one)


def test_a_damaged_line_is_reported_and_skipped(muse, repo_dir):
    write(repo_dir, "a.txt", "1")
    one = commit(muse, repo_dir, "one")
    write(repo_dir, "a.txt", "2")
    two = commit(muse, repo_dir, "two")
    log = repo_dir / ".muse/logs/HEAD"
    good = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(good[0] + b"not a reflog line\n" + b"\xff\xfe\n" + good[1])
    result = ok(muse("reflog", cwd=repo_dir))
    assert result.stdout.splitlines() == [f"{two[:12]} HEAD@{{0}}: commit: two",
                                          f"{one[:12]} HEAD@{{1}}: commit: one"]
    assert result.stderr.count("warning: skipped a damaged line") == 2
    assert "not a reflog line" in result.stderr
    data = json.loads(ok(muse("reflog", "--json", cwd=repo_dir)).stdout)
    assert len(data["damaged"]) == 2 and len(data["entries"]) == 2
    # Numbered as listed: HEAD@{1} skips the damaged lines.
    assert ok(muse("rev-parse", "HEAD@{1}", cwd=repo_dir)).stdout.strip() == one


def test_lines_written_before_identities_are_still_read(tmp_path: Path):
    logs = tmp_path / "logs/refs/heads"
    logs.mkdir(parents=True)
    a = "a" * 64
    (logs / "main").write_text(f"- {a} 12 commit: old style\n")
    assert list(newest_first(tmp_path, "refs/heads/main")) == [
        ReflogEntry(None, a, 12, "", "commit: old style")]


def test_reading_backwards_across_blocks_and_a_runaway_line(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    ids = [f"{n + 1:064x}" for n in range(3000)]  # ~500 KB: several 64 KiB blocks
    body = "".join(f"{ZERO_ID} {oid} {n} me\tmove {n}\n" for n, oid in enumerate(ids))
    runaway = "x" * (3 * MAX_LINE_BYTES)
    (logs / "HEAD").write_text(runaway + "\n" + body + runaway)
    read = list(newest_first(tmp_path, "HEAD"))
    assert isinstance(read[0], DamagedLine) and isinstance(read[-1], DamagedLine)
    assert len(read[0].text) <= 200
    entries = read[1:-1]
    assert [e.new for e in entries if isinstance(e, ReflogEntry)] == ids[::-1]


APPENDER = """
import sys
from pathlib import Path
from muse.reflog import append, format_line
root, tag = Path(sys.argv[1]), sys.argv[2]
for n in range(400):
    append(root, "refs/heads/main", format_line(None, f"{n + 1:064x}", tag * 300, f"move {n}"))
"""


def test_concurrent_appends_never_interleave(tmp_path: Path):
    import subprocess
    import sys

    writers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(tmp_path), tag])
               for tag in "ab"]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    read = list(newest_first(tmp_path, "refs/heads/main"))
    assert len(read) == 800
    assert all(isinstance(e, ReflogEntry) for e in read)
    assert {e.identity for e in read if isinstance(e, ReflogEntry)} == {"a" * 300, "b" * 300}


def test_reflog_of_an_unknown_ref_is_refused_and_a_fresh_repository_has_none(muse, repo_dir):
    assert ok(muse("reflog", cwd=repo_dir)).stdout == ""
    assert json.loads(ok(muse("reflog", "--json", cwd=repo_dir)).stdout)["entries"] == []
    result = changes_nothing(muse, repo_dir, "reflog", "nowhere", exit_code=2)
    assert "no such ref, and no reflog for it" in result.stderr
    data = json.loads(changes_nothing(muse, repo_dir, "reflog", "nowhere", "--json",
                                      exit_code=2).stderr)
    assert data["error"]["code"] == "bad-revision"
