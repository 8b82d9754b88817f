"""Reflog expiry: `muse reflog expire`, gc.reflogExpire(Unreachable), and gc collecting
what only expired entries kept alive."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from muse.reflog import ReflogEntry
from muse.refs import RefUpdate
from muse.repo import Repository
from tests.branching_support import commit, ref, write
from tests.remote_support import ok
from tests.testkit import changes_nothing

DAY = 86400


def _age(repo_dir: Path, ref_name: str, days: float, *, first: int | None = None) -> None:
    """Date the oldest `first` lines (default all) of REF's log `days` ago."""
    path = repo_dir / ".muse/logs" / ref_name
    lines = path.read_text().splitlines(keepends=True)
    when = str(int(time.time() - days * DAY))
    count = len(lines) if first is None else first
    aged = []
    for i, line in enumerate(lines):
        if i < count:
            old, new, _ts, rest = line.split(" ", 3)
            line = f"{old} {new} {when} {rest}"
        aged.append(line)
    path.write_text("".join(aged))


def _messages(repo_dir: Path, ref_name: str) -> list[str]:
    path = repo_dir / ".muse/logs" / ref_name
    return [line.split("\t", 1)[1] for line in path.read_text().splitlines()]


def _history(muse, repo_dir: Path) -> tuple[str, str, str]:
    """Three commits on main, then a reset --hard back to the first: the two later ones
    are now reached only by reflog entries."""
    write(repo_dir, "a.mid", "one")
    first = commit(muse, repo_dir, "one")
    write(repo_dir, "take.wav", "x" * 5000)
    second = commit(muse, repo_dir, "two")
    write(repo_dir, "a.mid", "three")
    third = commit(muse, repo_dir, "three")
    ok(muse("reset", "--hard", first, cwd=repo_dir))
    return first, second, third


def test_old_entries_go_and_recent_ones_stay(muse, repo_dir: Path) -> None:
    _history(muse, repo_dir)
    _age(repo_dir, "refs/heads/main", 100, first=2)  # "commit: one", "commit: two"
    result = muse("reflog", "expire", "main", "--json", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["removed"] == {"refs/heads/main": 2}
    main = ref(repo_dir, "refs/heads/main")
    assert _messages(repo_dir, "refs/heads/main") == ["commit: three", f"reset: moving to {main}"]
    assert len(_messages(repo_dir, "HEAD")) == 4  # only main's log was named


def test_unreachable_entries_go_sooner_than_reachable_ones(muse, repo_dir: Path) -> None:
    first, second, third = _history(muse, repo_dir)
    _age(repo_dir, "refs/heads/main", 40)  # past 30 days, within 90
    ok(muse("reflog", "expire", "main", cwd=repo_dir))
    repo = Repository.find(repo_dir)
    kept = [e for e in repo.refs.reflog("refs/heads/main") if isinstance(e, ReflogEntry)]
    # Only "commit: one" is left: "commit: two" and "three" moved main to commits it no
    # longer reaches, and the reset moved it away from one (gc keeps both sides alive).
    assert [(e.old, e.new, e.message) for e in kept] == [(None, first, "commit: one")]
    assert not {second, third} & {i for e in kept for i in (e.old, e.new)}


def test_never_keeps_everything_and_a_dry_run_changes_nothing(muse, repo_dir: Path) -> None:
    _history(muse, repo_dir)
    _age(repo_dir, "refs/heads/main", 1000)
    _age(repo_dir, "HEAD", 1000)
    result = changes_nothing(muse, repo_dir, "reflog", "expire", "--expire=never",
                             "--expire-unreachable=never", exit_code=0)
    assert "nothing to expire" in result.stdout
    dry = changes_nothing(muse, repo_dir, "reflog", "expire", "--dry-run", "--json",
                          exit_code=0)
    assert json.loads(dry.stdout)["removed"]["refs/heads/main"] == 4


def test_damaged_lines_stay_and_bad_dates_change_nothing(muse, repo_dir: Path) -> None:
    _history(muse, repo_dir)
    log = repo_dir / ".muse/logs/refs/heads/main"
    log.write_text(log.read_text() + "not a reflog line\n")
    _age(repo_dir, "refs/heads/main", 1000, first=4)
    ok(muse("reflog", "expire", "main", cwd=repo_dir))
    assert log.read_text() == "not a reflog line\n"
    bad = changes_nothing(muse, repo_dir, "reflog", "expire", "--expire=soonish", exit_code=2)
    assert "cannot read the expiry" in bad.output
    both = changes_nothing(muse, repo_dir, "reflog", "expire", "--all", "main", exit_code=2)
    assert "--all" in both.output
    unknown = changes_nothing(muse, repo_dir, "reflog", "expire", "nope", exit_code=2)
    assert "nope" in unknown.output
    ok(muse("config", "gc.reflogExpire", "whenever", cwd=repo_dir))
    configured = changes_nothing(muse, repo_dir, "reflog", "expire", exit_code=7)
    assert "gc.reflogExpire" in configured.output


def test_gc_expires_first_and_collects_what_only_old_entries_kept(muse, repo_dir: Path) -> None:
    _first, second, third = _history(muse, repo_dir)
    repo = Repository.find(repo_dir)
    take = repo.store.read_snapshot(repo.graph.commit(second).snapshot)
    blob = next(e.oid for e in take.entries if e.path == "take.wav")
    ok(muse("gc", "--prune=now", cwd=repo_dir))
    assert Repository.find(repo_dir).store.has(blob)  # fresh entries still keep it
    for name in ("refs/heads/main", "HEAD"):
        _age(repo_dir, name, 45)
    result = muse("gc", "--prune=now", "--json", cwd=repo_dir)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["reflog_entries_expired"] >= 4
    after = Repository.find(repo_dir)
    assert not after.store.has(blob) and not after.store.has(third)
    verified = muse("verify", cwd=repo_dir)
    assert verified.exit_code == 0, verified.output


def test_a_ref_moving_while_its_log_is_expired_loses_no_line(muse, repo_dir: Path) -> None:
    write(repo_dir, "a.mid", "one")
    a = commit(muse, repo_dir, "one")
    write(repo_dir, "a.mid", "two")
    b = commit(muse, repo_dir, "two")
    repo = Repository.find(repo_dir)
    moves = 60
    done = threading.Event()

    def mover() -> None:
        current = b
        for i in range(moves):
            target = a if current == b else b
            # Every other move is one the expiry drops; every one it must keep survives.
            repo.refs.transaction([RefUpdate("refs/heads/main", current, target)],
                                  "drop-me" if i % 2 else f"keep {i}")
            current = target
        done.set()

    thread = threading.Thread(target=mover)
    thread.start()
    while not done.is_set():
        for name in ("refs/heads/main", "HEAD"):
            repo.refs.expire_reflog(name, lambda e: e.message != "drop-me")
    thread.join()
    for name in ("refs/heads/main", "HEAD"):
        kept = [m for m in _messages(repo_dir, name) if m.startswith("keep")]
        assert kept == [f"keep {i}" for i in range(0, moves, 2)], name
