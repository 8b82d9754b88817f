"""`log` with ranges, paths and the graph, against git, on a branchy history.

Run:  .venv/bin/python benchmarks/bench_log.py [--quick] [--commits N]

The history: N commits over a 2,000-file tree, every tenth on a side branch
merged back, each touching five files in one of 20 folders. Built once per
run with both tools (`muse commit` / `git commit` per commit); each figure is
the median of several whole-process runs. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FOLDERS = 20
FILES_PER_FOLDER = 100


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def touch(root: Path, step: int) -> None:
    folder = root / f"part{step % FOLDERS:02d}"
    folder.mkdir(exist_ok=True)
    for k in range(5):
        (folder / f"f{(step * 7 + k) % FILES_PER_FOLDER:03d}.txt").write_text(f"{step}-{k}\n")


def build(root: Path, commits: int, tool: list[str], env: dict[str, str], *, git: bool) -> None:
    root.mkdir()
    for i in range(FOLDERS):
        folder = root / f"part{i:02d}"
        folder.mkdir()
        for j in range(FILES_PER_FOLDER):
            (folder / f"f{j:03d}.txt").write_text(f"start {i} {j}\n")
    record = ([*tool, "add", "-A"],) if git else ()
    commit = [*tool, "commit", "-q", "-m"] if git else [*tool, "commit", "--unsigned", "-m"]
    run([*tool, "init", *(["-q", "-b", "main"] if git else [])], root, env)
    for cmd in record:
        run(cmd, root, env)
    run([*commit, "start"], root, env)
    for step in range(1, commits):
        quiet = ["-q"] if git else []
        if step % 10 == 1:
            run([*tool, "switch", *quiet, "-c", f"side{step}"], root, env)
        touch(root, step)
        for cmd in record:
            run(cmd, root, env)
        run([*commit, f"c{step}"], root, env)
        if step % 10 == 3:
            run([*tool, "switch", *quiet, "main"], root, env)
            run([*tool, "merge", *quiet, "--no-ff", "-m", f"merge {step}", f"side{step - 2}"],
                root, env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="100 commits, 3 runs")
    parser.add_argument("--commits", type=int, default=400)
    args = parser.parse_args()
    commits, runs = (100, 3) if args.quick else (args.commits, 7)
    scratch = Path(tempfile.mkdtemp(prefix="muse-bench-log-"))
    env = dict(os.environ, MUSE_CONFIG_DIR=str(scratch / "config"), GIT_CONFIG_GLOBAL="/dev/null",
               GIT_CONFIG_NOSYSTEM="1", MUSE_AUTHOR_NAME="Bench", MUSE_AUTHOR_EMAIL="b@e",
               GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="b@e", GIT_COMMITTER_NAME="Bench",
               GIT_COMMITTER_EMAIL="b@e", GIT_PAGER="cat")
    muse = [sys.executable, "-m", "muse"]
    try:
        run([*muse, "keys", "generate"], scratch, env)  # merges are signed
        build(scratch / "muse", commits, muse, env, git=False)
        build(scratch / "git", commits, ["git"], env, git=True)
        cases = [
            ("log --oneline", ["log", "--oneline"]),
            ("log --oneline -- part07", ["log", "--oneline", "--", "part07"]),
            ("log --oneline side11..main", ["log", "--oneline", "side11..main"]),
            ("log --graph --oneline", ["log", "--graph", "--oneline"]),
            ("log --oneline --decorate", ["log", "--oneline", "--decorate"]),
        ]
        print(f"{commits} commits, {FOLDERS * FILES_PER_FOLDER} files; median of {runs} runs")
        print(f"{'command':<32}{'muse s':>9}{'git s':>9}{'ratio':>8}")
        for label, cmd in cases:
            times: dict[str, list[float]] = {"muse": [], "git": []}
            for _ in range(runs):  # interleaved, so load drifts hit both
                times["muse"].append(run([*muse, *cmd], scratch / "muse", env))
                times["git"].append(run(["git", *cmd], scratch / "git", env))
            m, g = statistics.median(times["muse"]), statistics.median(times["git"])
            print(f"{label:<32}{m:9.3f}{g:9.3f}{m / g:7.1f}x")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
