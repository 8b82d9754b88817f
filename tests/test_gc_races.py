"""`muse gc` under fire: SIGKILL at each of its steps, and commits, fetches and pushes racing
it from other processes. Afterwards the repository verifies and has lost nothing reachable."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from muse import gc
from muse.fsck import verify_repository
from muse.receive import receive_bundle
from muse.repo import Repository
from tests.bundle_repos import bundle_bytes, commit_files, make_repo
from tests.test_gc import age_everything, all_readable, dangling_commit, packed_repo
from tests.testkit import MuseRunner

KILL_AT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from muse import gc
    from muse.repo import Repository

    def hook(step):
        if step == sys.argv[2]:
            os.kill(os.getpid(), signal.SIGKILL)

    repo = Repository.find(Path(sys.argv[1]))
    gc.collect(repo, cutoff=gc.prune_cutoff(sys.argv[3]), hook=hook)
""")


@pytest.mark.parametrize("step", gc.STEPS)
def test_sigkill_at_each_step_loses_nothing(muse_home: Path, tmp_path: Path, step: str) -> None:
    repo, ids = packed_repo(tmp_path, 5)
    assert repo.root is not None
    ids.append(commit_files(repo, {"loose.wav": b"RIFF" + bytes(2000)}, "loose", sign=False))
    old = dangling_commit(repo, "old.wav")
    age_everything(repo)
    young = dangling_commit(repo, "young.wav")
    done = subprocess.run([sys.executable, "-c", KILL_AT, str(repo.root), step, "2.weeks.ago"],
                          capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    fresh = Repository.find(repo.root)
    assert verify_repository(fresh).ok
    all_readable(fresh, ids)
    assert fresh.store.has(young)
    # The next gc breaks the dead one's lock and finishes the job.
    report = gc.collect(fresh, cutoff=gc.prune_cutoff("2.weeks.ago"))
    after = Repository.find(repo.root)
    assert report.packs_after == 1 and verify_repository(after).ok
    all_readable(after, ids)
    assert after.store.has(young) and not after.store.has(old)


RECEIVER = textwrap.dedent("""
    import io, sys
    from pathlib import Path
    from muse.receive import receive_bundle
    from muse.repo import Repository

    repo = Repository.find(Path(sys.argv[1]))
    old = None
    for path in sys.argv[2:]:
        receive_bundle(repo.store, io.BytesIO(Path(path).read_bytes()))
        new = Path(path).with_suffix(".id").read_text()
        repo.refs.update("refs/heads/incoming", old, new, "fetch")
        old = new
""")


def gc_until(proc: subprocess.Popen[bytes], repo_root: Path) -> int:
    """Run gc again and again while `proc` works; how many runs finished."""
    runs = 0
    while proc.poll() is None:
        try:
            gc.collect(Repository.find(repo_root), cutoff=gc.prune_cutoff("2.weeks.ago"))
            runs += 1
        except gc.ConflictError:
            time.sleep(0.01)
    return runs


def test_fetches_racing_gc_lose_nothing(muse_home: Path, tmp_path: Path) -> None:
    source = make_repo(tmp_path / "source")
    ids: list[str] = []
    files = []
    for i in range(25):
        ids.append(commit_files(source, {f"s{i}.mid": f"{i}\n".encode() * 50}, f"c{i}",
                                sign=False))
        data, _ = bundle_bytes(source, [ids[-1]], ids[-2:-1])
        path = tmp_path / f"b{i}.bundle"
        path.write_bytes(data)
        path.with_suffix(".id").write_text(ids[-1])
        files.append(str(path))
    target = make_repo(tmp_path / "target")
    assert target.root is not None
    commit_files(target, {"own.mid": b"own"}, "own", sign=False)
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(target.root), *files],
                            stderr=subprocess.PIPE)
    runs = gc_until(proc, target.root)
    assert proc.wait() == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert runs >= 1
    fresh = Repository.find(target.root)
    assert fresh.refs.read("refs/heads/incoming") == ids[-1]
    assert verify_repository(fresh).ok
    all_readable(fresh, ids)


def test_commits_racing_gc_lose_nothing(muse: MuseRunner, muse_home: Path,
                                        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "work")
    assert repo.root is not None
    commit_files(repo, {"first.mid": b"first"}, "first", sign=False)
    script = "; ".join(f"echo take{i} > take{i}.mid && {sys.executable} -m muse commit "
                       f"--unsigned -q -m take{i} >/dev/null" for i in range(12))
    proc = subprocess.Popen(["bash", "-c", script.replace(" -q", "")], cwd=repo.root,
                            env=muse.env(), stderr=subprocess.PIPE)
    runs = gc_until(proc, repo.root)
    assert proc.wait() == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert runs >= 1
    fresh = Repository.find(repo.root)
    history = list(fresh.graph.walk([fresh.head()]))  # type: ignore[list-item]
    assert len(history) == 13
    assert verify_repository(fresh).ok
    all_readable(fresh, history)


