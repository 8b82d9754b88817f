"""Working-tree commands on a large stem: `restore`, `stash` + `stash pop`, against git.

Run:  .venv/bin/python benchmarks/bench_treeops.py [--quick] [--mb N]

Each figure is one whole process (`python -m muse …`, `git …`): wall time and
peak resident memory (from wait4), so a command that read the stem into memory
whole would show it. The stem is random bytes (music audio barely compresses).
Not a test: nothing here asserts, it prints figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """(seconds, peak RSS in MB) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss // 1024


def write_stem(path: Path, megabytes: int, seed: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        for i in range(megabytes):
            out.write(block[:8] + i.to_bytes(8, "big") + seed.to_bytes(8, "big") + block[24:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a 128 MB stem")
    parser.add_argument("--mb", type=int, default=1024, help="stem size in MB (default 1024)")
    args = parser.parse_args()
    megabytes = 128 if args.quick else args.mb
    scratch = Path(tempfile.mkdtemp(prefix="muse-bench-treeops-"))
    env = dict(os.environ, MUSE_CONFIG_DIR=str(scratch / "config"), GIT_CONFIG_GLOBAL="/dev/null",
               GIT_CONFIG_NOSYSTEM="1", MUSE_AUTHOR_NAME="Bench", MUSE_AUTHOR_EMAIL="b@e",
               GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="b@e", GIT_COMMITTER_NAME="Bench",
               GIT_COMMITTER_EMAIL="b@e")
    muse = [sys.executable, "-m", "muse"]
    tools = {"muse": muse, "git": ["git"]}
    try:
        for name in tools:
            repo = scratch / name
            repo.mkdir()
            write_stem(repo / "stem.wav", megabytes, 1)
            setup = ([[*muse, "init"], [*muse, "commit", "--unsigned", "-m", "a"]]
                     if name == "muse" else
                     [["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                      ["git", "commit", "-q", "-m", "a"]])
            for cmd in setup:
                measure(cmd, repo, env)
        print(f"stem: {megabytes} MB of random bytes")
        print(f"{'step':<28}{'muse s':>9}{'muse MB':>9}{'git s':>9}{'git MB':>9}")
        steps = [
            ("restore (edited stem)", ["restore", "stem.wav"], ["restore", "stem.wav"]),
            ("stash (edited stem)", ["stash"], ["stash"]),
            ("stash pop", ["stash", "pop"], ["stash", "pop"]),
        ]
        for label, muse_args, git_args in steps:
            row = []
            for name, base in tools.items():
                repo = scratch / name
                if label != "stash pop":
                    write_stem(repo / "stem.wav", megabytes, 2)
                    os.utime(repo / "stem.wav", (time.time() + 5, time.time() + 5))
                # An edit is long on disk by the time one restores it: flush it, so neither
                # tool is slowed by the kernel throttling writes behind fresh dirty pages.
                os.sync()
                seconds, peak = measure([*base, *(muse_args if name == "muse" else git_args)],
                                        repo, env)
                row += [f"{seconds:9.2f}", f"{peak:9d}"]
            print(f"{label:<28}{''.join(row)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
