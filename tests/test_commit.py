"""commit, status and log end to end: ignore rules, exec bits, names, crashes and races."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from muse.objects import hash_bytes
from muse.repo import Repository
from tests.testkit import MuseRunner, changes_nothing, tree_state


def write(root: Path, rel: str, data: bytes | str = b"x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def committed_paths(repo_dir: Path) -> dict[str, tuple[str, int, bool]]:
    repo = Repository.find(repo_dir)
    snap = repo.head_snapshot()
    assert snap is not None
    return {e.path: (e.oid, e.size, e.executable) for e in snap.entries}


def test_commit_status_log_round_trip(muse: MuseRunner, repo_dir: Path) -> None:
    assert "No commits yet" in muse("status", cwd=repo_dir).stdout
    write(repo_dir, "song.mid", b"MThd\x00\x00\x00\x06")
    write(repo_dir, "stems/bass.wav", b"RIFF" + bytes(100))
    status = json.loads(muse("status", "--json", cwd=repo_dir).stdout)
    assert status["head"] is None and status["branch"] == "main"
    assert status["changes"] == [{"path": "song.mid", "status": "added"},
                                 {"path": "stems/bass.wav", "status": "added"}]
    first = muse("commit", "-m", "first take", cwd=repo_dir)
    assert first.exit_code == 0, first.output
    assert re.match(r"\[main [0-9a-f]{12}\] first take \(signed\)", first.stdout)
    assert "nothing to commit" in muse("status", cwd=repo_dir).stdout
    paths = committed_paths(repo_dir)
    assert paths["song.mid"] == (hash_bytes(b"MThd\x00\x00\x00\x06"), 8, False)

    write(repo_dir, "song.mid", b"MThd changed")
    (repo_dir / "stems/bass.wav").unlink()
    write(repo_dir, "lyrics.txt", "la la\n")
    short = muse("status", "-s", cwd=repo_dir).stdout.splitlines()
    assert short == ["A lyrics.txt", "M song.mid", "D stems/bass.wav"]
    assert muse("commit", "-m", "second take\n\nbody", cwd=repo_dir).exit_code == 0
    write(repo_dir, "lyrics.txt", "la la la\n")
    assert muse("commit", "-m", "third", "--unsigned", cwd=repo_dir).exit_code == 0

    records = json.loads(muse("log", "--json", cwd=repo_dir).stdout)
    assert [r["message"] for r in records] == ["third", "second take\n\nbody", "first take"]
    assert [r["signature"]["status"] for r in records] == ["unsigned", "good", "good"]
    assert records[0]["parents"] == [records[1]["id"]]
    assert records[2]["parents"] == []
    assert records[0]["author"] == {"name": "Test Musician", "email": "test@example.org"}
    assert len(json.loads(muse("log", "--json", "-n", "2", cwd=repo_dir).stdout)) == 2
    oneline = muse("log", "--oneline", cwd=repo_dir).stdout.splitlines()
    assert oneline == [f"{r['id'][:12]} {r['message'].splitlines()[0]}" for r in records]
    assert muse("log", "--oneline", "-n", "1", cwd=repo_dir).stdout.splitlines() == oneline[:1]
    text = muse("log", cwd=repo_dir).stdout
    assert f"commit {records[0]['id']}" in text and "Signature: good (key " in text


def test_nothing_to_commit_and_allow_empty(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "a", "1")
    assert muse("commit", "-m", "one", cwd=repo_dir).exit_code == 0
    before = tree_state(repo_dir)
    again = muse("commit", "-m", "two", cwd=repo_dir)
    assert again.exit_code == 2 and "nothing to commit" in again.stderr
    assert tree_state(repo_dir) == before
    assert muse("commit", "-m", "two", "--allow-empty", cwd=repo_dir).exit_code == 0
    assert len(json.loads(muse("log", "--json", cwd=repo_dir).stdout)) == 2


def test_an_empty_first_commit_needs_allow_empty(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "scratch.tmp", "x")
    write(repo_dir, ".museignore", "*.tmp\n*ignore\n")  # everything ignored: nothing to record
    res = changes_nothing(muse, repo_dir, "commit", "-m", "first", exit_code=2)
    assert "nothing to commit: the working tree is empty (or all ignored)" in res.stderr
    assert "--allow-empty" in res.stderr
    made = muse("commit", "-m", "first", "--allow-empty", cwd=repo_dir)
    assert made.exit_code == 0, made.output
    assert Repository.find(repo_dir).head() is not None


def test_messages_from_several_m_and_from_a_file(muse: MuseRunner, repo_dir: Path,
                                                 tmp_path: Path) -> None:
    write(repo_dir, "a", "1")
    assert muse("commit", "-m", "Bass take", "-m", "Recorded at home.\n", cwd=repo_dir,
                ).exit_code == 0
    repo = Repository.find(repo_dir)
    head = repo.head()
    assert head is not None
    assert repo.graph.commit(head).message == "Bass take\n\nRecorded at home."
    write(repo_dir, "a", "2")
    note = tmp_path / "msg.txt"
    note.write_text("Keys overdub\n\nTwo passes.\n", encoding="utf-8")
    assert muse("commit", "-F", str(note), cwd=repo_dir).exit_code == 0
    head = repo.head()
    assert head is not None and repo.graph.commit(head).message.startswith("Keys overdub\n")
    write(repo_dir, "a", "3")
    quiet = muse("commit", "-q", "-F", "-", cwd=repo_dir, input=b"From stdin\n")
    assert quiet.exit_code == 0 and quiet.stdout == ""
    head = repo.head()
    assert head is not None and repo.graph.commit(head).subject == "From stdin"


@pytest.mark.parametrize("args, message", [
    ((), "a commit needs a message"),
    (("-m", "x", "-F", "-"), "-m and -F cannot be combined"),
])
def test_commit_message_mistakes(muse: MuseRunner, repo_dir: Path, args: tuple[str, ...],
                                 message: str) -> None:
    write(repo_dir, "a", "1")
    res = changes_nothing(muse, repo_dir, "commit", *args, exit_code=2)
    assert message in res.stderr


def test_a_message_file_that_is_not_utf8(muse: MuseRunner, repo_dir: Path,
                                         tmp_path: Path) -> None:
    write(repo_dir, "a", "1")
    bad = tmp_path / "msg.txt"
    bad.write_bytes(b"caf\xe9\n")
    res = changes_nothing(muse, repo_dir, "commit", "-F", str(bad), exit_code=2)
    assert "the message file is not UTF-8 text" in res.stderr


def test_empty_message_refused(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "a", "1")
    before = tree_state(repo_dir)
    res = muse("commit", "-m", "  ", cwd=repo_dir)
    assert res.exit_code == 2 and "empty commit message" in res.stderr
    assert tree_state(repo_dir) == before


def test_museignore_git_style_patterns(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, ".museignore", "\n".join([
        "# comment", "*.wav", "!keep.wav", "/build/", "**/tmp", "cache/", "/top.txt", "",
    ]))
    files = [
        "a.wav", "stems/b.wav", "keep.wav", "stems/keep.wav",        # *.wav, !keep.wav
        "build/out.o", "sub/build/kept.o",                           # /build/ is anchored
        "tmp/x", "deep/er/tmp/y", "tmp.txt",                         # **/tmp
        "cache/c", "x/cache/d", "cachefile",                         # cache/ is dir-only
        "top.txt", "sub/top.txt",                                    # /top.txt anchored
        "song.mid",
    ]
    for rel in files:
        write(repo_dir, rel)
    assert muse("commit", "-m", "ignore", cwd=repo_dir).exit_code == 0
    assert sorted(committed_paths(repo_dir)) == sorted([
        ".museignore", "keep.wav", "stems/keep.wav", "sub/build/kept.o", "tmp.txt",
        "cachefile", "sub/top.txt", "song.mid",
    ])
    # An ignored file that changes does not show up in status either.
    write(repo_dir, "a.wav", "changed")
    assert muse("status", "-s", cwd=repo_dir).stdout == ""


def test_ignore_rules_cannot_be_dodged_by_dir_only_pattern_on_file(muse: MuseRunner,
                                                                   repo_dir: Path) -> None:
    write(repo_dir, ".museignore", "renders/\n")
    write(repo_dir, "renders", "a file named like the ignored directory")
    write(repo_dir, "x/renders/mix.wav")
    assert muse("commit", "-m", "m", cwd=repo_dir).exit_code == 0
    assert sorted(committed_paths(repo_dir)) == [".museignore", "renders"]


def test_executable_bit_recorded_and_changes_detected(muse: MuseRunner,
                                                      repo_dir: Path) -> None:
    script = write(repo_dir, "render.sh", "#!/bin/sh\n")
    script.chmod(0o755)
    write(repo_dir, "notes.txt", "n")
    assert muse("commit", "-m", "x", cwd=repo_dir).exit_code == 0
    paths = committed_paths(repo_dir)
    assert paths["render.sh"][2] is True and paths["notes.txt"][2] is False
    script.chmod(0o644)
    assert muse("status", "-s", cwd=repo_dir).stdout.splitlines() == ["M render.sh"]
    assert muse("commit", "-m", "not exec", cwd=repo_dir).exit_code == 0
    assert committed_paths(repo_dir)["render.sh"][2] is False


def test_unsigned_requires_flag_without_key(muse: MuseRunner, repo_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (muse.home / "keys").iterdir():
        key.unlink()
    write(repo_dir, "a", "1")
    res = changes_nothing(muse, repo_dir, "commit", "-m", "no key", exit_code=7)
    assert "error: no signing key" in res.stderr
    assert "--unsigned" in res.stderr and "muse keys generate" in res.stderr
    ok = muse("commit", "-m", "no key", "--unsigned", cwd=repo_dir)
    assert ok.exit_code == 0 and "(unsigned)" in ok.stdout


def test_missing_identity_is_config_error(muse: MuseRunner, repo_dir: Path) -> None:
    config = muse.home / "config"
    config.write_text(config.read_text().replace("name = Test Musician", ""))
    write(repo_dir, "a", "1")
    before = tree_state(repo_dir)
    res = muse("commit", "-m", "who", cwd=repo_dir)
    assert res.exit_code == 7 and "user.name" in res.stderr
    assert tree_state(repo_dir) == before


@pytest.mark.parametrize("name, shown", [
    ("back\\slash.wav", "backslash in path"),
    ("ctl\x01char.mid", "control character in path"),
    ("new\nline.txt", "control character in path"),
])
def test_unstorable_names_refused_naming_the_file(muse: MuseRunner, repo_dir: Path,
                                                  name: str, shown: str) -> None:
    write(repo_dir, "good.txt", "fine")
    write(repo_dir, f"sub/{name}", "bad name")
    res = changes_nothing(muse, repo_dir, "commit", "-m", "bad", exit_code=2)
    assert shown in res.stderr and repr(f"sub/{name}") in res.stderr
    assert "hint: rename the file, or list it in .museignore" in res.stderr
    assert not list((repo_dir / ".muse/objects").rglob("*"))
    # Ignoring it lets the commit go through.
    write(repo_dir, ".museignore", "sub/\n")
    assert muse("commit", "-m", "ok", cwd=repo_dir).exit_code == 0


def test_invalid_utf8_name_refused(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "good.txt", "fine")
    with open(os.path.join(os.fsencode(repo_dir), b"bad\xffname.wav"), "wb") as handle:
        handle.write(b"data")
    res = changes_nothing(muse, repo_dir, "commit", "-m", "bad", exit_code=2)
    assert "not valid UTF-8" in res.stderr and "bad\\xffname.wav" in res.stderr
    assert not list((repo_dir / ".muse/objects").rglob("*"))
    status = muse("status", cwd=repo_dir)  # status warns and goes on (tests/test_status_names)
    assert status.exit_code == 0 and "warning: skipped: " in status.stderr
    assert "bad\\xffname.wav" in status.stderr


def test_invalid_utf8_directory_refused(muse: MuseRunner, repo_dir: Path) -> None:
    os.mkdir(os.path.join(os.fsencode(repo_dir), b"dir\xfe"))
    write(repo_dir, "good.txt", "fine")
    (Path(os.fsdecode(os.path.join(os.fsencode(repo_dir), b"dir\xfe"))) / "f").write_text("x")
    before = tree_state(repo_dir)
    res = muse("commit", "-m", "bad", cwd=repo_dir)
    assert res.exit_code == 2 and "dir\\xfe" in res.stderr
    assert tree_state(repo_dir) == before


def _build_big_tree(root: Path, files: int, big_mb: int) -> None:
    for i in range(files):
        write(root, f"d{i % 20}/f{i}.bin", os.urandom(2048))
    chunk = os.urandom(1 << 20)
    with open(root / "big.wav", "wb") as out:
        for i in range(big_mb):
            out.write(i.to_bytes(4, "big") + chunk[4:])


@pytest.mark.slow
def test_interrupted_commit_leaves_old_or_complete_commit(muse: MuseRunner,
                                                          repo_dir: Path) -> None:
    write(repo_dir, "start.txt", "v0")
    assert muse("commit", "-m", "base", cwd=repo_dir).exit_code == 0
    old_head = Repository.find(repo_dir).head()
    _build_big_tree(repo_dir, files=1500, big_mb=60)
    outcomes = set()
    for attempt, delay in enumerate((0.05, 0.2, 0.4, 0.7, 1.0, 1.5, 2.5)):
        write(repo_dir, "start.txt", f"v{attempt + 1}")
        proc = muse.popen("commit", "-m", f"attempt {attempt}", cwd=repo_dir,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check = muse.proc("verify", cwd=repo_dir)
        assert check.exit_code == 0, check.output
        repo = Repository.find(repo_dir)
        head = repo.head()
        if head == old_head:
            outcomes.add("old")
            continue
        outcomes.add("new")
        commit = repo.graph.commit(head)
        assert commit.parents == (old_head,)
        assert commit.message.startswith("attempt ")
        snap = repo.store.read_snapshot(commit.snapshot)
        assert {"big.wav", "start.txt", "d0/f0.bin"} <= set(snap.as_dict())
        old_head = head
    assert "old" in outcomes  # at least the early kills landed before the ref moved
    write(repo_dir, "start.txt", "final")
    final = muse.proc("commit", "-m", "final", cwd=repo_dir)
    assert final.exit_code == 0, final.output
    assert muse.proc("verify", cwd=repo_dir).exit_code == 0
    assert muse.proc("status", "-s", cwd=repo_dir).stdout == ""


@pytest.mark.slow
def test_concurrent_commits_never_lose_one(muse: MuseRunner, repo_dir: Path) -> None:
    write(repo_dir, "a", "1")
    assert muse("commit", "-m", "base", cwd=repo_dir).exit_code == 0
    procs = [
        muse.popen("commit", "--allow-empty", "-m", f"racer {i}", cwd=repo_dir,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(6)
    ]
    reported = []
    failures = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        if proc.returncode == 0:
            reported.append(re.search(rb"\[main ([0-9a-f]{12})\]", out).group(1).decode())
        else:
            failures.append((proc.returncode, err.decode()))
    assert reported, failures
    for code, err in failures:  # a loser is told its branch moved; it never overwrites
        assert code == 4 and ("moved" in err or "locked" in err), err
    repo = Repository.find(repo_dir)
    head = repo.head()
    assert head is not None
    reachable = {oid[:12] for oid in repo.graph.walk([head])}
    assert set(reported) <= reachable
    assert len(reachable) == len(reported) + 1
    assert muse.proc("verify", cwd=repo_dir).exit_code == 0
