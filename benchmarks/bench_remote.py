#!/usr/bin/env python3
"""Push, clone and incremental-push timings for Muse against git, on the seed-shaped workload.

    .venv/bin/python benchmarks/bench_remote.py [WORK] [--runs 5] [--profile]

WORK (default ./bench-work, git-ignored) caches the source repositories:
`muse-src` (replayed with /work/shared/bench/workload.py, a few minutes, once)
and `git-src` (the same history through `git fast-import`). Every figure is a
whole-process median measured in this run, so the ratios compare like with like:

    fresh push   `muse push DIR main` to an empty `muse init --bare` directory
                 vs `git push file://DIR.git main` to an empty bare repo     target ≤ 1.0x
    clone        `muse clone DIR` vs `git clone --no-local`                  target ≤ 1.5x
    local clone  the same `muse clone DIR` vs `git clone` (local: hard links) target ≤ 1.5x
    2,000 files  one commit of 2,000 small files, local clone vs `git clone`  target ≤ 1.5x
    incremental  one new commit pushed on top of the whole history           target < 0.3 s
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKLOAD = Path(os.environ.get("MUSE_BENCH_WORKLOAD", "/work/shared/bench/workload.py"))
MUSE = [str(Path(sys.executable).parent / "muse")]
GIT_ID = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
          "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.org"}


def run(cmd: list[str], cwd: Path, env: dict[str, str], *, quiet: bool = True) -> None:
    out = subprocess.DEVNULL if quiet else None
    done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr.decode()}")


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    run(cmd, cwd, env)
    return time.perf_counter() - start


def muse_env(work: Path) -> dict[str, str]:
    env = {**os.environ, "MUSE_CONFIG_DIR": str(work / "config"), "CI": "1"}
    # An installed Muse runs from compiled bytecode; without it every process would
    # recompile the modules that changed and time the compiler, not Muse.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("MUSE_AUTHOR_NAME", None)
    env.pop("MUSE_AUTHOR_EMAIL", None)
    return env


def git_env() -> dict[str, str]:
    return {**os.environ, **GIT_ID, "GIT_CONFIG_NOSYSTEM": "1"}


# -- the cached sources ------------------------------------------------------------------


def shape(args: argparse.Namespace) -> list[str]:
    return ["--commits", str(args.commits), "--objects", str(args.objects),
            "--seed", str(args.seed)]


def marker_ok(marker: Path, args: argparse.Namespace) -> bool:
    want = f"{args.commits} {args.objects} {args.seed}"
    return marker.exists() and marker.read_text().strip() == want


def ensure_identity(work: Path, env: dict[str, str]) -> None:
    if (work / "config" / "config").exists():
        return
    (work / "config").mkdir(parents=True, exist_ok=True)
    run([*MUSE, "config", "--global", "user.name", "Bench"], work, env)
    run([*MUSE, "config", "--global", "user.email", "bench@example.org"], work, env)
    run([*MUSE, "keys", "generate"], work, env)


def ensure_muse_source(work: Path, args: argparse.Namespace, env: dict[str, str]) -> Path:
    src, marker = work / "muse-src", work / "muse-src.complete"
    if src.is_dir() and marker_ok(marker, args):
        return src
    print(f"building {src} (replaying {args.commits} commits: a few minutes, once)")
    building = work / "muse-src.tmp"
    shutil.rmtree(building, ignore_errors=True)
    shutil.rmtree(src, ignore_errors=True)
    building.mkdir(parents=True)
    run([*MUSE, "init"], building, env)
    run([sys.executable, str(WORKLOAD), "replay", *shape(args), str(building), "--",
         *MUSE, "commit", "-m", "{msg}"], work, env)
    building.rename(src)
    marker.write_text(f"{args.commits} {args.objects} {args.seed}\n")
    return src


def ensure_git_source(work: Path, args: argparse.Namespace) -> Path:
    src, marker = work / "git-src.git", work / "git-src.git.complete"
    if src.is_dir() and marker_ok(marker, args):
        return src
    print(f"building {src} (git fast-import)")
    shutil.rmtree(src, ignore_errors=True)
    run(["git", "init", "--bare", "-q", "-b", "main", str(src)], work, git_env())
    stream = subprocess.Popen([sys.executable, str(WORKLOAD), "fast-import", *shape(args)],
                              stdout=subprocess.PIPE)
    done = subprocess.run(["git", "fast-import", "--quiet"], cwd=src, stdin=stream.stdout,
                          env=git_env())
    if stream.wait() != 0 or done.returncode != 0:
        sys.exit("git fast-import failed")
    marker.write_text(f"{args.commits} {args.objects} {args.seed}\n")
    return src


# -- the measurements ----------------------------------------------------------------------


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


def bench_fresh_push(runs: Path, muse_src: Path, git_src: Path, n: int, menv: dict[str, str],
                     genv: dict[str, str]) -> tuple[list[float], list[float]]:
    muse_times, git_times = [], []
    for _ in range(n):
        target = fresh_dir(runs / "remote.muse")
        run([*MUSE, "init", "--bare", str(target)], runs, menv)
        muse_times.append(timed([*MUSE, "push", str(target), "main"], muse_src, menv))
        gtarget = fresh_dir(runs / "remote.git")
        run(["git", "init", "--bare", "-q", "-b", "main", str(gtarget)], runs, genv)
        git_times.append(timed(["git", "--git-dir", str(git_src), "push", "-q",
                                f"file://{gtarget}", "main"], runs, genv))
    return muse_times, git_times


def bench_clone(runs: Path, n: int, menv: dict[str, str],
                genv: dict[str, str]) -> tuple[list[float], list[float], list[float]]:
    """Muse's clone of a local path, git's with --no-local, and git's local (hard links)."""
    muse_times, git_times, git_local_times = [], [], []
    for _ in range(n):
        dest = fresh_dir(runs / "clone-muse")
        muse_times.append(timed([*MUSE, "clone", str(runs / "remote.muse"), str(dest)],
                                runs, menv))
        gdest = fresh_dir(runs / "clone-git")
        git_times.append(timed(["git", "clone", "-q", "--no-local", str(runs / "remote.git"),
                                str(gdest)], runs, genv))
        ldest = fresh_dir(runs / "clone-git-local")
        git_local_times.append(timed(["git", "clone", "-q", str(runs / "remote.git"),
                                      str(ldest)], runs, genv))
    shutil.rmtree(runs / "clone-git-local", ignore_errors=True)
    return muse_times, git_times, git_local_times


