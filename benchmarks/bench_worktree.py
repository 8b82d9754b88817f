"""Working-tree benchmark: `switch` rewriting a 10,000-file tree, and `status` with ignore
rules, against git in the same run.

Run:  .venv/bin/python benchmarks/bench_worktree.py [--quick] [--files N]

Every figure is a whole process (`python -m muse …`, `git …`), the median of
several runs on identical trees. Not a test: nothing here asserts, it prints figures.
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

from bench_local import build_tree as build_local_tree

IGNORE_LINES = ["*.log", "build/", "/out", "**/cache/**", "*.tmp", "!keep.tmp",
                "stems/**/*.bak", "take*a*b*.wav"]


def build_tree(root: Path, files: int, flavour: int) -> None:
    """bench_local's tree (`flavour` changes every file's bytes), plus each tool's ignores."""
    build_local_tree(root, files, seed=flavour, max_size=2048)
    # Each tool ignores the other's folder, so both see the same tree.
    (root / ".museignore").write_text("\n".join([*IGNORE_LINES, "/.git/"]) + "\n")
    (root / ".gitignore").write_text("\n".join([*IGNORE_LINES, "/.muse/"]) + "\n")


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2,000 files, 3 runs")
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    files, runs = (2_000, 3) if args.quick else (args.files, 5)
    scratch = Path(tempfile.mkdtemp(prefix="muse-bench-wt-"))
    env = dict(os.environ, MUSE_CONFIG_DIR=str(scratch / "config"), GIT_CONFIG_GLOBAL="/dev/null",
               GIT_CONFIG_NOSYSTEM="1", MUSE_AUTHOR_NAME="Bench", MUSE_AUTHOR_EMAIL="b@e",
               GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="b@e", GIT_COMMITTER_NAME="Bench",
               GIT_COMMITTER_EMAIL="b@e")
    muse = [sys.executable, "-m", "muse"]
    try:
        repo = scratch / "repo"
        repo.mkdir()
        build_tree(repo, files, 1)
        for cmd in ([*muse, "init"], ["git", "init", "-q", "-b", "main"],
                    [*muse, "commit", "--unsigned", "-m", "a"], ["git", "add", "-A"],
                    ["git", "commit", "-q", "-m", "a"],
                    [*muse, "switch", "-c", "b"], ["git", "switch", "-q", "-c", "b"]):
            run(cmd, repo, env)
        for child in repo.iterdir():
            if child.name.startswith("dir"):
                shutil.rmtree(child)
        build_tree(repo, files, 2)
        for cmd in ([*muse, "commit", "--unsigned", "-m", "b"], ["git", "add", "-A"],
                    ["git", "commit", "-q", "-m", "b"]):
            run(cmd, repo, env)
        # git's index and Muse's stat cache are both warm: each switch rewrites every file.
        figures = {}
        for tool, to_a, to_b in (("muse", [*muse, "switch", "main"], [*muse, "switch", "b"]),
                                 ("git", ["git", "switch", "-q", "main"],
                                  ["git", "switch", "-q", "b"])):
            times = []
            for _ in range(runs):
                times.append(run(to_a, repo, env))
                times.append(run(to_b, repo, env))
            figures[f"switch ({files} files rewritten)", tool] = statistics.median(times)
        for tool, cmd in (("muse", [*muse, "status"]), ("git", ["git", "status"])):
            figures[f"status ({len(IGNORE_LINES)} ignore rules)", tool] = statistics.median(
                run(cmd, repo, env) for _ in range(runs))
        for what in dict.fromkeys(name for name, _ in figures):
            m, g = figures[what, "muse"], figures[what, "git"]
            print(f"{what:40s} muse {m:6.3f} s   git {g:6.3f} s   ratio {m / g:5.1f}x")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
