"""`muse gc` and `muse count-objects`: one pack, roots kept, unreachable data pruned after a
grace period, bad input refused with nothing changed."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from muse import gc
from muse.errors import UsageError
from muse.fsck import verify_repository
from muse.objects import hash_bytes
from muse.receive import receive_bundle
from muse.repo import Repository
from tests.bundle_repos import bundle_bytes, commit_files, make_repo
from tests.testkit import MuseRunner, tree_state

WEEKS = 7 * 86400


def age(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


def loose_path(repo: Repository, oid: str) -> Path:
    return repo.muse_dir / "objects" / oid[:2] / oid[2:]


def packed_repo(tmp_path: Path, commits: int) -> tuple[Repository, list[str]]:
    """A repository whose history arrived as one pack per commit (fetches, unbundles)."""
    source = make_repo(tmp_path / "source")
    ids = [commit_files(source, {f"take{i}.mid": f"take {i}\n".encode() * (i + 1)}, f"take {i}",
                        sign=False) for i in range(commits)]
    target = make_repo(tmp_path / "target")
    for i, oid in enumerate(ids):
        data, _ = bundle_bytes(source, [oid], ids[i - 1 : i] if i else [])
        receive_bundle(target.store, io.BytesIO(data))
        target.refs.update("refs/heads/main", ids[i - 1] if i else None, oid, "fetch")
    return Repository.find(target.root), ids


def all_readable(repo: Repository, commits: list[str]) -> None:
    """Every commit, snapshot and file of `commits` reads back and hashes right."""
    fresh = Repository.find(repo.root) if repo.root else Repository.open_bare(repo.muse_dir)
    for oid in commits:
        snap = fresh.commit_snapshot(oid)
        for entry in snap.entries:
            fresh.store.read(entry.oid)


# -- expiry ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("now", 0), ("2.weeks.ago", 2 * WEEKS), ("2.weeks", 2 * WEEKS), ("3 days ago", 3 * 86400),
    ("1.hour", 3600), ("90.minutes.ago", 5400), ("1.year", 365 * 86400)])
def test_relative_expiry(text: str, seconds: int) -> None:
    assert gc.prune_cutoff(text, now=1_000_000_000.0) == 1_000_000_000.0 - seconds


def test_absolute_and_never_expiry() -> None:
    assert gc.prune_cutoff("never") is None
    assert gc.prune_cutoff("2026-11-01T00:00:00+00:00") == 1793491200.0


@pytest.mark.parametrize("text", ["", "soon", "2.fortnights", "-1.days", "weeks.2"])
def test_bad_expiry_refused(text: str) -> None:
    with pytest.raises(UsageError):
        gc.prune_cutoff(text)


# -- packing ----------------------------------------------------------------------------


def test_many_packs_and_loose_objects_become_one_pack(muse_home: Path, tmp_path: Path) -> None:
    repo, ids = packed_repo(tmp_path, 12)
    ids.append(commit_files(repo, {"loose.wav": b"RIFF" + bytes(3000)}, "local", sign=False))
    assert len(repo.store.list_packs()) == 12 and any(repo.store.all_loose_ids())
    report = gc.collect(repo, cutoff=gc.prune_cutoff("2.weeks.ago"))
    assert (report.packs_before, report.packs_after, report.loose_after) == (12, 1, 0)
    fresh = Repository.find(repo.root)
    assert fresh.store.list_packs() == [report.pack]
    assert fresh.store.index.packs == [report.pack]
    assert verify_repository(fresh).ok
    all_readable(fresh, ids)
    # Nothing left to do: a second gc writes nothing and keeps the same pack.
    again = gc.collect(fresh, cutoff=gc.prune_cutoff("now"))
    assert again.pack == report.pack and again.pruned_objects == 0


def test_the_pack_is_a_bundle_of_the_whole_repository(muse_home: Path, tmp_path: Path,
                                                      muse: MuseRunner) -> None:
    repo, _ = packed_repo(tmp_path, 3)
    report = gc.collect(repo, cutoff=None)
    pack = repo.muse_dir / "packs" / f"pack-{report.pack}.bundle"
    res = muse("bundle", "verify", str(pack), "--json", cwd=tmp_path)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["refs"] == {"refs/heads/main": repo.head()} and data["prerequisites"] == []
    assert data["commits"] == 3 and data["bundle_id"] == report.pack


def test_store_opened_before_gc_still_reads(muse_home: Path, tmp_path: Path) -> None:
    repo, ids = packed_repo(tmp_path, 4)
    stale = Repository.find(repo.root)
    assert len(stale.store.index.packs) == 4  # opened now, before gc replaces every pack
    gc.collect(Repository.find(repo.root), cutoff=None)
    for oid in ids:
        for entry in stale.commit_snapshot(oid).entries:
            assert stale.store.read(entry.oid).startswith(b"take")


# -- roots and pruning -------------------------------------------------------------------


def dangling_commit(repo: Repository, name: str) -> str:
    """A commit on a branch that is then deleted: only what the test adds keeps it."""
    base = repo.head()
    repo.refs.update("refs/heads/tmp", None, base, "branch")
    repo.refs.set_head("refs/heads/tmp", "test: onto tmp")
    oid = commit_files(repo, {name: f"{name} only\n".encode()}, name, sign=False)
    repo.refs.set_head("refs/heads/main", "test: back to main")
    repo.refs.update("refs/heads/tmp", oid, None, "delete")
    (repo.muse_dir / "logs" / "refs" / "heads" / "tmp").unlink()
    # HEAD's reflog remembers the commit too (it was made on HEAD): as after its expiry.
    (repo.muse_dir / "logs" / "HEAD").unlink(missing_ok=True)
    (repo.root / name).unlink()
    return oid


def age_everything(repo: Repository) -> None:
    for folder in ("objects", "packs"):
        for dirpath, _dirs, files in os.walk(repo.muse_dir / folder):
            for f in files:
                age(Path(dirpath) / f, 3 * WEEKS)


@pytest.fixture
def repo(muse_home: Path, tmp_path: Path) -> Repository:
    found = make_repo(tmp_path / "work")
    commit_files(found, {"song.mid": b"MThd verse"}, "one", sign=False)
    return found


def test_unreachable_old_objects_are_pruned(repo: Repository) -> None:
    gone = dangling_commit(repo, "demo.wav")
    age_everything(repo)
    report = gc.collect(repo, cutoff=gc.prune_cutoff("2.weeks.ago"))
    assert report.pruned_objects == 3  # the commit, its snapshot, demo.wav's blob
    assert not repo.store.has(gone) and verify_repository(Repository.find(repo.root)).ok


def test_unreachable_young_objects_are_kept_loose_then_age_out(repo: Repository) -> None:
    kept = dangling_commit(repo, "demo.wav")
    gc.collect(repo, cutoff=gc.prune_cutoff("2.weeks.ago"))
    fresh = Repository.find(repo.root)
    assert fresh.store.has(kept) and loose_path(fresh, kept).exists()
    snapshot = fresh.graph.commit(kept).snapshot
    blob = fresh.store.read_snapshot(snapshot).as_dict()["demo.wav"].oid
    assert gc.collect(fresh, cutoff=gc.prune_cutoff("2.weeks.ago")).pruned_objects == 0
    # Once they are past the grace period, the next gc drops all three.
    for oid in (kept, snapshot, blob):
        age(loose_path(fresh, oid), 3 * WEEKS)
    assert gc.collect(fresh, cutoff=gc.prune_cutoff("2.weeks.ago")).pruned_objects == 3
    assert not Repository.find(repo.root).store.has(kept)


def test_young_packed_unreachable_objects_are_unpacked_with_their_age(
        muse_home: Path, tmp_path: Path) -> None:
    repo, ids = packed_repo(tmp_path, 3)
    repo.refs.update("refs/heads/main", ids[-1], ids[0], "reset")
    for log in ("refs/heads/main", "HEAD"):  # as after the reflogs' expiry
        (repo.muse_dir / "logs" / log).unlink(missing_ok=True)
    pack_time = time.time() - 86400
    for p in (repo.muse_dir / "packs").glob("*.bundle"):
        os.utime(p, (pack_time, pack_time))
    gc.collect(repo, cutoff=gc.prune_cutoff("2.weeks.ago"))
    fresh = Repository.find(repo.root)
    assert loose_path(fresh, ids[-1]).exists()
    assert abs(loose_path(fresh, ids[-1]).stat().st_mtime - pack_time) < 2
    assert gc.collect(fresh, cutoff=gc.prune_cutoff("12.hours.ago")).pruned_objects >= 2
    assert not Repository.find(repo.root).store.has(ids[-1])


@pytest.mark.parametrize("keeper", ["reflog", "reflog-identity", "stash", "merge", "detached",
                                    "tag", "conflict-blob"])
def test_each_root_keeps_what_it_names(repo: Repository, keeper: str) -> None:
    oid = dangling_commit(repo, "demo.wav")
    blob = repo.store.read_snapshot(repo.graph.commit(oid).snapshot).as_dict()["demo.wav"].oid
    muse_dir = repo.muse_dir
    if keeper == "reflog":
        (muse_dir / "logs" / "refs" / "heads" / "main").write_text(f"- {oid} 1 moved\n")
    elif keeper == "reflog-identity":
        (muse_dir / "logs" / "HEAD").write_text(f"{oid} {'0' * 64} 17 Ada <a@b>\tswitch\n")
    elif keeper == "stash":
        (muse_dir / "stash.list").write_text(f"{oid}\n")
    elif keeper == "merge":
        (muse_dir / "MERGE_HEAD").write_text(f"{oid}\n")
    elif keeper == "detached":
        (muse_dir / "HEAD").write_text(f"{oid}\n")
    elif keeper == "tag":
        repo.refs.update("refs/tags/demo", None, oid, "tag")
    else:
        (muse_dir / "MERGE_CONFLICTS").write_text(json.dumps([{"theirs": blob}]))
    age_everything(repo)
    gc.collect(repo, cutoff=gc.prune_cutoff("now"))
    fresh = Repository.find(repo.root)
    assert fresh.store.read(blob) == b"demo.wav only\n"
    if keeper != "conflict-blob":
        assert fresh.store.has(oid)
        fresh.commit_snapshot(oid)
    assert verify_repository(fresh).ok


def test_roots_are_read_from_every_file(repo: Repository) -> None:
    oid = dangling_commit(repo, "x.wav")
    (repo.muse_dir / "logs" / "HEAD").write_text(f"{'1' * 64} {oid} 5 me\tmsg {'2' * 64}\n")
    roots = gc.repository_roots(repo)
    assert oid in roots.recorded and "1" * 64 in roots.recorded
    assert "2" * 64 not in roots.all  # only the first two fields are ids
    (repo.muse_dir / "logs" / "HEAD").write_text(f"{'0' * 64} {oid} 5 me\tcreated\n")
    assert gc.repository_roots(repo).recorded == {oid}  # 64 zeros: "none", not an object
    assert repo.head() in roots.required


# -- refusals: one line, nothing changed --------------------------------------------------


def test_bad_prune_is_refused(muse: MuseRunner, repo: Repository) -> None:
    assert repo.root is not None
    before = tree_state(repo.root)
    res = muse("gc", "--prune=someday", cwd=repo.root)
    assert res.exit_code == 2 and "cannot read the expiry 'someday'" in res.stderr
    assert "Traceback" not in res.output and tree_state(repo.root) == before


def test_bad_configured_expiry_is_a_config_error(muse: MuseRunner, repo: Repository) -> None:
    assert repo.root is not None
    repo.config.set("gc.pruneExpire", "whenever")
    before = tree_state(repo.root)
    res = muse("gc", cwd=repo.root)
    assert res.exit_code == 7 and "gc.pruneExpire" in res.stderr
    assert tree_state(repo.root) == before


def test_damaged_ref_stops_gc(muse: MuseRunner, repo: Repository) -> None:
    assert repo.root is not None
    (repo.muse_dir / "refs" / "heads" / "broken").write_text("not an id\n")
    before = tree_state(repo.root)
    res = muse("gc", "--prune=now", cwd=repo.root)
    assert res.exit_code == 3 and "damaged" in res.stderr
    assert tree_state(repo.root) == before


def test_missing_reachable_object_stops_gc(muse: MuseRunner, repo: Repository) -> None:
    assert repo.root is not None
    blob = repo.head_snapshot().as_dict()["song.mid"].oid  # type: ignore[union-attr]
    loose_path(repo, blob).unlink()
    before = tree_state(repo.root)
    res = muse("gc", "--prune=now", cwd=repo.root)
    assert res.exit_code == 5 and "missing" in res.stderr
    assert tree_state(repo.root) == before


def test_one_gc_at_a_time(muse: MuseRunner, repo: Repository) -> None:
    assert repo.root is not None
    from muse.lockfile import locked

    with locked(repo.muse_dir / gc.GC_LOCK, what="gc"):
        before = tree_state(repo.root)
        res = muse("gc", "--json", cwd=repo.root)
        assert tree_state(repo.root) == before
    assert res.exit_code == 4
    assert json.loads(res.stderr)["error"]["code"] == "gc-running"


# -- count-objects and the command line --------------------------------------------------


def test_count_objects_reports_what_gc_reclaims(muse: MuseRunner, muse_home: Path,
                                                tmp_path: Path) -> None:
    repo, _ = packed_repo(tmp_path, 3)
    assert repo.root is not None
    dangling_commit(repo, "demo.wav")
    age_everything(repo)
    stray = repo.muse_dir / "packs" / ("pack-" + "e" * 64 + ".bundle")
    stray.write_bytes(b"half installed")
    age(stray, 7200)
    res = muse("count-objects", "--json", cwd=repo.root)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["loose"]["objects"] == 3 and data["packed"]["packs"] == 3
    assert data["unreachable"]["objects"] == 3 and data["prunable"]["objects"] == 3
    assert data["garbage"] == {"files": 1, "bytes": len(b"half installed")}
    assert data["reclaimable_bytes"] >= data["prunable"]["bytes"] + 14
    verbose = muse("count-objects", "-v", cwd=repo.root).stdout
    assert "3 loose objects" in verbose and "reclaimable by gc" in verbose
    done = json.loads(muse("gc", "--json", cwd=repo.root).stdout)
    assert done["ran"] and done["pruned_objects"] == 3 and done["garbage_removed"] == 1
    after = json.loads(muse("count-objects", "--json", cwd=repo.root).stdout)
    assert after["reclaimable_bytes"] == 0 and after["packed"]["packs"] == 1


def test_gc_auto_runs_only_above_the_threshold(muse: MuseRunner, muse_home: Path,
                                               tmp_path: Path) -> None:
    repo, _ = packed_repo(tmp_path, 4)
    assert repo.root is not None
    repo.config.set("gc.autoPacks", "4")
    assert json.loads(muse("gc", "--auto", "--json", cwd=repo.root).stdout) == {"ran": False}
    assert len(repo.store.list_packs()) == 4
    repo.config.set("gc.autoPacks", "3")
    assert json.loads(muse("gc", "--auto", "--json", cwd=repo.root).stdout)["ran"] is True
    assert len(repo.store.list_packs()) == 1


def test_gc_prints_a_summary(muse: MuseRunner, muse_home: Path, tmp_path: Path) -> None:
    repo, _ = packed_repo(tmp_path, 2)
    assert repo.root is not None
    res = muse("gc", cwd=repo.root)
    assert res.exit_code == 0 and "packs: 2 -> 1" in res.stdout


def test_commit_and_unbundle_run_gc_auto(muse: MuseRunner, muse_home: Path,
                                         tmp_path: Path) -> None:
    repo, ids = packed_repo(tmp_path, 3)
    assert repo.root is not None
    repo.config.set("gc.autoPacks", "3")
    (repo.root / "new.mid").write_bytes(b"MThd new")
    assert muse("commit", "--unsigned", "-m", "below the threshold", cwd=repo.root).exit_code == 0
    assert len(repo.store.list_packs()) == 3 and any(repo.store.all_loose_ids())
    source = Repository.find(tmp_path / "source")
    extra = commit_files(source, {"extra.mid": b"extra"}, "extra", sign=False)
    data, _ = bundle_bytes(source, [extra], [ids[-1]], refs={"refs/heads/extra": extra})
    (tmp_path / "extra.bundle").write_bytes(data)
    res = muse("bundle", "unbundle", str(tmp_path / "extra.bundle"), cwd=repo.root)
    assert res.exit_code == 0, res.output
    fresh = Repository.find(repo.root)
    assert fresh.store.list_packs() != [] and len(fresh.store.list_packs()) == 1
    assert not any(fresh.store.all_loose_ids())
    assert verify_repository(fresh).ok


def test_a_failing_gc_auto_is_a_warning(muse: MuseRunner, muse_home: Path,
                                        tmp_path: Path) -> None:
    repo, _ = packed_repo(tmp_path, 2)
    assert repo.root is not None
    repo.config.set("gc.autoPacks", "1")
    repo.config.set("gc.pruneExpire", "whenever")
    (repo.root / "new.mid").write_bytes(b"MThd new")
    res = muse("commit", "--unsigned", "-m", "still committed", cwd=repo.root)
    assert res.exit_code == 0 and "warning: gc --auto did not run" in res.stderr
    assert Repository.find(repo.root).head() is not None
    assert len(repo.store.list_packs()) == 2


@pytest.mark.parametrize("key", ["gc.autoPacks", "gc.auto"])
def test_bad_threshold_is_a_config_error(muse: MuseRunner, repo: Repository, key: str) -> None:
    assert repo.root is not None
    repo.config.set(key, "lots")
    before = tree_state(repo.root)
    res = muse("gc", "--auto", cwd=repo.root)
    assert res.exit_code == 7 and f"{key} must be a whole number" in res.stderr
    assert tree_state(repo.root) == before


def test_odd_bytes_in_records_do_not_stop_gc(repo: Repository) -> None:
    oid = dangling_commit(repo, "kept.wav")
    (repo.muse_dir / "stash.list").write_bytes(b"\xff\xfe garbage\n" + oid.encode() + b"\n")
    (repo.muse_dir / "logs" / "odd").write_bytes(b"\x00\x01 \xff\n")
    age_everything(repo)
    gc.collect(repo, cutoff=gc.prune_cutoff("now"))
    assert Repository.find(repo.root).store.has(oid)


def test_reusing_an_old_unreachable_object_makes_it_young(repo: Repository) -> None:
    assert repo.root is not None
    dangling_commit(repo, "again.wav")
    age_everything(repo)
    blob = hash_bytes(b"again.wav only\n")
    assert loose_path(repo, blob).stat().st_mtime < time.time() - 2 * WEEKS
    commit_files(repo, {"again.wav": b"again.wav only\n"}, "restored", sign=False)
    assert loose_path(repo, blob).stat().st_mtime > time.time() - 60
    gc.collect(repo, cutoff=gc.prune_cutoff("now"))
    assert verify_repository(Repository.find(repo.root)).ok