def bench_clone_files(runs: Path, files: int, n: int, menv: dict[str, str],
                      genv: dict[str, str]) -> tuple[list[float], list[float]]:
    """One commit of `files` small files: Muse's local clone against git's (hard links)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_local import build_tree

    base = fresh_dir(runs / f"tree-{files}")
    for kind in ("muse", "git"):
        tree = base / kind
        build_tree(tree, files)
        if kind == "muse":
            run([*MUSE, "init"], tree, menv)
            run([*MUSE, "commit", "-m", "takes"], tree, menv)
            run([*MUSE, "init", "--bare", str(base / "remote.muse")], base, menv)
            run([*MUSE, "push", str(base / "remote.muse"), "main"], tree, menv)
        else:
            run(["git", "init", "-q", "-b", "main"], tree, genv)
            run(["git", "add", "-A"], tree, genv)
            run(["git", "commit", "-q", "-m", "takes"], tree, genv)
            run(["git", "clone", "-q", "--bare", str(tree), str(base / "remote.git")], base, genv)
    muse_times, git_times = [], []
    for _ in range(n):
        dest = fresh_dir(base / "clone-muse")
        muse_times.append(timed([*MUSE, "clone", str(base / "remote.muse"), str(dest)],
                                base, menv))
        gdest = fresh_dir(base / "clone-git")
        git_times.append(timed(["git", "clone", "-q", str(base / "remote.git"), str(gdest)],
                               base, genv))
    shutil.rmtree(base, ignore_errors=True)
    return muse_times, git_times


def new_file(tree: Path, i: int) -> None:
    # Fresh bytes each time: a new object, as a real edit would make.
    (tree / "tracks" / f"bench_inc_{i:03d}.mid").write_bytes(os.urandom(12 << 10))


def bench_incremental(runs: Path, n: int, menv: dict[str, str],
                      genv: dict[str, str]) -> tuple[list[float], list[float]]:
    mtree, gtree = runs / "clone-muse", runs / "clone-git"
    muse_times, git_times = [], []
    for i in range(n):
        new_file(mtree, i)
        run([*MUSE, "commit", "-m", f"incremental {i}"], mtree, menv)
        muse_times.append(timed([*MUSE, "push"], mtree, menv))
        new_file(gtree, i)
        run(["git", "add", "-A"], gtree, genv)
        run(["git", "commit", "-q", "-m", f"incremental {i}"], gtree, genv)
        git_times.append(timed(["git", "push", "-q", "origin", "main"], gtree, genv))
    return muse_times, git_times


def check_pushed(runs: Path, muse_src: Path, menv: dict[str, str]) -> None:
    """A benchmark of a push that silently sent nothing would be worthless: compare heads."""
    def ref(cmd: list[str], cwd: Path) -> str:
        return subprocess.run(cmd, cwd=cwd, env=menv, capture_output=True,
                              text=True, check=True).stdout.split()[0]

    local = (muse_src / ".muse" / "refs" / "heads" / "main").read_text().strip()
    remote = ref([*MUSE, "ls-remote", str(runs / "remote.muse"), "--heads"], runs)
    if local != remote:
        sys.exit(f"push check failed: local main {local[:12]} but remote main {remote[:12]}")


def profile_push(runs: Path, muse_src: Path, menv: dict[str, str]) -> None:
    target = fresh_dir(runs / "remote-profile.muse")
    run([*MUSE, "init", "--bare", str(target)], runs, menv)
    out = runs / "push.prof"
    run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "muse", "push", str(target),
         "main"], muse_src, menv)
    import pstats

    print("\nprofile of one fresh `muse push` (cumulative, top 30):")
    pstats.Stats(str(out)).sort_stats("cumulative").print_stats(30)
    pstats.Stats(str(out)).sort_stats("tottime").print_stats(20)


# -- the report -------------------------------------------------------------------------------


def report(name: str, muse_times: list[float], git_times: list[float],
           judge: Callable[[float, float], tuple[str, bool]]) -> bool:
    m, g = statistics.median(muse_times), statistics.median(git_times)
    target, ok = judge(m, g)
    print(f"{name:<18} muse {m:7.3f} s   git {g:7.3f} s   ratio {m / g:5.2f}x   "
          f"target {target:<10} {'ok' if ok else 'MISSED'}", flush=True)
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", nargs="?", type=Path, default=ROOT / "bench-work")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--commits", type=int, default=1024)
    ap.add_argument("--objects", type=int, default=5139)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--files", type=int, default=2000, help="files in the one-commit clone case")
    ap.add_argument("--profile", action="store_true", help="Also cProfile one fresh push.")
    args = ap.parse_args()

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    menv, genv = muse_env(work), git_env()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "muse"),
                    str(ROOT / "remotes")], env=menv, check=True, stdout=subprocess.DEVNULL)
    ensure_identity(work, menv)
    muse_src = ensure_muse_source(work, args, menv)
    git_src = ensure_git_source(work, args)
    runs = fresh_dir(work / "remote-runs")
    runs.mkdir()

    print(f"workload: {args.commits} commits, {args.objects} objects, seed {args.seed}; "
          f"{args.runs} runs each, whole-process medians")
    push_m, push_g = bench_fresh_push(runs, muse_src, git_src, args.runs, menv, genv)
    check_pushed(runs, muse_src, menv)
    results = [report("fresh push", push_m, push_g, lambda m, g: ("≤ 1.0x", m <= g))]
    clone_m, clone_g, clone_l = bench_clone(runs, args.runs, menv, genv)
    results.append(report("clone", clone_m, clone_g, lambda m, g: ("≤ 1.5x", m <= 1.5 * g)))
    results.append(report("local clone", clone_m, clone_l,
                          lambda m, g: ("≤ 1.5x", m <= 1.5 * g)))
    files_m, files_g = bench_clone_files(runs, args.files, args.runs, menv, genv)
    results.append(report(f"clone {args.files} files", files_m, files_g,
                          lambda m, g: ("≤ 1.5x", m <= 1.5 * g)))
    inc_m, inc_g = bench_incremental(runs, args.runs, menv, genv)
    results.append(report("incremental push", inc_m, inc_g, lambda m, g: ("< 0.3 s", m < 0.3)))
    print("raw (s): " + "; ".join(
        f"{name} muse {[round(t, 3) for t in m]} git {[round(t, 3) for t in g]}"
        for name, m, g in (("push", push_m, push_g), ("clone", clone_m, clone_g),
                           ("local clone", clone_m, clone_l),
                           (f"clone {args.files} files", files_m, files_g),
                           ("incremental", inc_m, inc_g))))
    if args.profile:
        profile_push(runs, muse_src, menv)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
