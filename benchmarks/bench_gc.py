"""Benchmark: `muse gc` on a repository whose history arrived as 1,000 small packs, against
`git gc` on the same history in as many git packs, in the same run.

Run:  .venv/bin/python benchmarks/bench_gc.py [--packs 1000] [--file-bytes 2000]

Each of N commits adds one file; the Muse repository receives each commit as its
own bundle (as N fetches or unbundles leave it: N packs), the git repository gets
each commit's objects as its own pack (`git pack-objects`). Measured:

  gc         wall time of `muse gc` (in-process `gc.collect`) and `git gc --prune=now`
  storage    bytes of the object store before and after
  lookups    per-id time of `has()` for present and absent ids (best of 5), and one batched
             `missing()` over every id, before and after (the multi-pack index keeps
             them flat, so gc should change little: it is the pack count, the
             storage and the verify time that gc brings down)
  verify     `muse verify` (every object re-hashed) before and after

Not a test: nothing here asserts, it prints a table.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from muse import gc
from muse.bundle import plan_bundle, write_bundle
from muse.committing import commit_worktree
from muse.fsck import verify_repository
from muse.receive import receive_bundle
from muse.repo import Repository

SAMPLE = 2000


def build_muse(root: Path, packs: int, file_bytes: int) -> tuple[Repository, list[str]]:
    """A repository holding `packs` commits, each received as its own pack."""
    source = Repository.init(root / "source")
    assert source.root is not None
    rng = random.Random(7)
    commits: list[str] = []
    for i in range(packs):
        (source.root / f"take{i:05d}.mid").write_bytes(rng.randbytes(file_bytes))
        commits.append(commit_worktree(source, f"take {i}", sign=False).id)
    target = Repository.init(root / "target", bare=True)
    for i, oid in enumerate(commits):
        plan = plan_bundle(source.graph, {"refs/heads/main": oid}, [oid], commits[i - 1 : i])
        out = io.BytesIO()
        write_bundle(source.store, plan, out)
        receive_bundle(target.store, io.BytesIO(out.getvalue()))
        target.refs.update("refs/heads/main", commits[i - 1] if i else None, oid, "fetch")
    return Repository.find(root / "target"), commits


def git(*args: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@x")
    return subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, check=True,
                          capture_output=True).stdout


def build_git(root: Path, packs: int, file_bytes: int) -> Path:
    """The same history in git: one pack per commit, no loose objects."""
    repo = root / "git"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    git("config", "gc.auto", "0", cwd=repo)
    rng = random.Random(7)
    previous = None
    for i in range(packs):
        (repo / f"take{i:05d}.mid").write_bytes(rng.randbytes(file_bytes))
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", f"take {i}", cwd=repo)
        head = git("rev-parse", "HEAD", cwd=repo).decode().strip()
        span = head if previous is None else f"{previous}..{head}"
        objects = git("rev-list", "--objects", span, cwd=repo)
        git("pack-objects", "-q", ".git/objects/pack/pack", cwd=repo, stdin=objects)
        previous = head
    git("prune-packed", cwd=repo)
    return repo


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def lookups(repo: Repository, present: list[str]) -> tuple[float, float, float, float]:
    """µs per id: has(present), has(absent); ms for one missing() over every id; and ms to
    open the store (its first lookup reads the multi-pack index), as every command does."""
    opening = min(timed(lambda: Repository.find(repo.muse_dir).store.has("00" * 32))
                  for _ in range(5)) * 1e3
    store = Repository.find(repo.muse_dir).store
    store.has("00" * 32)  # opening the index is not a lookup
    absent = [f"{i:064x}" for i in range(len(present))]

    def best(run: object, per: int) -> float:
        return min(timed(run) for _ in range(5)) / per

    has_present = best(lambda: [store.has(oid) for oid in present], len(present)) * 1e6
    has_absent = best(lambda: [store.has(oid) for oid in absent], len(absent)) * 1e6
    return (has_present, has_absent, best(lambda: store.missing(present + absent), 1) * 1e3,
            opening)


def timed(run: object) -> float:
    start = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=1000)
    parser.add_argument("--file-bytes", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("MUSE_AUTHOR_NAME", "bench")
    os.environ.setdefault("MUSE_AUTHOR_EMAIL", "bench@example.org")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["MUSE_CONFIG_DIR"] = str(root / "config")
        started = time.perf_counter()
        repo, _ = build_muse(root, args.packs, args.file_bytes)
        git_repo = build_git(root, args.packs, args.file_bytes)
        print(f"built {args.packs} commits as {args.packs} packs each side in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
        present = list(repo.store.packed_ids())[:SAMPLE]
        before = {"packs": len(repo.store.list_packs()), "bytes": tree_bytes(repo.muse_dir),
                  "lookups": lookups(repo, present),
                  "verify": timed(lambda: verify_repository(Repository.find(repo.muse_dir)))}
        git_before = tree_bytes(git_repo / ".git" / "objects")
        git_packs_before = len(list((git_repo / ".git/objects/pack").glob("*.pack")))
        muse_gc = timed(lambda: gc.collect(Repository.find(repo.muse_dir),
                                           cutoff=gc.prune_cutoff("now")))
        git_gc = timed(lambda: git("gc", "-q", "--prune=now", cwd=git_repo))
        after = {"packs": len(repo.store.list_packs()), "bytes": tree_bytes(repo.muse_dir),
                 "lookups": lookups(repo, present),
                 "verify": timed(lambda: verify_repository(Repository.find(repo.muse_dir)))}
        git_after = tree_bytes(git_repo / ".git" / "objects")
        git_packs_after = len(list((git_repo / ".git/objects/pack").glob("*.pack")))
    print(f"{'':24}{'before':>14}{'after':>14}")
    print(f"{'muse packs':24}{before['packs']:>14}{after['packs']:>14}")
    print(f"{'git packs':24}{git_packs_before:>14}{git_packs_after:>14}")
    print(f"{'muse store bytes':24}{before['bytes']:>14,}{after['bytes']:>14,}")
    print(f"{'git objects bytes':24}{git_before:>14,}{git_after:>14,}")
    for n, label in enumerate(("has(present) µs/id", "has(absent) µs/id", "missing(all) ms",
                               "open store ms")):
        print(f"{label:24}{before['lookups'][n]:>14.2f}{after['lookups'][n]:>14.2f}")
    print(f"{'muse verify s':24}{before['verify']:>14.3f}{after['verify']:>14.3f}")
    print(f"gc: muse {muse_gc:.3f} s, git {git_gc:.3f} s (muse/git {muse_gc / git_gc:.2f}x)")


if __name__ == "__main__":
    main()