def test_pushes_racing_remote_gc_lose_nothing(muse: MuseRunner, muse_home: Path,
                                              tmp_path: Path) -> None:
    from remotes.bare import RemoteRepository, open_bare_remote

    remote = tmp_path / "remote.muse"
    assert muse("init", "--bare", str(remote), cwd=tmp_path).exit_code == 0
    work = make_repo(tmp_path / "work")
    assert work.root is not None
    commit_files(work, {"a.mid": b"a"}, "a", sign=False)
    assert muse("push", str(remote), "main", cwd=work.root).exit_code == 0
    script = "; ".join(f"echo {i} > f{i}.mid && {sys.executable} -m muse commit --unsigned "
                       f"-m c{i} >/dev/null && {sys.executable} -m muse push {remote} main "
                       ">/dev/null" for i in range(10))
    proc = subprocess.Popen(["bash", "-c", script], cwd=work.root, env=muse.env(),
                            stderr=subprocess.PIPE)
    folds = 0
    while proc.poll() is None:
        try:
            folds += open_bare_remote(remote).gc(prune="now").folded_packs > 0
        except gc.ConflictError:
            time.sleep(0.01)
    assert proc.wait() == 0, proc.stderr.read().decode() if proc.stderr else ""
    open_bare_remote(remote).gc(prune="now")
    view = RemoteRepository(remote)
    assert view.refs.read("refs/heads/main") == Repository.find(work.root).head()
    assert verify_repository(view).ok
    assert len(list(view.graph.walk([view.refs.read("refs/heads/main") or ""]))) == 11
    assert folds >= 1


def test_unbundle_into_a_repository_after_gc(muse_home: Path, tmp_path: Path) -> None:
    """A pack gc wrote is a bundle other stores can receive whole."""
    repo, _ = packed_repo(tmp_path, 3)
    report = gc.collect(repo, cutoff=None)
    other = make_repo(tmp_path / "other")
    pack = repo.muse_dir / "packs" / f"pack-{report.pack}.bundle"
    with open(pack, "rb") as stream:
        got = receive_bundle(other.store, io.BytesIO(stream.read()))
    assert got.new_items == report.packed_objects


REMOTE_KILL_AT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from remotes.bare import BareRemote

    def hook(step):
        if step == sys.argv[2]:
            os.kill(os.getpid(), signal.SIGKILL)

    BareRemote(Path(sys.argv[1]), hook=hook).gc(prune="now")
""")


@pytest.mark.parametrize("step", ["locked", "stored", "swapped", "dropped", "swept"])
def test_sigkill_at_each_step_of_a_remote_gc(muse: MuseRunner, muse_home: Path,
                                             tmp_path: Path, step: str) -> None:
    from remotes.bare import REMOTE_STEPS, RemoteRepository, open_bare_remote

    assert step in REMOTE_STEPS
    remote = tmp_path / "remote.muse"
    assert muse("init", "--bare", str(remote), cwd=tmp_path).exit_code == 0
    work = make_repo(tmp_path / "work")
    assert work.root is not None
    for i in range(3):
        commit_files(work, {f"t{i}.mid": f"{i}\n".encode()}, f"t{i}", sign=False)
        assert muse("push", str(remote), "main", cwd=work.root).exit_code == 0
    head = Repository.find(work.root).head()
    done = subprocess.run([sys.executable, "-c", REMOTE_KILL_AT, str(remote), step],
                          capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    view = RemoteRepository(remote)
    assert view.refs.read("refs/heads/main") == head and verify_repository(view).ok
    assert len(list(view.graph.walk([head or ""]))) == 3
    report = open_bare_remote(remote).gc()  # breaks the dead one's lock, finishes the job
    assert report.ran and len(json.loads((remote / "refs.json").read_text())["packs"]) == 1
    assert verify_repository(RemoteRepository(remote)).ok
    assert muse("clone", str(remote), str(tmp_path / "clone"), cwd=tmp_path).exit_code == 0


@pytest.mark.parametrize("step", ["locked", "marked", "packed", "unpacked"])
def test_a_pack_fetched_while_gc_runs_is_kept(muse_home: Path, tmp_path: Path,
                                              step: str) -> None:
    repo, ids = packed_repo(tmp_path, 3)
    assert repo.root is not None
    source = Repository.find(tmp_path / "source")
    extra = commit_files(source, {"late.mid": b"late"}, "late", sign=False)
    data, _ = bundle_bytes(source, [extra], [ids[-1]])

    def fetch_now(at: str) -> None:
        if at == step:  # another process's fetch: its pack, then its ref
            other = Repository.find(repo.root)
            receive_bundle(other.store, io.BytesIO(data))
            other.refs.update("refs/heads/main", ids[-1], extra, "fetch")

    gc.collect(Repository.find(repo.root), cutoff=gc.prune_cutoff("now"), hook=fetch_now)
    fresh = Repository.find(repo.root)
    assert fresh.head() == extra and verify_repository(fresh).ok
    all_readable(fresh, [*ids, extra])


def test_a_push_landing_while_a_remote_gc_folds_stays_named(
        muse: MuseRunner, muse_home: Path, tmp_path: Path) -> None:
    from remotes.bare import BareRemote, RemoteRepository

    remote = tmp_path / "remote.muse"
    assert muse("init", "--bare", str(remote), cwd=tmp_path).exit_code == 0
    work = make_repo(tmp_path / "work")
    assert work.root is not None
    for i in range(3):
        commit_files(work, {f"t{i}.mid": f"{i}\n".encode()}, f"t{i}", sign=False)
        assert muse("push", str(remote), "main", cwd=work.root).exit_code == 0

    def push_now(at: str) -> None:
        if at == "stored":  # the folded pack is stored, refs.json not swapped yet
            commit_files(work, {"late.mid": b"late"}, "late", sign=False)
            assert muse("push", str(remote), "main", cwd=work.root).exit_code == 0

    report = BareRemote(remote, hook=push_now).gc(prune="now")
    assert report.folded_packs == 3
    view = RemoteRepository(remote)
    head = Repository.find(work.root).head()
    assert view.refs.read("refs/heads/main") == head and verify_repository(view).ok
    assert len(view.doc.packs) == 2  # the fold, and the late push's own pack
