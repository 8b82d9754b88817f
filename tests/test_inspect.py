"""show, diff, cat-object: what they print for text, binaries, modes and each object kind."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from muse.diff import TEXT_CAP, looks_like_text
from muse.units import human_size, signed_size
from tests.testkit import MuseRunner, tree_state


def write(root: Path, rel: str, data: bytes | str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def commit(muse: MuseRunner, root: Path, message: str) -> str:
    res = muse("commit", "-m", message, cwd=root)
    assert res.exit_code == 0, res.output
    return muse("rev-parse", "HEAD", cwd=root).stdout.strip()


@pytest.mark.parametrize("n, text", [
    (0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (102_000, "102 KB"), (1_234_567, "1.2 MB"),
    (1_300_000, "1.3 MB"), (5 * 10**9, "5.0 GB"), (-102_000, "-102 KB"),
])
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text


def test_signed_size() -> None:
    assert signed_size(102_000) == "+102 KB" and signed_size(-5) == "-5 B"


def test_text_detection() -> None:
    assert looks_like_text(b"plain\ntext\n")
    assert looks_like_text("ünïcödé\n".encode())
    assert looks_like_text(b"")
    assert not looks_like_text(b"MThd\x00\x00\x00\x06")
    assert not looks_like_text(b"caf\xe9")  # latin-1, not UTF-8
    assert looks_like_text(b"a" * 9000 + b"\x00")  # only the first 8 KiB are sniffed for NUL


@pytest.fixture
def project(muse: MuseRunner, repo_dir: Path) -> Path:
    write(repo_dir, "lyrics.txt", "verse one\nchorus\nverse two\n")
    write(repo_dir, "mix.wav", os.urandom(1_200_000))
    write(repo_dir, "render.sh", "#!/bin/sh\n")
    write(repo_dir, "old.txt", "going away\n")
    commit(muse, repo_dir, "first")
    return repo_dir


def test_diff_worktree_against_head(muse: MuseRunner, project: Path) -> None:
    write(project, "lyrics.txt", "verse one\nchorus\nbridge\nverse two\n")
    with open(project / "mix.wav", "ab") as handle:
        handle.write(os.urandom(102_000))
    (project / "render.sh").chmod(0o755)
    (project / "old.txt").unlink()
    write(project, "new.mid", b"MThd\x00\x00")
    before = tree_state(project)
    res = muse("diff", cwd=project)
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "diff a/lyrics.txt b/lyrics.txt\n--- a/lyrics.txt\n+++ b/lyrics.txt\n" in out
    assert "@@ -1,3 +1,4 @@\n verse one\n chorus\n+bridge\n verse two\n" in out
    assert "diff a/mix.wav b/mix.wav\nBinary files differ: 1.2 MB → 1.3 MB (+102 KB)\n" in out
    assert "diff a/render.sh b/render.sh\nold mode 100644\nnew mode 100755\n" in out
    assert "diff a/old.txt b/old.txt\ndeleted file mode 100644\n--- a/old.txt\n" in out
    assert "-going away" in out
    assert "diff a/new.mid b/new.mid\nnew file mode 100644\nBinary file added: 6 B" in out
    assert tree_state(project) == before

    assert muse("diff", "--name-status", cwd=project).stdout.splitlines() == [
        "M\tlyrics.txt", "M\tmix.wav", "A\tnew.mid", "D\told.txt", "M\trender.sh"]
    stat = muse("diff", "--stat", cwd=project).stdout.splitlines()
    assert " lyrics.txt | 1 +" in stat
    assert " mix.wav    | Bin 1.2 MB → 1.3 MB (+102 KB)" in stat
    assert " render.sh  | mode 100644 → 100755" in stat
    assert stat[-1] == " 5 files changed, 1 insertion(+), 1 deletion(-)"

    data = {d["path"]: d for d in json.loads(muse("diff", "--json", cwd=project).stdout)}
    assert data["mix.wav"]["binary"] is True
    assert data["mix.wav"]["size_change"] == 102_000
    assert data["render.sh"]["mode_change"] == ["100644", "100755"]
    assert data["lyrics.txt"]["insertions"] == 1 and "+bridge" in data["lyrics.txt"]["patch"]
    assert data["old.txt"]["status"] == "deleted" and data["old.txt"]["new"] is None
    assert data["new.mid"]["old"] is None
    assert data["new.mid"]["new"]["id"] == hashlib.sha256(b"MThd\x00\x00").hexdigest()


def test_name_status_sorted_by_path(muse: MuseRunner, project: Path) -> None:
    write(project, "a.txt", "new")
    (project / "old.txt").unlink()
    assert muse("diff", "--name-status", cwd=project).stdout.splitlines() == [
        "A\ta.txt", "D\told.txt"]


def test_clean_tree_has_empty_diff(muse: MuseRunner, project: Path) -> None:
    res = muse("diff", cwd=project)
    assert res.exit_code == 0 and res.stdout == ""
    assert json.loads(muse("diff", "--json", cwd=project).stdout) == []


def test_name_only_and_exit_codes_for_scripts(muse: MuseRunner, project: Path) -> None:
    # Clean: 0, whatever the flags.
    for flags in (("--quiet",), ("--exit-code",), ("--exit-code", "--name-only")):
        res = muse("diff", *flags, cwd=project)
        assert res.exit_code == 0 and res.stdout == "", (flags, res.output)
    write(project, "a.txt", "new")
    (project / "old.txt").unlink()
    quiet = muse("diff", "--quiet", cwd=project)
    assert quiet.exit_code == 1 and quiet.stdout == ""
    porcelain = muse("status", "--porcelain", cwd=project)
    assert porcelain.stdout == "A a.txt\nD old.txt\n"
    assert porcelain.stdout == muse("status", "-s", cwd=project).stdout
    named = muse("diff", "--exit-code", "--name-only", cwd=project)
    assert named.exit_code == 1 and named.stdout.splitlines() == ["a.txt", "old.txt"]
    assert muse("diff", "--name-only", cwd=project).exit_code == 0  # without: always 0
    # Limited to paths that did not change: no differences.
    assert muse("diff", "--quiet", "--", "lyrics.txt", cwd=project).exit_code == 0
    # Between two commits, and `show --name-only`.
    head = commit(muse, project, "second")
    assert muse("diff", "--quiet", "HEAD~1", head, cwd=project).exit_code == 1
    assert muse("diff", "--quiet", head, head, cwd=project).exit_code == 0
    shown = muse("show", "--name-only", cwd=project).stdout.splitlines()
    assert shown[-2:] == ["a.txt", "old.txt"]


def test_binary_rules_nul_bad_utf8_and_size_cap(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "nul.txt", "text\n")
    write(repo_dir, "latin.txt", "caf\n")
    write(repo_dir, "huge.txt", "line\n" * 10)
    commit(muse, repo_dir, "base")
    write(repo_dir, "nul.txt", b"text\x00\n")
    write(repo_dir, "latin.txt", b"caf\xe9\n")
    write(repo_dir, "huge.txt", "line\n" * (TEXT_CAP // 5 + 1))
    data = {d["path"]: d for d in json.loads(muse("diff", "--json", cwd=repo_dir).stdout)}
    assert all(d["binary"] for d in data.values())
    assert all(d["patch"] is None for d in data.values())
    out = muse("diff", cwd=repo_dir).stdout
    assert "Binary files differ: 5 B → 6 B (+1 B)" in out  # nul.txt


def test_diff_rev_and_two_commits(muse: MuseRunner, project: Path) -> None:
    first = muse("rev-parse", "HEAD", cwd=project).stdout.strip()
    write(project, "lyrics.txt", "verse one\n")
    second = commit(muse, project, "second")
    write(project, "lyrics.txt", "verse one\noutro\n")
    # Working tree against an older commit.
    against_first = muse("diff", first, "--name-status", cwd=project).stdout
    assert against_first.splitlines() == ["M\tlyrics.txt"]
    against_head = muse("diff", cwd=project).stdout
    assert "+outro" in against_head and "-chorus" not in against_head
    # Two commits, in either order.
    forward = muse("diff", first, second, cwd=project).stdout
    assert "-chorus" in forward and "-verse two" in forward and "+outro" not in forward
    backward = muse("diff", "HEAD", "HEAD~1", cwd=project).stdout
    assert "+chorus" in backward
    assert muse("diff", "HEAD", "HEAD", cwd=project).stdout == ""


def test_show_header_and_diff_against_first_parent(muse: MuseRunner, project: Path) -> None:
    write(project, "lyrics.txt", "verse one\nchorus\n")
    second = commit(muse, project, "shorter lyrics")
    out = muse("show", cwd=project).stdout
    assert out.startswith(f"commit {second}\nAuthor: Test Musician <test@example.org>\n")
    assert "Signature: good (key " in out
    assert "    shorter lyrics\n" in out
    assert "-verse two" in out and "mix.wav" not in out
    root = muse("show", "HEAD~1", "--name-status", cwd=project).stdout
    assert root.splitlines()[-4:] == ["A\tlyrics.txt", "A\tmix.wav", "A\told.txt",
                                      "A\trender.sh"]
    data = json.loads(muse("show", "--json", second[:8], cwd=project).stdout)
    assert data["commit"]["id"] == second and data["commit"]["message"] == "shorter lyrics"
    assert [c["path"] for c in data["changes"]] == ["lyrics.txt"]
    assert data["changes"][0]["deletions"] == 1
    stat = muse("show", "--stat", cwd=project).stdout
    assert " 1 file changed, 1 deletion(-)\n" in stat  # as git: no "0 insertions"


def test_cat_object_kinds(muse: MuseRunner, project: Path) -> None:
    head = muse("rev-parse", "HEAD", cwd=project).stdout.strip()
    pretty = muse("cat-object", "-p", "HEAD", cwd=project).stdout
    snapshot = pretty.splitlines()[0].split()[1]
    assert pretty.startswith(f"snapshot {snapshot}\nauthor Test Musician <test@example.org> ")
    assert "\nsignature good\n" in pretty and pretty.endswith("\nfirst\n")
    assert muse("cat-object", "-t", "HEAD", cwd=project).stdout == "commit\n"
    assert muse("cat-object", "-t", snapshot, cwd=project).stdout == "snapshot\n"
    assert muse("cat-object", "-t", snapshot[:10], cwd=project).stdout == "snapshot\n"
    assert muse("cat-object", "-t", "HEAD:mix.wav", cwd=project).stdout == "blob\n"
    assert muse("cat-object", "-s", "HEAD:mix.wav", cwd=project).stdout == "1200000\n"
    listing = muse("cat-object", "-p", "HEAD:", cwd=project).stdout.splitlines()
    assert len(listing) == 4 and listing[0].startswith("100644 ")
    assert listing[0].endswith("\tlyrics.txt")
    entries = json.loads(muse("cat-object", "-p", "--json", snapshot, cwd=project).stdout)
    assert entries["type"] == "snapshot"
    assert [e["path"] for e in entries["entries"]] == ["lyrics.txt", "mix.wav", "old.txt",
                                                       "render.sh"]
    record = json.loads(muse("cat-object", "-p", "--json", head, cwd=project).stdout)
    assert record["type"] == "commit" and record["snapshot"] == snapshot


def test_cat_object_streams_raw_bytes(muse: MuseRunner, repo_dir: Path) -> None:
    big = os.urandom(5 * 1024 * 1024 + 17)
    write(repo_dir, "stem.wav", big)
    head = commit(muse, repo_dir, "big")
    env = muse.env()
    for target in ("HEAD:stem.wav", hashlib.sha256(big).hexdigest()):
        out = subprocess.run([sys.executable, "-m", "muse", "cat-object", target],
                             cwd=repo_dir, env=env, capture_output=True, check=True).stdout
        assert out == big
    raw = subprocess.run([sys.executable, "-m", "muse", "cat-object", head], cwd=repo_dir,
                         env=env, capture_output=True, check=True).stdout
    assert hashlib.sha256(raw).hexdigest() == head
    pretty_blob = subprocess.run([sys.executable, "-m", "muse", "cat-object", "-p",
                                  "HEAD:stem.wav"], cwd=repo_dir, env=env,
                                 capture_output=True, check=True).stdout
    assert pretty_blob == big



def test_stat_columns_line_up_with_wide_names(muse, repo_dir) -> None:
    from muse.display import text_width

    (repo_dir / "ドラム.wav").write_bytes(b"\0\1" * 50)
    (repo_dir / "bass.mid").write_text("one\ntwo\n")
    (repo_dir / "歌詞.txt").write_text("la\n")
    assert muse("commit", "-m", "take", cwd=repo_dir).exit_code == 0
    shown = muse("show", "--stat", cwd=repo_dir)
    assert shown.exit_code == 0, shown.output
    rows = [line for line in shown.stdout.splitlines() if " | " in line]
    assert len(rows) == 3
    # The bar starts in the same terminal column on every row (CJK takes two columns).
    assert len({text_width(row.split(" | ")[0]) for row in rows}) == 1
